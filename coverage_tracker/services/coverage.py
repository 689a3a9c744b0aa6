"""Read-only use cases: booking checks, the coverage summary, the event log, the coding helper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.events import Segment
from coverage_tracker.domain.history import History
from coverage_tracker.domain.mbi import mask_mbi
from coverage_tracker.domain.time_units import TimeUnitsError, code_segments, validate_segments
from coverage_tracker.store import event_store
from coverage_tracker.store.db import read_transaction

from . import commands, validation
from .context import Ctx
from .errors import InvalidInput

MAX_CHECK_DATES = 100


def check_dates(ctx: Ctx, beneficiary_id: str, dates: Sequence[date], history: History | None = None) -> dict[str, Any]:
    """Decisions for `dates` in date order, each later date counting the earlier ones as booked.

    `history` is the beneficiary's, when the caller has read it already.
    """
    if history is None:
        history = commands.read_history(ctx, beneficiary_id)
    if not dates:
        raise InvalidInput("dates", "give at least one date")
    if len(dates) > MAX_CHECK_DATES:
        raise InvalidInput("dates", f"at most {MAX_CHECK_DATES} dates per check, got {len(dates)}")
    for i, day in enumerate(dates):
        validation.service_date(f"dates[{i}]", day, ctx.today)
    return {"results": [d.to_dict() for d in Engine(history, ctx.policies).check(dates)]}


def coverage_summary(ctx: Ctx, beneficiary_id: str, as_of: date | None = None) -> dict[str, Any]:
    """Where the beneficiary stands on `as_of` (default today): the check of that date, diagnosis, assessment."""
    history = commands.read_history(ctx, beneficiary_id)
    day = validation.service_date("as_of", as_of or ctx.today, ctx.today)
    decision = Engine(history, ctx.policies).decide(day)
    dx = history.diagnosis_on(day.toordinal())
    assessment = history.assessment_on(day.toordinal())
    return {
        "as_of": day.isoformat(),
        "decision": decision.to_dict(),
        "diagnosis": None if dx is None else {
            "icd10_code": dx.icd10_code,
            "onset_date": dx.onset_date.isoformat(),
            "recorded_on": dx.recorded_on.isoformat(),
            "pain_days": (day - dx.onset_date).days,
            "systemic_cause": dx.systemic_cause,
            "surgery_related": dx.surgery_related,
            "pregnancy_related": dx.pregnancy_related,
        },
        "latest_assessment": None if assessment is None else {
            "date": assessment.date.isoformat(), "outcome": assessment.outcome, "note": assessment.note,
        },
    }


def event_history(ctx: Ctx, beneficiary_id: str) -> dict[str, Any]:
    """The beneficiary's log in version order; the enrolment's MBI is masked, as everywhere but enrolment and a read."""
    with read_transaction(ctx.db) as session:
        commands.load(session, ctx, beneficiary_id)
        records = event_store.load_records(session, ctx.clinic_id, beneficiary_id)
    return {
        "events": [
            {
                "version": r.version,
                "type": r.type,
                "business_date": r.business_date.isoformat(),
                "payload": {**r.payload, "mbi": mask_mbi(r.payload["mbi"])} if "mbi" in r.payload else r.payload,
                "recorded_at": r.recorded_at.isoformat(),
                "recorded_by": r.recorded_by,
            }
            for r in records
        ]
    }


def time_units(ctx: Ctx, segments: Sequence[dict[str, Any]], payer: str = "medicare") -> dict[str, Any]:
    """Minutes -> 97810-97814 lines under the payer's unit caps."""
    validation.payer(ctx.policies, payer)
    parsed = tuple(Segment(int(s["minutes"]), bool(s.get("electrical_stimulation", False))) for s in segments)
    try:
        validate_segments(parsed)
    except TimeUnitsError as exc:
        raise InvalidInput(exc.field, exc.message) from exc
    coded = code_segments(parsed, ctx.policies.get(payer))
    return {
        "lines": [{"code": line.code, "units": line.units} for line in coded.lines],
        "not_billable": [{"code": n.code, "units": n.units, "reason": n.reason} for n in coded.not_billable],
        "total_minutes": coded.total_minutes,
    }
