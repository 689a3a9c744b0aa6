"""The stable reason codes of RULES.md and the messages, naming the figures, that people read."""

from __future__ import annotations

from datetime import date
from typing import Any

BEFORE_COVERAGE_EFFECTIVE = "BEFORE_COVERAGE_EFFECTIVE"
NO_QUALIFYING_DIAGNOSIS = "NO_QUALIFYING_DIAGNOSIS"
DIAGNOSIS_CODE_NOT_COVERED = "DIAGNOSIS_CODE_NOT_COVERED"
PAIN_UNDER_12_WEEKS = "PAIN_UNDER_12_WEEKS"
SYSTEMIC_CAUSE = "SYSTEMIC_CAUSE"
SURGERY_RELATED = "SURGERY_RELATED"
PREGNANCY_RELATED = "PREGNANCY_RELATED"
PAYER_NOT_COVERED = "PAYER_NOT_COVERED"
IMPROVEMENT_NOT_DOCUMENTED = "IMPROVEMENT_NOT_DOCUMENTED"
INITIAL_LIMIT_REACHED = "INITIAL_LIMIT_REACHED"
INITIAL_WINDOW_ENDED = "INITIAL_WINDOW_ENDED"
ANNUAL_LIMIT_REACHED = "ANNUAL_LIMIT_REACHED"
EXTENSION_EXHAUSTED = "EXTENSION_EXHAUSTED"
NOT_IMPROVING = "NOT_IMPROVING"
REGRESSING = "REGRESSING"
SESSION_ALREADY_ON_DATE = "SESSION_ALREADY_ON_DATE"

REASON_CODES: tuple[str, ...] = (
    BEFORE_COVERAGE_EFFECTIVE,
    NO_QUALIFYING_DIAGNOSIS,
    DIAGNOSIS_CODE_NOT_COVERED,
    PAIN_UNDER_12_WEEKS,
    SYSTEMIC_CAUSE,
    SURGERY_RELATED,
    PREGNANCY_RELATED,
    PAYER_NOT_COVERED,
    IMPROVEMENT_NOT_DOCUMENTED,
    INITIAL_LIMIT_REACHED,
    INITIAL_WINDOW_ENDED,
    ANNUAL_LIMIT_REACHED,
    EXTENSION_EXHAUSTED,
    NOT_IMPROVING,
    REGRESSING,
    SESSION_ALREADY_ON_DATE,
)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _d(value: date | None) -> str:
    return value.isoformat() if value else "-"


def message(code: str, ctx: dict[str, Any]) -> str:
    """A sentence for people that names the figures behind `code`."""
    p = ctx["policy"]
    dos: date = ctx["dos"]
    dx = ctx["diagnosis"]
    payer = p.label or p.name
    initial, ext, cap = p.initial_sessions, p.extension_sessions, p.annual_cap
    if code == BEFORE_COVERAGE_EFFECTIVE:
        return f"{_d(dos)} is before {payer} began covering acupuncture on {_d(p.effective_date)}."
    if code == NO_QUALIFYING_DIAGNOSIS:
        return f"No chronic low back pain diagnosis is on record on or before {_d(dos)}: record one first."
    if code == DIAGNOSIS_CODE_NOT_COVERED:
        accepted = ", ".join(c.code for c in p.diagnosis_codes if c.valid_on(dos)) or "none"
        return f"Diagnosis {dx.icd10_code} is not on {payer}'s list for {_d(dos)} (accepted on that date: {accepted})."
    if code == PAIN_UNDER_12_WEEKS:
        days = (dos - dx.onset_date).days
        weeks = p.pain_min_days // 7
        return (
            f"On {_d(dos)} the pain has lasted {days} days (onset {_d(dx.onset_date)}); it must have lasted "
            f"{p.pain_min_days} days ({weeks} weeks), which it will on {_d(date.fromordinal(dx.onset_date.toordinal() + p.pain_min_days))}."
        )
    if code == SYSTEMIC_CAUSE:
        return "The low back pain has an identifiable systemic cause (metastatic, inflammatory, infectious ...): not covered."
    if code == SURGERY_RELATED:
        return "The low back pain is associated with surgery: not covered."
    if code == PREGNANCY_RELATED:
        return "The low back pain is associated with pregnancy: not covered."
    if code == PAYER_NOT_COVERED:
        if not ctx["known_policy"]:
            return f"The payer '{p.name}' in force on {_d(dos)} has no acupuncture policy loaded."
        return f"The payer {payer} in force on {_d(dos)} does not cover acupuncture."
    if code == ANNUAL_LIMIT_REACHED:
        return (
            f"{ctx['used']} of {cap} covered sessions already used in the benefit period "
            f"{_d(ctx['start'])} to {_d(ctx['end'])}: the {ordinal(ctx['number'])} is over the limit of {cap}."
        )
    if code == EXTENSION_EXHAUSTED:
        return f"All {ext} extension sessions of the benefit period are used ({ctx['extension_used']} of {ext})."
    if code in (NOT_IMPROVING, REGRESSING):
        a = ctx["assessment"]
        word = "not improving" if code == NOT_IMPROVING else "regressing"
        return (
            f"The latest assessment ({_d(a.date)}) says {word}: treatment must be discontinued for the rest of "
            f"the benefit period (to {_d(ctx['end'])}) unless a later assessment documents improvement."
        )
    if code == IMPROVEMENT_NOT_DOCUMENTED:
        return (
            f"Extension sessions (after {initial} sessions or day {p.initial_window_days or '-'} of the course) need an "
            f"'improving' assessment dated on or before {_d(dos)} in this benefit period; record one, or without it "
            f"have the patient sign an ABN."
        )
    if code == INITIAL_LIMIT_REACHED:
        return (
            f"{ordinal(ctx['number'])} session of the period; sessions {initial + 1}-{initial + ext} need a "
            f"documented improvement."
        )
    if code == INITIAL_WINDOW_ENDED:
        return (
            f"{_d(dos)} is day {ctx['course_day']} of the course that began {_d(ctx['first'])}; the initial course "
            f"covers days 1-{p.initial_window_days} (to {_d(ctx['course_end'])})."
        )
    if code == SESSION_ALREADY_ON_DATE:
        return f"{_d(dos)} already has a performed session or a booked appointment (one per day)."
    raise ValueError(f"unknown reason code {code}")
