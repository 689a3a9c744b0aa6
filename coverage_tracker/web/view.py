"""How the desk pages say things: dates, statuses, roles and counts in the clinic's words."""

from __future__ import annotations

from datetime import date
from typing import Any

from jinja2 import Environment

STATUSES = {
    "covered": {"label": "Covered", "css": "covered", "icon": "check"},
    "needs_improvement_assessment": {"label": "Needs assessment", "css": "needs", "icon": "alert"},
    "not_covered": {"label": "Not covered", "css": "notcov", "icon": "cross"},
}
ROLES = {"front_desk": "front desk", "clinician": "clinician", "billing": "billing", "admin": "admin"}
ACTIONS = {
    "diagnosis": "record a diagnosis",
    "assessment": "record an assessment",
    "session": "record a session",
    "time_units": "use the coding helper",
    "enrol": "enrol a patient",
    "book": "book appointments",
    "cancel": "cancel appointments",
    "alerts": "see alerts",
}
OUTCOMES = {"improving": "Improving", "not_improving": "Not improving", "regressing": "Regressing"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SHORT_REASONS = {
    "BEFORE_COVERAGE_EFFECTIVE": "before the policy took effect",
    "NO_QUALIFYING_DIAGNOSIS": "no low back pain diagnosis on record",
    "DIAGNOSIS_CODE_NOT_COVERED": "diagnosis code not on the payer's list",
    "PAIN_UNDER_12_WEEKS": "pain under 12 weeks",
    "SYSTEMIC_CAUSE": "systemic cause",
    "SURGERY_RELATED": "related to surgery",
    "PREGNANCY_RELATED": "related to pregnancy",
    "PAYER_NOT_COVERED": "payer does not cover acupuncture",
    "IMPROVEMENT_NOT_DOCUMENTED": "needs an 'improving' assessment",
    "INITIAL_LIMIT_REACHED": "past the 12 initial sessions",
    "INITIAL_WINDOW_ENDED": "past day 90 of the course",
    "ANNUAL_LIMIT_REACHED": "yearly limit reached",
    "EXTENSION_EXHAUSTED": "extension sessions used up",
    "NOT_IMPROVING": "stopped: not improving",
    "REGRESSING": "stopped: regressing",
    "SESSION_ALREADY_ON_DATE": "already booked or performed",
}


def _as_date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


def long_date(value: date | str | None) -> str:
    """`Mon 30 Nov 2026`."""
    day = _as_date(value)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {day:%b %Y}" if day else "—"


def short_date(value: date | str | None) -> str:
    """`30 Nov 2026`."""
    day = _as_date(value)
    return f"{day.day} {day:%b %Y}" if day else "—"


def day_month(value: date | str | None) -> str:
    """`Mon 30 Nov`."""
    day = _as_date(value)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {day:%b}" if day else "—"


def status_of(decision: dict[str, Any]) -> dict[str, str]:
    """Label, CSS class and icon of a decision's status."""
    return STATUSES[decision["status"]]


def role_name(role: str) -> str:
    return ROLES.get(role, role)


def pain_duration(days: int) -> str:
    """`28 weeks (200 days)`."""
    weeks = days // 7
    return f"{weeks} week{'s' if weeks != 1 else ''} ({days} day{'s' if days != 1 else ''})"


def percent(used: int, total: int) -> int:
    """How much of a progress bar is filled, 0-100."""
    return 0 if total <= 0 else max(0, min(100, round(100 * used / total)))


def short_reasons(decision: dict[str, Any]) -> list[str]:
    """One short phrase per reason, for the planner's strip."""
    if not decision["reasons"]:
        number = decision["counters"]["period_used"] + 1
        kind = f"extension ({', '.join(decision['modifiers'])})" if decision["modifiers"] else "initial course"
        return [f"session {number} of the period, {kind}"]
    return [SHORT_REASONS.get(r["code"], r["code"]) for r in decision["reasons"]]


def covered_as(decision: dict[str, Any]) -> str:
    """What a covered decision counts as: `Session 3 of the period, initial course.`"""
    phrase = short_reasons(decision)[0]
    return f"{phrase[0].upper()}{phrase[1:]}."


ELIGIBILITY_CODES = frozenset(
    ("BEFORE_COVERAGE_EFFECTIVE", "NO_QUALIFYING_DIAGNOSIS", "DIAGNOSIS_CODE_NOT_COVERED", "PAIN_UNDER_12_WEEKS",
     "SYSTEMIC_CAUSE", "SURGERY_RELATED", "PREGNANCY_RELATED", "PAYER_NOT_COVERED")
)


def eligibility_problems(decision: dict[str, Any]) -> list[str]:
    """The messages of the decision's eligibility reasons (RULES.md section 1)."""
    return [r["message"] for r in decision["reasons"] if r["code"] in ELIGIBILITY_CODES]


def install(env: Environment) -> None:
    """Register the filters and globals the templates use."""
    env.filters.update(
        long_date=long_date, short_date=short_date, day_month=day_month, status=status_of,
        pain_duration=pain_duration, role_name=role_name, covered_as=covered_as, short_reasons=short_reasons, eligibility_problems=eligibility_problems,
        outcome=lambda value: OUTCOMES.get(value, value),
    )
    env.globals.update(percent=percent, weekdays=WEEKDAYS, weekday_names=WEEKDAY_NAMES, outcomes=OUTCOMES)
