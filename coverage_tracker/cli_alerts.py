"""CLI commands of the daily alerts: `scheduler`, `alerts run`, `clinic set-recipients`."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

import typer

from coverage_tracker.cli import app, fail, migrated_engine
from coverage_tracker.config import get_settings
from coverage_tracker.services import alerts as daily
from coverage_tracker.services.context import local_today
from coverage_tracker.services.errors import InvalidInput
from coverage_tracker.store.clinics import find_clinic
from coverage_tracker.store.db import read_transaction

alerts_app = typer.Typer(no_args_is_help=True, help="The daily coverage alerts and their e-mail digest.")
clinic_app = typer.Typer(no_args_is_help=True, help="Clinic settings.")
app.add_typer(alerts_app, name="alerts")
app.add_typer(clinic_app, name="clinic")


def _day(value: str | None) -> date:
    if value is None:
        return local_today(get_settings().timezone)
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--date must be a date as YYYY-MM-DD, got {value!r}")


def _check_clinic(engine, name: str | None) -> None:
    if name is None:
        return
    with read_transaction(engine) as session:
        if find_clinic(session, name) is None:
            fail(f"no clinic named {name!r}")


@app.command("scheduler")
def scheduler() -> None:
    """Run the daily alerts at COVERAGE_TRACKER_ALERT_TIME in COVERAGE_TRACKER_TIMEZONE until stopped."""
    from coverage_tracker.scheduler import run_blocking_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = get_settings()
    try:
        run_blocking_scheduler(settings, migrated_engine())
    except ValueError as exc:
        fail(str(exc))


@alerts_app.command("run")
def alerts_run(
    day: Annotated[str | None, typer.Option("--date", help="The scan date, YYYY-MM-DD (default: today).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests; store and send nothing.")] = False,
    clinic: Annotated[str | None, typer.Option(help="Only this clinic.")] = None,
) -> None:
    """Run the daily alerts by hand; exits 1 while a digest of the day stays unsent."""
    when = _day(day)
    settings = get_settings()
    engine = migrated_engine()
    _check_clinic(engine, clinic)
    if dry_run:
        for d in daily.preview(engine, settings, when, clinic):
            typer.echo(f"==== {d.clinic}: digest of {when.isoformat()} (dry run: nothing stored or sent) ====")
            typer.echo(f"To: {', '.join(d.recipients) if d.recipients else '(no recipients: no digest would be sent)'}")
            typer.echo(f"Subject: {d.payload['subject']}")
            typer.echo("")
            typer.echo(d.payload["text"])
        return
    days = daily.run_daily(engine, settings, when, clinic=clinic)
    typer.echo(f"Daily alerts of {when.isoformat()}:")
    for d in days:
        line = f"  {d.clinic}: {len(d.alerts)} alerts ({d.new} new); digest {d.digest}"
        if d.digest.startswith("sent"):
            line += f" to {', '.join(d.recipients)}"
        if d.error or d.scan_error:
            line += f": {d.error or d.scan_error}"
        typer.echo(line)
    left = daily.unsent(engine, when, [d.clinic_id for d in days]) + sum(d.scan_failed for d in days)
    if left:
        typer.echo(f"{left} digest(s) not sent yet: run again, or let the scheduler retry.", err=True)
        raise typer.Exit(1)


@clinic_app.command("set-recipients")
def set_recipients(
    clinic: Annotated[str, typer.Option(help="The clinic's name.")],
    emails: Annotated[list[str] | None, typer.Argument(metavar="EMAIL...", help="Who receives the daily digest.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every recipient: no digest is sent.")] = False,
) -> None:
    """Set who receives the clinic's daily alert digest (replacing the previous list)."""
    if bool(emails) == clear:
        fail("give one or more e-mail addresses, or --clear")
    engine = migrated_engine()
    with read_transaction(engine) as session:
        found = find_clinic(session, clinic)
        if found is None:
            fail(f"no clinic named {clinic!r}")
        clinic_id = found.id
    try:
        recipients = daily.set_recipients(engine, clinic_id, emails or [])
    except InvalidInput as exc:
        fail(exc.message)
    typer.echo(f"Daily digest of {clinic!r} goes to: {', '.join(recipients) if recipients else '(nobody)'}")
