"""Read-only views for the front desk: where a patient stands, with each booked or performed date judged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.events import Event, SessionVoided
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


def _booked_decisions(ctx: Ctx, history: History) -> list[dict[str, Any]]:
    """Each booked appointment judged as the engine judges a booked date: against the log without it."""
    return [
        {"id": a.id, "date": a.date.isoformat(), "decision": Engine(history.without(a.date), ctx.policies).decide(a.date).to_dict()}
        for a in history.booked_appointments()
    ]


def _standing(ctx: Ctx, history: History, day: date, period_end: date) -> tuple[date, dict[str, Any]]:
    """Counters of the period holding `day` with everything performed or booked in it counted, and the last date counted."""
    in_period = [d for d in history.slots if d <= period_end.toordinal()]
    last = date.fromordinal(in_period[-1]) if in_period else None
    if last is None or last < day:
        return day, Engine(history, ctx.policies).decide(day).to_dict()["counters"]
    if last < period_end:
        return last, Engine(history, ctx.policies).decide(last + timedelta(days=1)).to_dict()["counters"]
    own = Engine(history.without(last), ctx.policies).decide(last)
    counters = own.to_dict()["counters"]
    if own.covered:
        used = "extension" if own.extension else "initial"
        counters[f"{used}_used"] += 1
        counters[f"{used}_remaining"] = max(0, counters[f"{used}_remaining"] - 1)
        counters["period_used"] += 1
        counters["period_remaining"] = max(0, counters["period_remaining"] - 1)
    return last, counters


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
    performed and booked in the period holding `as_of`.
    """
    summary = coverage.coverage_summary(ctx, beneficiary_id, as_of)
    day = date.fromisoformat(summary["as_of"])
    events = _load(ctx, beneficiary_id)
    history = fold(events)
    appointments = _booked_decisions(ctx, history)
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
    period_end = date.fromisoformat(summary["decision"]["counters"]["period_end"])
    standing_day, standing = _standing(ctx, history, day, period_end)
    sessions = history.active_sessions()[-RECENT_SESSIONS:]
    return {
        **summary,
        "visit": visit,
        "taken_by": taken_by,
        "standing": {"date": standing_day.isoformat(), "counters": standing},
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
    return _booked_decisions(ctx, fold(_load(ctx, beneficiary_id)))
