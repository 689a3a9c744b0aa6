"""The daily alerts on a clock: APScheduler 3 fires at COVERAGE_TRACKER_ALERT_TIME in COVERAGE_TRACKER_TIMEZONE.

Every process of a fleet may run this scheduler: APScheduler 3 keeps no shared job store, so each
process fires, and the job-run rows in the database decide that one process scans the day and that
each digest is sent once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from coverage_tracker.config import Settings
from coverage_tracker.services.alerts import run_daily

log = logging.getLogger("coverage_tracker.alerts")

DAILY_JOB = "daily-alerts"
RETRY_JOB = "daily-alerts-retry"
CATCH_UP_JOB = "daily-alerts-catch-up"
MISFIRE_GRACE_SECONDS = 6 * 3600
RETRY_MINUTES = 10


def alert_time(settings: Settings) -> time:
    """COVERAGE_TRACKER_ALERT_TIME (`HH:MM`) as a time of day; ValueError naming the setting when malformed."""
    try:
        return time.fromisoformat(settings.alert_time.strip())
    except ValueError:
        raise ValueError(f"COVERAGE_TRACKER_ALERT_TIME must be HH:MM, got {settings.alert_time!r}") from None


def daily_trigger(settings: Settings) -> CronTrigger:
    """Every day at the alert time, in the configured time zone (06:30 stays 06:30 across clock changes)."""
    at = alert_time(settings)
    return CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=ZoneInfo(settings.timezone))


def next_alert_run(settings: Settings, after: datetime | None = None) -> datetime:
    """The next time the daily job fires after `after` (default: now)."""
    zone = ZoneInfo(settings.timezone)
    fire = daily_trigger(settings).get_next_fire_time(None, after or datetime.now(zone))
    assert fire is not None
    return fire


class DailyAlerts:
    """The job: once the day's alert time has passed, see that its alerts are stored and its digests sent."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.zone = ZoneInfo(settings.timezone)
        self.at = alert_time(settings)
        self._running = threading.Lock()

    def due_day(self, now: datetime | None = None) -> date | None:
        """Today (local) when its alert time has passed, else None: the day before is not sent late."""
        local = (now or datetime.now(self.zone)).astimezone(self.zone)
        return local.date() if local.time() >= self.at else None

    def __call__(self) -> None:
        day = self.due_day()
        if day is None or not self._running.acquire(blocking=False):
            return
        try:
            days = run_daily(self.engine, self.settings, day, claim_fleet=True)
            for d in days:
                if d.scanned_now or d.digest in ("sent", "unsent"):
                    log.info("daily alerts of %s, %s: %d alerts (%d new), digest %s", day, d.clinic, len(d.alerts), d.new, d.digest)
            log.info("daily alerts of %s checked for %d clinics", day, len(days))
        except Exception as exc:
            log.error("daily alerts of %s failed (%s); the next run retries", day, type(exc).__name__)
        finally:
            self._running.release()


def configure(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> BaseScheduler:
    """Add the daily job, its retry every few minutes and a catch-up at start-up to `scheduler`."""
    job = DailyAlerts(settings, engine)
    options: dict[str, Any] = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1, "replace_existing": True}
    scheduler.add_job(job, daily_trigger(settings), id=DAILY_JOB, name="daily coverage alerts", **options)
    scheduler.add_job(job, IntervalTrigger(minutes=RETRY_MINUTES, timezone=job.zone), id=RETRY_JOB, name="retry unsent digests", **options)
    scheduler.add_job(job, DateTrigger(datetime.now(job.zone), timezone=job.zone), id=CATCH_UP_JOB, name="catch up a missed day", **options)
    return scheduler


def _scheduler_options(settings: Settings) -> dict[str, Any]:
    return {
        "timezone": ZoneInfo(settings.timezone),
        "job_defaults": {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    }


def start_in_process_scheduler(settings: Settings, engine: Engine) -> Callable[[], None]:
    """Run the daily alerts in a background thread of this process (for `serve`); returns the function that stops it."""
    scheduler = configure(BackgroundScheduler(daemon=True, **_scheduler_options(settings)), settings, engine)
    scheduler.start()
    log.info("daily alerts scheduled at %s %s; next run %s", settings.alert_time, settings.timezone, next_alert_run(settings).isoformat())

    def stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)

    return stop


def run_blocking_scheduler(settings: Settings, engine: Engine) -> None:
    """Run the daily alerts in the foreground until SIGINT or SIGTERM."""
    scheduler = configure(BlockingScheduler(**_scheduler_options(settings)), settings, engine)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("daily alerts scheduled at %s %s; next run %s", settings.alert_time, settings.timezone, next_alert_run(settings).isoformat())
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
