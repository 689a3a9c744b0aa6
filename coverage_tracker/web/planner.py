"""The planner: a start date, weekdays and weeks give a strip of judged dates; book the chosen ones; cancel."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import Response

from coverage_tracker.domain.reasons import SESSION_ALREADY_ON_DATE
from coverage_tracker.services import care, coverage, validation
from coverage_tracker.services.coverage import MAX_CHECK_DATES
from coverage_tracker.services.errors import Conflict, InvalidInput

from . import forms, view
from .pages import User, desk_router, redirect, render
from .patients import patient_header

router = desk_router()

MAX_WEEKS = 26
DEFAULT_WEEKS = 6


def plan_dates(start: date, weekdays: set[int], weeks: int) -> list[date]:
    """Every chosen weekday in the `weeks` weeks from `start` (start included)."""
    days = (start + timedelta(days=i) for i in range(7 * weeks))
    return [day for day in days if day.weekday() in weekdays]


def _strip(decisions: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    strip = []
    for decision in decisions:
        taken = any(r["code"] == SESSION_ALREADY_ON_DATE for r in decision["reasons"])
        past = date.fromisoformat(decision["date"]) < today
        bookable = not taken and not past
        strip.append({
            "decision": decision,
            "bookable": bookable,
            "checked": bookable and decision["status"] != "not_covered",
            "why_not": "already taken" if taken else "in the past" if past else None,
        })
    return strip


def tally(statuses: list[str]) -> str:
    """`12 covered, 2 need an assessment`."""
    counts = Counter(statuses)
    parts = [f"{counts['covered']} covered"]
    if counts["needs_improvement_assessment"]:
        parts.append(f"{counts['needs_improvement_assessment']} need an assessment")
    if counts["not_covered"]:
        parts.append(f"{counts['not_covered']} not covered")
    return ", ".join(parts)


def plan_query(form: dict[str, Any]) -> str:
    """The planner's query string for `form` (start, weekdays, weeks): dates only, never PHI."""
    return urlencode({"start": form["start"], "weeks": form["weeks"], "days": sorted(form["days"])}, doseq=True)


@router.get("/patients/{beneficiary_id}/plan")
def planner(
    request: Request,
    user: User,
    beneficiary_id: str,
    start: str = "",
    days: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    weeks: str = "",
) -> Response:
    """The plan form and, once a plan is given, the strip of dates with their decisions (nothing booked yet)."""
    user.require("check")
    with user.audit("check", beneficiary_id):
        patient = patient_header(user, beneficiary_id)
        form = {"start": start or user.ctx.today.isoformat(), "days": set(days), "weeks": weeks or str(DEFAULT_WEEKS)}
        context: dict[str, Any] = {"patient": patient, "form": form, "tab": "plan", "today": user.ctx.today}
        if not start:
            return render(request, "planner.html", user, **context)
        try:
            first = validation.service_date("start", forms.a_date("start", start, "Start date"), user.ctx.today)
            chosen = {int(d) for d in days if d.isdigit() and int(d) < 7}
            if not chosen:
                raise InvalidInput("days", "choose at least one weekday")
            count = forms.a_number("weeks", weeks, "Number of weeks", 1, MAX_WEEKS)
            dates = plan_dates(first, chosen, count)
            if len(dates) > MAX_CHECK_DATES:
                raise InvalidInput("weeks", f"a plan may hold at most {MAX_CHECK_DATES} dates")
            decisions = coverage.check_dates(user.ctx, beneficiary_id, dates)["results"]
        except InvalidInput as exc:
            return render(request, "planner.html", user, status_code=422, error=exc, **context)
    strip = _strip(decisions, user.ctx.today)
    return render(
        request, "planner.html", user, strip=strip, tally=tally([d["status"] for d in decisions]),
        plan_token=secrets.token_hex(16), query=plan_query(form), **context,
    )


@router.post("/patients/{beneficiary_id}/appointments")
def book(
    request: Request,
    user: User,
    beneficiary_id: str,
    dates: Annotated[list[str], Form()] = [],  # noqa: B006
    plan_token: Annotated[str, Form()] = "",
    plan_query: Annotated[str, Form()] = "",
) -> Response:
    """Book every chosen date in one action; a resent form books nothing twice (idempotency key per date)."""
    user.require("book")
    back = f"/desk/patients/{beneficiary_id}/plan?{plan_query}" if plan_query else f"/desk/patients/{beneficiary_id}/plan"
    if not dates:
        return redirect(back, "Choose at least one date to book.")
    token = plan_token if plan_token.isalnum() and len(plan_token) <= 64 else secrets.token_hex(16)
    booked: list[str] = []
    refused: list[str] = []
    with user.audit("book", beneficiary_id):
        for raw in sorted(set(dates)):
            try:
                day = forms.a_date("dates", raw, "Date")
                result = care.book_appointment(user.ctx, beneficiary_id, day=day, idempotency_key=f"desk:{token}:{raw}")
                booked.append(result["decision"]["status"])
            except (InvalidInput, Conflict) as exc:
                refused.append(f"{raw} ({exc.message})")
    notice = f"Booked {len(booked)} date{'s' if len(booked) != 1 else ''}: {tally(booked)}." if booked else "Nothing was booked."
    if refused:
        notice += " Not booked: " + "; ".join(refused)
    return redirect(f"/desk/patients/{beneficiary_id}#appointments", notice)


@router.post("/patients/{beneficiary_id}/appointments/{appointment_id}/cancel")
def cancel(
    request: Request,
    user: User,
    beneficiary_id: str,
    appointment_id: str,
    reason: Annotated[str, Form()] = "cancelled",
) -> Response:
    """Cancel a booked appointment, or mark it a no-show; either frees its place."""
    user.require("cancel")
    try:
        with user.audit("cancel", beneficiary_id):
            done = care.cancel_appointment(user.ctx, beneficiary_id, appointment_id, reason=reason)
    except (InvalidInput, Conflict) as exc:
        return redirect(f"/desk/patients/{beneficiary_id}#appointments", f"Not changed: {exc.message}")
    what = "marked as a no-show" if done["status"] == "no_show" else "cancelled"
    return redirect(f"/desk/patients/{beneficiary_id}#appointments", f"Appointment on {view.long_date(done['date'])} {what}.")

