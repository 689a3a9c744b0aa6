"""The benchmark suite: booking checks against a bare FastAPI endpoint, writes, the daily scan, the policy.

    python benchmarks/run.py --scale small     # 10,000 beneficiaries (SQLite, and PostgreSQL when
                                               # COVERAGE_TRACKER_TEST_POSTGRES_URL is set)
    python benchmarks/run.py --scale full      # 10,000 and 100,000

Prints a table, then as its last line one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate  # noqa: E402
from load import Load, Target, run_load  # noqa: E402

from coverage_tracker.store.db import create_db_engine, normalize_url  # noqa: E402
from coverage_tracker.store.tables import EventRecord, utcnow  # noqa: E402

SCALES = {"tiny": [300], "small": [10_000], "full": [10_000, 100_000]}
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A uvicorn server (2 workers) in a subprocess, stopped on exit."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, health: str = "/healthz"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + health, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start in 60 s")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def hello_server(workers: int) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "uvicorn"), "hello_app:app", "--app-dir", str(ROOT / "benchmarks"), "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return Server(command, {}, port)


def api_server(url: str, workers: int, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "coverage-tracker"), "serve", "--port", str(port), "--workers", str(workers), "--no-scheduler",
               "--no-access-log"]  # as the hello app is served
    return Server(command, {"COVERAGE_TRACKER_DATABASE_URL": url, **(env or {})}, port)


def database_for(backend: str, n: int, today: date, workdir: Path) -> tuple[str, str, list[str], int]:
    """A generated database of n beneficiaries (reused when already there): url, key, sample ids, clinic id."""
    if backend == "sqlite":
        path = workdir / f"bench-{n}-{today.isoformat()}.db"
        url = f"sqlite:///{path}"
        fresh = not path.exists()
    else:
        server = normalize_url(os.environ["COVERAGE_TRACKER_TEST_POSTGRES_URL"])
        name = f"ct_bench_{n}_{today.strftime('%Y%m%d')}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            fresh = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None
            if fresh:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
    if fresh:
        started = time.perf_counter()
        result = generate(url, 1, n, today)
        analyze = create_db_engine(url)
        with analyze.begin() as conn:  # planner statistics, as a live database would have them
            conn.exec_driver_sql("ANALYZE")
        analyze.dispose()
        print(f"  generated {n:,} beneficiaries / {result['events']:,} events on {backend} in {time.perf_counter() - started:.0f} s", flush=True)
    from coverage_tracker.store import api_keys
    from coverage_tracker.store.db import write_transaction

    engine = create_db_engine(url)
    with write_transaction(engine) as session:
        clinic_id = session.execute(sa.text("SELECT id FROM clinics ORDER BY id LIMIT 1")).scalar_one()
        _, key = api_keys.create_api_key(session, clinic_id, "admin", label="benchmark run")
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM beneficiaries WHERE clinic_id = :c"), {"c": clinic_id})]
    engine.dispose()
    return url, key, random.Random(1).sample(ids, min(1000, len(ids))), clinic_id


def check_target(base: str, key: str, ids: list[str], today: date) -> Target:
    day = (today + timedelta(days=3)).isoformat()
    return Target(
        base_url=base,
        paths=[f"/v1/beneficiaries/{i}/booking-checks" for i in ids],
        method="POST",
        body=json.dumps({"dates": [day]}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def measure_checks(server: Server, key: str, ids: list[str], today: date, seconds: float) -> tuple[Load, Load]:
    target = check_target(server.url, key, ids, today)
    run_load(target, 8, 1)  # warm up caches and connection pools
    return run_load(target, 32, seconds), run_load(target, 1, seconds, threads=1)


BOOKING_DAYS = 30


def measure_bookings(server: Server, url: str, key: str, ids: list[str], today: date, seconds: float) -> dict[str, Any]:
    """16 connections booking distinct (beneficiary, date) slots for `seconds`; every 201 must be in the log."""
    events = EventRecord.__table__
    engine = create_db_engine(url)
    with engine.connect() as conn:  # after every booking already made (an earlier run's too), within two years
        latest = conn.execute(sa.select(sa.func.max(events.c.business_date)).where(events.c.type == "appointment_booked")).scalar_one()
    first = max(today + timedelta(days=400), date.fromisoformat(str(latest)[:10]) + timedelta(days=1) if latest else today)
    if first + timedelta(days=BOOKING_DAYS) > today + timedelta(days=730):
        first = today + timedelta(days=400)  # the run's slots may then be taken: they show as errors
    days = [first + timedelta(days=j) for j in range(BOOKING_DAYS)]
    target = Target(
        base_url=server.url,
        paths=[],
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        slots=[(f"/v1/beneficiaries/{bid}/appointments", json.dumps({"date": day.isoformat()})) for day in days for bid in ids],
    )
    started = utcnow()
    load = run_load(target, 16, seconds)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(events.c.type == "appointment_booked", events.c.recorded_at >= started)
        ).scalar_one()
    engine.dispose()
    ok = load.requests - load.errors
    return {"book_wps": load.rps * ok / load.requests if load.requests else 0.0, "book_ok": ok, "book_errors": load.errors,
            "book_lost": max(0, ok - stored), "book_in_flight_at_end": max(0, stored - ok)}


# The peak RSS counts the scan's worker processes as running side by side (each at the largest one's peak) and
# the children still alive (multiprocessing's resource tracker) at their own peak.
SCAN_SCRIPT = """
import json, os, resource, sys, time
from datetime import date
from pathlib import Path
from coverage_tracker.config import get_settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services.alerts import scan_clinic
from coverage_tracker.store.db import create_db_engine

