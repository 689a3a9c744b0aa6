"""Front-desk commands: `status` and `check` for one patient, straight on the configured database.

Exit status: 0 when every date is covered, 1 when any needs an assessment or is not covered,
2 when there is no answer (an invalid MBI or date, an unknown clinic or patient, no schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from coverage_tracker.services.context import load_policies
from coverage_tracker.cli import app
from coverage_tracker.config import get_settings
from coverage_tracker.domain.mbi import mask_mbi
from coverage_tracker.services import beneficiaries, coverage, desk, validation
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.services.errors import ServiceError
from coverage_tracker.store import migrations
from coverage_tracker.store.audit import record_audit
from coverage_tracker.store.clinics import find_clinic
from coverage_tracker.store.db import create_db_engine, read_transaction, write_transaction
from coverage_tracker.web.view import short_reasons

NO_ANSWER = 2
STATUS_STYLE = {
    "covered": ("covered", "bold green"),
    "needs_improvement_assessment": ("needs assessment", "bold yellow"),
    "not_covered": ("NOT COVERED", "bold red"),
}

ClinicOption = Annotated[str, typer.Option("--clinic", help="The clinic's name (as in `api-key create`).")]
MbiOption = Annotated[str, typer.Option("--mbi", help="The patient's Medicare Beneficiary Identifier (dashes allowed).")]


def no_answer(message: str) -> NoReturn:
    """Print `message` on stderr and exit 2."""
    Console(stderr=True).print(f"Error: {message}", markup=False, highlight=False)
    raise typer.Exit(NO_ANSWER)


def parse_date(option: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        no_answer(f"{option}: {raw.strip()!r} is not a date (YYYY-MM-DD)")


def _engine() -> Engine:
    engine = create_db_engine()
    if migrations.current_revision(engine) is None:
        no_answer("the database has no schema yet: run `coverage-tracker db upgrade`")
    return engine


@contextmanager
def answers() -> Iterator[None]:
    """Turn a use case's refusal into exit 2 with its message."""
    try:
        yield
    except ServiceError as exc:
        no_answer(exc.message)


def desk_context(clinic: str, mbi: str) -> tuple[Ctx, dict[str, Any]]:
    """The front-desk context of the clinic and the patient found by MBI; exits 2 when either is unknown."""
    settings = get_settings()
    with answers():
        validation.mbi(mbi, "--mbi")
    engine = _engine()
    with read_transaction(engine) as session:
        found = find_clinic(session, clinic.strip())
        if found is None:
            no_answer(f"--clinic: no clinic named {clinic.strip()!r}")
        clinic_id, zone = found.id, found.timezone or settings.timezone
    ctx = Ctx(db=engine, policies=load_policies(settings), actor=Actor(clinic_id=clinic_id, role="front_desk"), today=local_today(zone))
    matches = beneficiaries.search(ctx, mbi=mbi)
    if not matches:
        no_answer(f"--mbi: no patient with MBI {mask_mbi(mbi)} in clinic {clinic.strip()!r}")
    return ctx, matches[0]


def audit(ctx: Ctx, action: str, beneficiary_id: str) -> None:
    """The CLI's reads are audited like the API's (no key: the operator's shell)."""
    with write_transaction(ctx.db) as session:
        record_audit(session, clinic_id=ctx.clinic_id, api_key_id=None, role=ctx.actor.role, action=action,
                     outcome="200", beneficiary_id=beneficiary_id)


def status_cell(decision: dict[str, Any]) -> str:
    label, style = STATUS_STYLE[decision["status"]]
    return f"[{style}]{label}[/]"


def reasons_cell(decision: dict[str, Any], brief: bool) -> str:
    """The reasons: one short phrase each in a series, the full messages for a single day."""
    if brief or not decision["reasons"]:
        return "\n".join(short_reasons(decision))
    return "\n".join(r["message"] for r in decision["reasons"])


