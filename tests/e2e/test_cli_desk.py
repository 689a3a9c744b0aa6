"""`coverage-tracker status` and `check` run as a desk user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from subprocess import CompletedProcess

import pytest

from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx, local_today
from tests.integration.conftest import (  # noqa: F401 - the database fixtures, shared with the integration tests
    backend,
    clinic_id,
    db_url,
    engine,
    postgres_databases,
    run_cli,
    sqlite_template,
)

RunCli = Callable[..., CompletedProcess[str]]
CLINIC = "Test Clinic"
MBI = "1EG4-TE5-MK73"
TODAY = local_today("America/New_York")


@pytest.fixture
def ctx(engine, clinic_id) -> Ctx:
    return Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=TODAY)


@pytest.fixture
def patient(ctx: Ctx) -> str:
    """An eligible patient with no sessions yet: pain for 200 days, diagnosis recorded."""
    bid = beneficiaries.enrol(ctx, mbi=MBI, first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))["id"]
    care.record_diagnosis(ctx, bid, icd10_code="M54.50", onset_date=TODAY - timedelta(days=200), recorded_on=TODAY - timedelta(days=1))
    return bid


def twice_weekly(weeks: int) -> list[date]:
    return sorted(TODAY + timedelta(days=7 * w + offset) for w in range(weeks) for offset in (0, 3))


def test_status_of_an_eligible_patient_is_covered_and_exits_0(run_cli: RunCli, db_url: str, patient: str) -> None:
    result = run_cli("status", "--clinic", CLINIC, "--mbi", MBI.lower(), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "*******MK73" in result.stdout and "1EG4TE5MK73" not in result.stdout
    assert "covered" in result.stdout and "0 of 12" in result.stdout and "M54.50" in result.stdout


def test_check_of_14_twice_weekly_dates_shows_2_needing_an_assessment_and_exits_1(
    run_cli: RunCli, db_url: str, patient: str, ctx: Ctx
) -> None:
    dates = ",".join(d.isoformat() for d in twice_weekly(7))
    result = run_cli("check", "--clinic", CLINIC, "--mbi", MBI, "--dates", dates, db_url=db_url)
    assert result.returncode == 1, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ 20")]
    assert len(rows) == 14
    assert sum("needs assessment" in row for row in rows) == 2 and sum("│ covered" in row for row in rows) == 12

    care.record_assessment(ctx, patient, day=TODAY, outcome="improving")
    again = run_cli("check", "--clinic", CLINIC, "--mbi", MBI, "--dates", dates, db_url=db_url)
    assert again.returncode == 0, again.stdout


def test_status_of_a_booked_day_judges_the_booking(run_cli: RunCli, db_url: str, patient: str, ctx: Ctx) -> None:
    care.book_appointment(ctx, patient, day=TODAY + timedelta(days=1))
    result = run_cli("status", "--clinic", CLINIC, "--mbi", MBI, "--date", (TODAY + timedelta(days=1)).isoformat(), db_url=db_url)
    assert result.returncode == 0, result.stdout
    assert "already booked" in result.stdout and "1 of 12" in result.stdout


def test_a_patient_without_a_diagnosis_is_not_covered_and_exits_1(run_cli: RunCli, db_url: str, ctx: Ctx) -> None:
    beneficiaries.enrol(ctx, mbi="2EG4TE5MK73", first_name="Ann", last_name="Lee", birth_date=date(1948, 2, 3))
    result = run_cli("status", "--clinic", CLINIC, "--mbi", "2EG4TE5MK73", db_url=db_url)
    assert result.returncode == 1
    assert "NOT COVERED" in result.stdout and "none on record" in result.stdout


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "--clinic", CLINIC, "--mbi", "1EG4-TE5-MK7"), "--mbi: must be 11 characters, got 10"),
        (("status", "--clinic", CLINIC, "--mbi", "1SG4TE5MK73"), "--mbi: position 2"),
        (("status", "--clinic", "No Such Clinic", "--mbi", MBI), "--clinic: no clinic named 'No Such Clinic'"),
        (("status", "--clinic", CLINIC, "--mbi", "9EG4TE5MK73"), "no patient with MBI *******MK73"),
        (("status", "--clinic", CLINIC, "--mbi", MBI, "--date", "2026-02-30"), "--date: '2026-02-30' is not a date"),
        (("check", "--clinic", CLINIC, "--mbi", MBI, "--dates", "2026-03-02,soon"), "--dates: 'soon' is not a date"),
        (("check", "--clinic", CLINIC, "--mbi", MBI, "--dates", "1999-12-31"), "dates[0]: 1999-12-31 is before 2000-01-01"),
    ],
)
def test_what_cannot_be_answered_exits_2_naming_what_is_wrong(
    run_cli: RunCli, db_url: str, patient: str, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, db_url=db_url)
    assert result.returncode == 2
    assert message in result.stderr
    assert "1EG4TE5MK73" not in result.stderr + result.stdout
