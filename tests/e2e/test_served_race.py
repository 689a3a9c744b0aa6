"""`coverage-tracker serve` as a subprocess with two workers: eight desks book the same date at once, exactly one gets it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from coverage_tracker.services.context import local_today
from coverage_tracker.store.api_keys import create_api_key
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction
from tests.integration.conftest import (  # noqa: F401 - the database fixtures, shared with the integration tests
    backend,
    db_url,
    postgres_databases,
    sqlite_template,
)

DESKS = 8
TODAY = local_today("America/New_York")


@dataclass
class Served:
    """A running `coverage-tracker serve`: its base URL and an admin key's headers."""

    url: str
    headers: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready within {timeout} s")


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    engine = create_db_engine(db_url)
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, "Race Clinic")
        key = create_api_key(session, clinic.id, "admin", "race")[1]
    engine.dispose()
    port = free_port()
    command = [str(Path(sys.executable).with_name("coverage-tracker")), "serve", "--port", str(port), "--workers", "2", "--no-scheduler"]
    env = {**os.environ, "COVERAGE_TRACKER_DATABASE_URL": db_url}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield Served(url, {"Authorization": f"Bearer {key}"})
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_eight_desks_booking_the_same_date_get_exactly_one_201_and_seven_409(served: Served):
    with httpx.Client(base_url=served.url, headers=served.headers) as client:
        bid = client.post("/v1/beneficiaries", json={"mbi": "1EG4TE5MK73", "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"}).json()["id"]
        dx = {"icd10_code": "M54.50", "onset_date": (TODAY - timedelta(days=300)).isoformat(), "recorded_on": (TODAY - timedelta(days=200)).isoformat()}
        assert client.post(f"/v1/beneficiaries/{bid}/diagnoses", json=dx).status_code == 201
    day = (TODAY + timedelta(days=7)).isoformat()
    barrier = threading.Barrier(DESKS)
    answers: list[httpx.Response | None] = [None] * DESKS

    def desk(i: int) -> None:
        with httpx.Client(base_url=served.url, headers=served.headers, timeout=30) as client:
            barrier.wait()
            answers[i] = client.post(f"/v1/beneficiaries/{bid}/appointments", json={"date": day})

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(DESKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers if answer is not None)
    assert statuses == [201] + [409] * (DESKS - 1)
    assert all(a.json()["code"] == "SESSION_ALREADY_ON_DATE" for a in answers if a is not None and a.status_code == 409)
    with httpx.Client(base_url=served.url, headers=served.headers) as client:
        events = client.get(f"/v1/beneficiaries/{bid}/events").json()["events"]
    assert [e["type"] for e in events].count("appointment_booked") == 1
