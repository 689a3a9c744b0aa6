"""`coverage-tracker serve` logs one line per request unless told `--no-access-log`; the audit trail records /v1 calls either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from coverage_tracker.store.api_keys import create_api_key
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction
from tests.e2e.test_served_race import free_port, wait_until_ready
from tests.integration.conftest import (  # noqa: F401 - the database fixtures, shared with the integration tests
    backend,
    db_url,
    postgres_databases,
    sqlite_template,
)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("flag, logged", [([], True), (["--no-access-log"], False)])
def test_the_access_log_can_be_turned_off_and_the_audit_row_is_written_either_way(db_url: str, flag: list[str], logged: bool) -> None:
    engine = create_db_engine(db_url)
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, "Log Clinic")
        key = create_api_key(session, clinic.id, "admin", "log")[1]
    port = free_port()
    command = [str(Path(sys.executable).with_name("coverage-tracker")), "serve", "--port", str(port), "--no-scheduler", *flag]
    process = subprocess.Popen(command, env={**os.environ, "COVERAGE_TRACKER_DATABASE_URL": db_url},
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process)
        response = httpx.get(f"{url}/v1/beneficiaries/no-such-patient", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 404
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=30)  # uvicorn's access log goes to standard output
    assert ('"GET /v1/beneficiaries/no-such-patient HTTP/1.1" 404' in stdout) is logged
    with engine.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT outcome FROM audit_events WHERE beneficiary_id = 'no-such-patient'")).scalars().all()
    engine.dispose()
    assert outcomes == ["404"]
