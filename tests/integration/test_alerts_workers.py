"""The daily scan in worker processes finds the same alerts, in the same order, as the scan in one process."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path

import pytest

from coverage_tracker.domain.payers import default_book, load_policy_book
from coverage_tracker.services import alerts as daily
from coverage_tracker.store import alerts_store
from coverage_tracker.store.db import write_transaction

SCAN = date(2026, 3, 2)
GENERATE = Path(__file__).resolve().parents[2] / "benchmarks" / "generate.py"
ACME = """
[payers.acme]
version = "2026-01"
annual_cap = 30
approaching_cap_threshold = 25
unit_caps = { "97810" = 3 }
"""


@pytest.fixture
def clinic(db_url: str) -> int:
    """A clinic of 120 patients as the benchmarks generate them (bookings, sessions, assessments, voids); its id."""
    spec = importlib.util.spec_from_file_location("benchmark_generate", GENERATE)
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    generate.generate(db_url, 1, 120, SCAN)
    return 1


def test_a_scan_in_two_worker_processes_gives_the_alerts_of_the_scan_in_one(engine, clinic, tmp_path, monkeypatch):
    plans = tmp_path / "plans.toml"
    plans.write_text(ACME)
    policies = load_policy_book(plans)
    alone = daily.scan_clinic(engine, policies, clinic, SCAN, 14, workers=1)
    with write_transaction(engine) as session:  # yesterday's alerts of every other patient: no longer new
        alerts_store.insert_alerts(session, clinic, SCAN - timedelta(days=1), alone[::2], daily.utcnow())
    alone = daily.scan_clinic(engine, policies, clinic, SCAN, 14, workers=1)
    assert len({a["beneficiary_id"] for a in alone}) > 20 and len({a["kind"] for a in alone}) > 3
    assert 0 < sum(a["new"] for a in alone) < len(alone)

    ranges: list[int] = []
    in_workers = daily._scan_in_workers
    monkeypatch.setattr(daily, "_scan_in_workers", lambda *args: ranges.append(len(args[-1])) or in_workers(*args))
    monkeypatch.setattr(daily, "WORKERS_FROM", 1)
    assert daily.scan_clinic(engine, policies, clinic, SCAN, 14, page_size=7, workers=2) == alone
    assert ranges == [2 * daily.RANGES_PER_WORKER]


def test_a_small_clinic_is_scanned_without_worker_processes(engine, clinic, monkeypatch):
    monkeypatch.setattr(daily, "_scan_in_workers", lambda *args: pytest.fail("a worker process was started"))
    assert daily.scan_clinic(engine, default_book(), clinic, SCAN, 14, workers=2)
