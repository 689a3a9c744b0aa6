"""Read-only views for the front desk: where a patient stands, with each booked or performed date judged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.events import AppointmentCancelled, Event, SessionVoided
from coverage_tracker.domain.history import History, fold
from coverage_tracker.domain.policy import PayerPolicy
from coverage_tracker.store.db import read_transaction

from . import commands, coverage
from .care import policy_on
from .context import Ctx

RECENT_SESSIONS = 10


def _load(ctx: Ctx, beneficiary_id: str) -> list[Event]:
    with read_transaction(ctx.db) as session:
        return commands.load(session, ctx, beneficiary_id)[0]


def _booked_decisions(ctx: Ctx, events: list[Event], history: History) -> list[dict[str, Any]]:
    """Each booked appointment judged as the engine judges a booked date: against what precedes it."""
    booked = history.booked_appointments()
    if not booked:
        return []
    unbooked = fold([*events, *(AppointmentCancelled(a.id, a.date, "cancelled") for a in booked)])
    decisions = Engine(unbooked, ctx.policies).check([a.date for a in booked])
    return [{"id": a.id, "date": a.date.isoformat(), "decision": d.to_dict()} for a, d in zip(booked, decisions)]


def _session_decision(ctx: Ctx, events: list[Event], session_id: str, day: date) -> dict[str, Any]:
    """A performed session judged as if it were not yet recorded (as when it was recorded)."""
    return Engine(fold([*events, SessionVoided(session_id, day)]), ctx.policies).decide(day).to_dict()


def _limits(policy: PayerPolicy) -> dict[str, Any]:
    return {
        "initial_sessions": policy.initial_sessions,
        "initial_window_days": policy.initial_window_days,
        "extension_sessions": policy.extension_sessions,
        "annual_cap": policy.annual_cap,
        "label": policy.label or policy.name,
    }


def card(ctx: Ctx, beneficiary_id: str, as_of: date | None = None) -> dict[str, Any]:
    """The coverage summary of `as_of` (default today) with the day's own visit, the bookings and the standing.

    `visit` is the decision of a visit on `as_of`: the booked appointment's or the performed session's
    decision when the day is taken, else the booking check of that day. `standing` counts everything
    performed and booked: the counters of the first day after the last taken date (or of `as_of`).
    """
    summary = coverage.coverage_summary(ctx, beneficiary_id, as_of)
    day = date.fromisoformat(summary["as_of"])
    events = _load(ctx, beneficiary_id)
    history = fold(events)
    appointments = _booked_decisions(ctx, events, history)
    taken_by: dict[str, Any] | None = None
    visit = summary["decision"]
    booking = history.booking_on(day)
    performed = history.session_on(day)
    if booking is not None:
        taken_by = {"kind": "appointment", "id": booking.id}
        visit = next(a["decision"] for a in appointments if a["id"] == booking.id)
    elif performed is not None:
        taken_by = {"kind": "session", "id": performed.id}
        visit = _session_decision(ctx, events, performed.id, day)
    engine = Engine(history, ctx.policies)
    taken = history.slots
    standing_day = max(day, date.fromordinal(taken[-1]) + timedelta(days=1)) if taken else day
    standing = engine.decide(standing_day)
    sessions = history.active_sessions()[-RECENT_SESSIONS:]
    return {
        **summary,
        "visit": visit,
        "taken_by": taken_by,
        "standing": {"date": standing_day.isoformat(), "counters": standing.to_dict()["counters"]},
        "limits": _limits(policy_on(ctx, history, standing_day)),
        "payer": history.payer_on(day.toordinal()),
        "appointments": appointments,
        "sessions": [
            {
                "id": s.id,
                "date": s.date.isoformat(),
                "lines": [{"code": line.code, "units": line.units} for line in s.lines],
                "minutes": s.minutes,
            }
            for s in reversed(sessions)
        ],
    }


def booked_dates(ctx: Ctx, beneficiary_id: str) -> list[dict[str, Any]]:
    """The beneficiary's booked appointments in date order, each with its decision."""
    events = _load(ctx, beneficiary_id)
    return _booked_decisions(ctx, events, fold(events))