def print_patient(console: Console, patient: dict[str, Any]) -> None:
    console.print(
        f"[bold]{patient['first_name']} {patient['last_name']}[/]  MBI {patient['mbi_masked']}  "
        f"born {patient['birth_date']}  payer {patient['payer']}",
        highlight=False,
    )


def decisions_table(title: str, decisions: list[dict[str, Any]], brief: bool = True) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    for column in ("Date", "Status", "Why", "Next covered"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        table.add_row(d["date"], status_cell(d), reasons_cell(d, brief), d["next_covered_date"] or "none within 2 years")
    return table


def exit_for(decisions: list[dict[str, Any]]) -> None:
    """Exit 0 when every decision is covered, else 1."""
    raise typer.Exit(0 if all(d["status"] == "covered" for d in decisions) else 1)


def standing_table(card: dict[str, Any]) -> Table:
    """The counts (performed and booked), eligibility and the next covered date for a new booking."""
    c, limits = card["standing"]["counters"], card["limits"]
    table = Table(title=f"Counted through {card['standing']['date']} (performed and booked)", title_justify="left", show_header=False)
    table.add_column("What", style="bold")
    table.add_column("Value", overflow="fold")
    course_end = f" (course ends {c['initial_course_end']})" if c["initial_course_end"] and c["period_used"] else ""
    table.add_row("Initial course", f"{c['initial_used']} of {limits['initial_sessions']}{course_end}")
    table.add_row("Extension", f"{c['extension_used']} of {limits['extension_sessions']} used")
    period_end = f" (period ends {c['period_end']})" if c["period_used"] else ""
    table.add_row("This period", f"{c['period_used']} of {limits['annual_cap']}{period_end}")
    dx = card["diagnosis"]
    table.add_row("Diagnosis", f"{dx['icd10_code']}, pain for {dx['pain_days'] // 7} weeks (since {dx['onset_date']})" if dx else "none on record")
    assessment = card["latest_assessment"]
    table.add_row("Latest assessment", f"{assessment['outcome'].replace('_', ' ')} on {assessment['date']}" if assessment else "none")
    table.add_row("Booked ahead", str(len([a for a in card["appointments"] if a["date"] >= card["as_of"]])))
    table.add_row("Next covered date for a new booking", card["decision"]["next_covered_date"] or "none within 2 years")
    return table


@app.command("status")
def status(
    clinic: ClinicOption,
    mbi: MbiOption,
    day: Annotated[str | None, typer.Option("--date", help="The day to judge, YYYY-MM-DD (default: the clinic's today).")] = None,
) -> None:
    """Where a patient stands: the day's decision, the course and period counts, the next covered date."""
    as_of = parse_date("--date", day) if day is not None else None
    ctx, patient = desk_context(clinic, mbi)
    with answers():
        card = desk.card(ctx, patient["id"], as_of)
    audit(ctx, "read", patient["id"])
    console = Console()
    print_patient(console, patient)
    visit = card["visit"]
    taken = card["taken_by"]
    title = f"Visit on {card['as_of']}" + (f" (already {'booked' if taken['kind'] == 'appointment' else 'performed'})" if taken else "")
    console.print(decisions_table(title, [visit], brief=False))
    console.print(standing_table(card))
    exit_for([visit])


@app.command("check")
def check(
    clinic: ClinicOption,
    mbi: MbiOption,
    dates: Annotated[str, typer.Option("--dates", help="Dates to judge, comma-separated YYYY-MM-DD; later ones count the earlier as booked.")],
) -> None:
    """Judge a series of dates before booking them (nothing is booked)."""
    days = [parse_date("--dates", raw) for raw in dates.split(",") if raw.strip()]
    if not days:
        no_answer("--dates: give at least one date")
    ctx, patient = desk_context(clinic, mbi)
    with answers():
        decisions = coverage.check_dates(ctx, patient["id"], days)["results"]
    audit(ctx, "check", patient["id"])
    console = Console()
    print_patient(console, patient)
    console.print(decisions_table(f"{len(decisions)} date{'s' if len(decisions) != 1 else ''}, as if booked in date order", decisions))
    exit_for(decisions)
