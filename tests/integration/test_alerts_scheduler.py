"""The daily job on the clock: 06:30 local time across clock changes, and one e-mail from a fleet of schedulers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from freezegun import freeze_time

from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.scheduler import CATCH_UP_JOB, DAILY_JOB, MISFIRE_GRACE_SECONDS, RETRY_JOB, DailyAlerts, configure, next_alert_run
from coverage_tracker.services import alerts as daily
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx, local_today

from test_alerts import SmtpServer  # the real SMTP server of the alerts tests

NEW_YORK = Settings(timezone="America/New_York", alert_time="06:30")


@pytest.mark.parametrize(
    ("now_utc", "fires"),
    [
        ("2026-03-08 04:00:00", "2026-03-08T06:30:00-04:00"),  # 23:00 EST the evening before clocks go forward
        ("2026-03-08 10:29:00", "2026-03-08T06:30:00-04:00"),  # 06:29 EDT on the day they do
        ("2026-11-01 04:30:00", "2026-11-01T06:30:00-05:00"),  # 00:30 EDT the night clocks go back
        ("2026-11-01 11:29:00", "2026-11-01T06:30:00-05:00"),  # 06:29 EST that morning
        ("2026-11-01 11:31:00", "2026-11-02T06:30:00-05:00"),  # 06:31 EST: tomorrow
    ],
)
def test_the_job_fires_at_half_past_six_local_time_also_on_the_days_clocks_change(now_utc, fires):
    with freeze_time(now_utc, real_asyncio=True):
        fire = next_alert_run(NEW_YORK)
    assert fire.isoformat() == fires


def test_the_job_runs_the_day_only_once_its_alert_time_has_passed():
    job = DailyAlerts(NEW_YORK, engine=None)  # type: ignore[arg-type]
    zone = ZoneInfo("America/New_York")
    with freeze_time("2026-03-08 10:29:59", real_asyncio=True):
        assert job.due_day() is None
    with freeze_time("2026-03-08 10:30:00", real_asyncio=True):
        assert job.due_day() == date(2026, 3, 8)
    assert job.due_day(datetime(2026, 11, 1, 6, 30, tzinfo=zone)) == date(2026, 11, 1)


def test_every_job_coalesces_with_a_misfire_grace_of_hours_in_the_configured_zone():
    scheduler = configure(BackgroundScheduler(timezone=ZoneInfo("America/New_York")), NEW_YORK, engine=None)  # type: ignore[arg-type]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {DAILY_JOB, RETRY_JOB, CATCH_UP_JOB}
    assert all(job.coalesce and job.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 3600 for job in jobs.values())
    assert str(jobs[DAILY_JOB].trigger.timezone) == "America/New_York"


def start_scheduler(db_url: str, smtp_port: int, alert_time: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "COVERAGE_TRACKER_DATABASE_URL": db_url,
        "COVERAGE_TRACKER_SMTP_HOST": "127.0.0.1",
        "COVERAGE_TRACKER_SMTP_PORT": str(smtp_port),
        "COVERAGE_TRACKER_ALERT_TIME": alert_time,
        "COVERAGE_TRACKER_TIMEZONE": "America/New_York",
    }
    command = [str(Path(sys.executable).with_name("coverage-tracker")), "scheduler"]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_scheduler_processes_on_postgresql_send_one_email_for_the_day(engine, db_url, clinic_id, tmp_path):
    fire_at = datetime.now(ZoneInfo("America/New_York")) + timedelta(seconds=5)
    if fire_at.date() != local_today("America/New_York"):
        pytest.skip("too close to midnight in New York")
    today = fire_at.date()
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=today)
    bid = beneficiaries.enrol(ctx, mbi="1EG4TE5AP24", first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))["id"]
    care.book_appointment(ctx, bid, day=today)  # no diagnosis on record: not covered
    daily.set_recipients(engine, clinic_id, ["desk@clinic.example"])
    smtp = SmtpServer()
    smtp.start()
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    # both processes start before the alert time (nothing to catch up) and fire at the same second
    processes = [start_scheduler(db_url, smtp.port, fire_at.strftime("%H:%M:%S"), log) for log in logs]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(f"daily alerts of {today} checked" in log.read_text() for log in logs):
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        smtp.stop()
    outputs = [log.read_text() for log in logs]
    assert all(f"daily alerts of {today} checked" in out for out in outputs), outputs
    assert len(smtp.inbox.envelopes) == 1
    assert f"Acupuncture coverage alerts - Test Clinic - {today} (2 new)".encode() in smtp.raw[0]
    assert all("1EG4TE5AP24" not in out for out in outputs)