def live_children_peak_kb():
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields["PPid"]) == os.getpid():
            total += int(fields["VmHWM"].split()[0])
    return total

if __name__ == "__main__":
    engine = create_db_engine(sys.argv[1])
    started = time.perf_counter()
    alerts = scan_clinic(engine, default_book(), int(sys.argv[2]), date.fromisoformat(sys.argv[3]), 14)
    seconds = time.perf_counter() - started
    own, worker = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    workers = get_settings().scan_workers if worker else 0
    print(json.dumps({"seconds": seconds, "alerts": len(alerts), "workers": workers,
                      "peak_rss_mb": (own + workers * worker + live_children_peak_kb()) / 1024}))
"""


def measure_scan(url: str, clinic_id: int, today: date) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", SCAN_SCRIPT, url, str(clinic_id), today.isoformat()],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_policy(quick: bool) -> dict[str, float]:
    args = [sys.executable, str(ROOT / "benchmarks" / "policy.py")] + (["--quick"] if quick else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


class _Rows(list):
    """The table's rows, each also printed as soon as it is measured (a crash keeps what was measured)."""

    def append(self, row: tuple[str, str, str]) -> None:
        print("  " + "  ".join(row), flush=True)
        super().append(row)


def main() -> None:
    parser = argparse.ArgumentParser(description="coverage_tracker benchmarks")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/coverage-tracker-bench"))
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    today = date.today()
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("COVERAGE_TRACKER_TEST_POSTGRES_URL") and not args.sqlite_only else [])
    sizes = SCALES[args.scale]
    rows = _Rows()
    figures: dict[str, Any] = {"scale": args.scale}

    with hello_server(2) as hello:
        target = Target(hello.url, ["/hello"])
        run_load(target, 8, 1)
        hello_load, hello_c1 = run_load(target, 32, args.seconds), run_load(target, 1, args.seconds, threads=1)
    figures.update(hello_rps=round(hello_load.rps), hello_p50_ms_c1=round(hello_c1.p50_ms, 3), load_tool=hello_load.tool)
    rows.append(("hello (bare FastAPI)", "c32 throughput", f"{hello_load.rps:,.0f} req/s"))
    rows.append(("hello (bare FastAPI)", "c1 p50 / p99", f"{hello_c1.p50_ms:.2f} / {hello_c1.p99_ms:.2f} ms"))

    for backend in backends:
        suffix = "" if backend == "sqlite" else "_pg"
        check_rps: dict[int, float] = {}
        for n in sizes:
            print(f"{backend}: {n:,} beneficiaries", flush=True)
            url, key, ids, clinic_id = database_for(backend, n, today, args.workdir)
            label = f"{n // 1000}k" if n >= 1000 else str(n)
            # the scan first: the bookings below add appointments (and so alerts) to the generated clinic
            scan = measure_scan(url, clinic_id, today)
            figures[f"scan_s_{label}{suffix}"] = round(scan["seconds"], 2)
            figures[f"scan_peak_rss_mb_{label}{suffix}"] = round(scan["peak_rss_mb"], 1)
            rows.append((f"{backend} {label}", "daily scan", f"{scan['seconds']:.1f} s, peak RSS {scan['peak_rss_mb']:.0f} MB, {scan['alerts']:,} alerts"))
            # every check reads, decodes and folds the whole stream, as for a patient not asked about lately
            with api_server(url, 2, {"COVERAGE_TRACKER_HISTORY_CACHE_SIZE": "0"}) as cold:
                run_load(check_target(cold.url, key, ids, today), 8, 1)
                cold_load = run_load(check_target(cold.url, key, ids, today), 32, args.seconds)
            rows.append((f"{backend} {label}", "check c32, histories not kept",
                         f"{cold_load.rps:,.0f} req/s ({cold_load.rps / hello_load.rps:.2f}x hello, {cold_load.errors} errors)"))
            figures[f"check_rps_uncached_{label}{suffix}"] = round(cold_load.rps)
            with api_server(url, 2) as api:
                load, c1 = measure_checks(api, key, ids, today, args.seconds)
                check_rps[n] = load.rps
                rows.append((f"{backend} {label}", "check c32 throughput",
                             f"{load.rps:,.0f} req/s ({load.rps / hello_load.rps:.2f}x hello, {load.errors} errors)"))
                rows.append((f"{backend} {label}", "check c1 p50 / p99", f"{c1.p50_ms:.2f} / {c1.p99_ms:.2f} ms"))
                if n == sizes[0]:
                    figures.update({f"check_rps{suffix}": round(load.rps), f"check_ratio{suffix}": round(load.rps / hello_load.rps, 3),
                                    f"check_p50_ms_c1{suffix}": round(c1.p50_ms, 3), f"check_p99_ms_c1{suffix}": round(c1.p99_ms, 3),
                                    f"check_errors{suffix}": load.errors + c1.errors})
                if n == sizes[-1]:
                    figures.update({f"check_rps_{label}{suffix}": round(load.rps), f"check_ratio_{label}{suffix}": round(load.rps / hello_load.rps, 3),
                                    f"check_p99_ms_c1_{label}{suffix}": round(c1.p99_ms, 3)})
                    booking = measure_bookings(api, url, key, ids, today, args.seconds)
                    figures.update({f"{k}{suffix}": round(v, 1) if isinstance(v, float) else v for k, v in booking.items()})
                    rows.append((f"{backend} {label}", "bookings, 16 clients",
                                 f"{booking['book_wps']:,.0f} writes/s ({booking['book_errors']} errors, {booking['book_lost']} lost)"))
        if len(sizes) > 1:
            figures[f"check_ratio_100k_vs_10k{suffix}"] = round(check_rps[sizes[0]] / check_rps[sizes[-1]], 3)

    policy = measure_policy(quick=args.scale == "tiny")
    figures.update(policy)
    rows.append(("policy engine", "us per decision (40 / 400 events)",
                 f"{policy['us_per_decision_40']:.1f} / {policy['us_per_decision_400']:.1f} us"))

    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"\nload tool: {hello_load.tool}; {os.cpu_count()} cores; {args.seconds:.0f} s per load run")
    for what, measure, value in rows:
        print(f"{what:<{width[0]}}  {measure:<{width[1]}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
