"""Use cases that record care: diagnoses, bookings, cancellations, sessions, voids, assessments, ABNs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from coverage_tracker.domain import reasons
from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.events import (
    CANCEL_REASONS,
    OUTCOMES,
    AbnSigned,
    AppointmentBooked,
    AppointmentCancelled,
    AssessmentRecorded,
    ClaimLine,
    DiagnosisRecorded,
    Segment,
    SessionPerformed,
    SessionVoided,
)
from coverage_tracker.domain.history import BOOKED, History, fold
from coverage_tracker.domain.policy import MEDICARE, PayerPolicy
from coverage_tracker.domain.time_units import TimeUnitsError, code_segments, validate_lines, validate_segments

from . import commands, validation
from .context import Ctx
from .errors import Conflict, InvalidInput, NotFound


def _new_id() -> str:
    return str(uuid.uuid4())


def _taken(history: History, day: date) -> None:
    if history.is_taken(day):
        raise Conflict(
            f"{day.isoformat()} already has a performed session or a booked appointment",
            code=reasons.SESSION_ALREADY_ON_DATE,
        )


def policy_on(ctx: Ctx, history: History, day: date) -> PayerPolicy:
    """The payer policy in force on `day` (Medicare's figures when the payer has none loaded)."""
    return ctx.policies.get(history.payer_on(day.toordinal())) or MEDICARE


def record_diagnosis(
    ctx: Ctx,
    beneficiary_id: str,
    *,
    icd10_code: str,
    onset_date: date,
    recorded_on: date,
    systemic_cause: bool = False,
    surgery_related: bool = False,
    pregnancy_related: bool = False,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Record a low back pain diagnosis; the latest recorded on or before a DOS is the one that counts."""
    body = {
        "icd10_code": icd10_code, "onset_date": onset_date.isoformat(), "recorded_on": recorded_on.isoformat(),
        "systemic_cause": systemic_cause, "surgery_related": surgery_related, "pregnancy_related": pregnancy_related,
    }

    def decide(history, events):
        code = validation.icd10(icd10_code)
        validation.not_after_today("recorded_on", recorded_on, ctx.today, "a diagnosis")
        if onset_date < date(1900, 1, 1) or onset_date > recorded_on:
            raise InvalidInput("onset_date", f"{onset_date.isoformat()} must be on or before recorded_on ({recorded_on.isoformat()})")
        event = DiagnosisRecorded(_new_id(), code, onset_date, recorded_on, systemic_cause, surgery_related, pregnancy_related)
        return [event], {"id": event.diagnosis_id, **body, "icd10_code": code}

    return commands.run(ctx, beneficiary_id, "diagnosis", body, decide, idempotency_key)


def book_appointment(ctx: Ctx, beneficiary_id: str, *, day: date, idempotency_key: str | None = None) -> dict[str, Any]:
    """Book a visit whatever the decision (the decision tells the desk what to do); 409 if the date is taken."""
    body = {"date": day.isoformat()}

    def decide(history, events):
        validation.service_date("date", day, ctx.today)
        if day < ctx.today:
            raise InvalidInput("date", f"an appointment cannot be booked before today ({ctx.today.isoformat()}), got {day.isoformat()}")
        _taken(history, day)
        decision = Engine(history, ctx.policies).decide(day)
        event = AppointmentBooked(_new_id(), day)
        return [event], {"id": event.appointment_id, "date": day.isoformat(), "decision": decision.to_dict()}

    return commands.run(ctx, beneficiary_id, "book", body, decide, idempotency_key)


def cancel_appointment(
    ctx: Ctx, beneficiary_id: str, appointment_id: str, *, reason: str = "cancelled", idempotency_key: str | None = None
) -> dict[str, Any]:
    """Cancel a booked appointment, or mark it a no-show; either frees its place."""
    body = {"appointment_id": appointment_id, "reason": reason}

    def decide(history, events):
        appointment = history.appointments.get(appointment_id)
        if appointment is None:
            raise NotFound("appointment not found", code="NOT_FOUND")
        if reason not in CANCEL_REASONS:
            raise InvalidInput("reason", f"must be one of {', '.join(CANCEL_REASONS)}, got {reason!r}")
        if appointment.status != BOOKED:
            raise Conflict(f"the appointment on {appointment.date.isoformat()} is already {appointment.status}", code="APPOINTMENT_NOT_BOOKED")
        event = AppointmentCancelled(appointment_id, appointment.date, reason)  # type: ignore[arg-type]
        return [event], {"id": appointment_id, "date": appointment.date.isoformat(), "status": reason}

    return commands.run(ctx, beneficiary_id, "cancel", body, decide, idempotency_key)


def _lines_from(lines: Sequence[dict[str, Any]] | None, segments: Sequence[dict[str, Any]] | None, day: date, policy: PayerPolicy):
    if (lines is None) == (segments is None):
        raise InvalidInput("lines", "give either lines or segments, not both and not neither")
    if segments is not None:
        parsed = tuple(Segment(int(s["minutes"]), bool(s.get("electrical_stimulation", False))) for s in segments)
        try:
            validate_segments(parsed)
        except TimeUnitsError as exc:
            raise InvalidInput(exc.field, exc.message) from exc
        coded = code_segments(parsed, policy)
        if not coded.lines:
            raise InvalidInput("segments", f"{coded.total_minutes} minutes of contact in total: under 8 minutes nothing is billable")
        return coded.lines, coded.total_minutes, parsed
    claim = tuple(ClaimLine(str(line["code"]), int(line["units"])) for line in lines or ())
    problems = validate_lines(claim, day, policy)
    if problems:
        first = problems[0]
        field = f"lines[{first.index}]" if first.index is not None else "lines"
        raise InvalidInput(field, f"{first.message} ({first.rule})", code=first.rule)
    return claim, None, ()


def record_session(
    ctx: Ctx,
    beneficiary_id: str,
    *,
    day: date,
    lines: Sequence[dict[str, Any]] | None = None,
    segments: Sequence[dict[str, Any]] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Record a performed session from claim lines or minutes; it fulfils a booking on the same date."""
    body = {"date": day.isoformat(), "lines": lines, "segments": segments}

    def decide(history, events):
        validation.not_after_today("date", day, ctx.today, "a session")
        claim, minutes, parsed = _lines_from(lines, segments, day, policy_on(ctx, history, day))
        if history.session_on(day) is not None:
            _taken(history, day)
        booking = history.booking_on(day)
        judged = history
        if booking is not None:
            judged = fold([*events, AppointmentCancelled(booking.id, day, "cancelled")])
        decision = Engine(judged, ctx.policies).decide(day).to_dict()
        event = SessionPerformed(
            _new_id(), day, claim, minutes, parsed, booking.id if booking else None, decision
        )
        response = {
            "id": event.session_id,
            "date": day.isoformat(),
            "lines": [{"code": c.code, "units": c.units} for c in claim],
            "fulfilled_appointment_id": booking.id if booking else None,
            "decision": decision,
        }
        return [event], response

    return commands.run(ctx, beneficiary_id, "session", body, decide, idempotency_key)


def void_session(ctx: Ctx, beneficiary_id: str, session_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
    """Void a session entered in error: it no longer counts (its booking does not come back)."""
    body = {"session_id": session_id}

    def decide(history, events):
        session = history.sessions.get(session_id)
        if session is None:
            raise NotFound("session not found", code="NOT_FOUND")
        if session.voided:
            raise Conflict("the session is already voided", code="SESSION_ALREADY_VOIDED")
        return [SessionVoided(session_id, session.date)], {"id": session_id, "date": session.date.isoformat(), "voided": True}

    return commands.run(ctx, beneficiary_id, "void", body, decide, idempotency_key)


def record_assessment(
    ctx: Ctx, beneficiary_id: str, *, day: date, outcome: str, note: str | None = None, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Record an improvement assessment (improving, not improving, regressing)."""
    body = {"date": day.isoformat(), "outcome": outcome, "note": note}

    def decide(history, events):
        validation.not_after_today("date", day, ctx.today, "an assessment")
        if outcome not in OUTCOMES:
            raise InvalidInput("outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if note is not None and len(note) > 2000:
            raise InvalidInput("note", "must be at most 2000 characters")
        event = AssessmentRecorded(_new_id(), day, outcome, note)  # type: ignore[arg-type]
        return [event], {"id": event.assessment_id, **body}

    return commands.run(ctx, beneficiary_id, "assessment", body, decide, idempotency_key)


def record_abn(
    ctx: Ctx, beneficiary_id: str, *, signed_on: date, valid_until: date | None = None, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Record a signed ABN; by default it runs to the end of the benefit period holding `signed_on`."""
    body = {"signed_on": signed_on.isoformat(), "valid_until": valid_until.isoformat() if valid_until else None}

    def decide(history, events):
        validation.not_after_today("signed_on", signed_on, ctx.today, "an ABN")
        until = valid_until
        if until is None:
            until = Engine(history, ctx.policies).decide(signed_on).counters.period_end
        validation.service_date("valid_until", until, ctx.today)
        if until < signed_on:
            raise InvalidInput("valid_until", f"{until.isoformat()} is before signed_on ({signed_on.isoformat()})")
        event = AbnSigned(_new_id(), signed_on, until)
        return [event], {"id": event.abn_id, "signed_on": signed_on.isoformat(), "valid_until": until.isoformat()}

    return commands.run(ctx, beneficiary_id, "abn", body, decide, idempotency_key)
