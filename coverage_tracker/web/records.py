"""Recording care from the desk: a diagnosis, an improvement assessment, and a session from minutes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from coverage_tracker.services import care, coverage
from coverage_tracker.services.errors import Conflict, InvalidInput

from . import forms, view
from .pages import DeskUser, User, desk_router, redirect, render
from .patients import patient_header

router = desk_router()

SEGMENT_ROWS = 4
DIAGNOSIS_CODES = ("M54.50", "M54.51", "M54.59")


def _page(request: Request, user: DeskUser, template: str, beneficiary_id: str, tab: str, **context: Any) -> Response:
    patient = patient_header(user, beneficiary_id)
    return render(request, template, user, patient=patient, tab=tab, today=user.ctx.today, **context)


def _card(beneficiary_id: str, notice: str) -> Response:
    return redirect(f"/desk/patients/{beneficiary_id}", notice)


@router.get("/patients/{beneficiary_id}/diagnosis")
def diagnosis_page(request: Request, user: User, beneficiary_id: str) -> Response:
    user.require("diagnosis")
    form = {"icd10_code": DIAGNOSIS_CODES[0], "recorded_on": user.ctx.today.isoformat()}
    return _page(request, user, "diagnosis.html", beneficiary_id, "diagnosis", form=form, codes=DIAGNOSIS_CODES)


@router.post("/patients/{beneficiary_id}/diagnosis")
def record_diagnosis(
    request: Request,
    user: User,
    beneficiary_id: str,
    icd10_code: Annotated[str, Form()] = "",
    onset_date: Annotated[str, Form()] = "",
    recorded_on: Annotated[str, Form()] = "",
    systemic_cause: Annotated[str | None, Form()] = None,
    surgery_related: Annotated[str | None, Form()] = None,
    pregnancy_related: Annotated[str | None, Form()] = None,
) -> Response:
    """Record a low back pain diagnosis (code, onset, and the three exclusions)."""
    user.require("diagnosis")
    flags = {
        "systemic_cause": forms.checked(systemic_cause),
        "surgery_related": forms.checked(surgery_related),
        "pregnancy_related": forms.checked(pregnancy_related),
    }
    form = {"icd10_code": icd10_code, "onset_date": onset_date, "recorded_on": recorded_on, **flags}
    try:
        onset = forms.a_date("onset_date", onset_date, "Pain began on")
        recorded = forms.a_date("recorded_on", recorded_on, "Recorded on")
        with user.audit("diagnosis", beneficiary_id):
            care.record_diagnosis(user.ctx, beneficiary_id, icd10_code=icd10_code, onset_date=onset, recorded_on=recorded, **flags)
    except (InvalidInput, Conflict) as exc:
        return _page(
            request, user, "diagnosis.html", beneficiary_id, "diagnosis",
            form=form, codes=DIAGNOSIS_CODES, error=exc, status_code=exc.status,
        )
    return _card(beneficiary_id, f"Diagnosis {icd10_code.strip().upper()} recorded.")


@router.get("/patients/{beneficiary_id}/assessment")
def assessment_page(request: Request, user: User, beneficiary_id: str) -> Response:
    user.require("assessment")
    return _page(request, user, "assessment.html", beneficiary_id, "assessment", form={"date": user.ctx.today.isoformat()})


@router.post("/patients/{beneficiary_id}/assessment")
def record_assessment(
    request: Request,
    user: User,
    beneficiary_id: str,
    date: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Record an improvement assessment; an `improving` one opens the extension sessions."""
    user.require("assessment")
    form = {"date": date, "outcome": outcome, "note": note}
    try:
        day = forms.a_date("date", date, "Assessment date")
        if outcome not in view.OUTCOMES:
            raise InvalidInput("outcome", "choose the outcome")
        with user.audit("assessment", beneficiary_id):
            care.record_assessment(user.ctx, beneficiary_id, day=day, outcome=outcome, note=note.strip() or None)
    except (InvalidInput, Conflict) as exc:
        return _page(request, user, "assessment.html", beneficiary_id, "assessment", form=form, error=exc, status_code=exc.status)
    return _card(beneficiary_id, f"Assessment of {view.long_date(day)} recorded: {view.OUTCOMES[outcome].lower()}.")


def _segments(minutes: list[str], stimulation: list[str]) -> list[dict[str, Any]]:
    """The filled rows of the segments table, in order (blank rows are skipped)."""
    rows = []
    for i, raw in enumerate(minutes[:SEGMENT_ROWS]):
        if raw.strip():
            value = forms.a_number(f"minutes_{i}", raw, f"Minutes of set {i + 1}", 1, 240)
            rows.append({"minutes": value, "electrical_stimulation": str(i) in stimulation})
    if not rows:
        raise InvalidInput("minutes_0", "give the minutes of at least one set of needles")
    return rows


def _session_form(date: str, minutes: list[str], stimulation: list[str]) -> dict[str, Any]:
    padded = [*minutes[:SEGMENT_ROWS], *[""] * (SEGMENT_ROWS - len(minutes[:SEGMENT_ROWS]))]
    return {"date": date, "rows": [{"minutes": m, "estim": str(i) in stimulation} for i, m in enumerate(padded)]}


@router.get("/patients/{beneficiary_id}/session")
def session_page(request: Request, user: User, beneficiary_id: str) -> Response:
    user.require("session")
    return _page(request, user, "session.html", beneficiary_id, "session", form=_session_form(user.ctx.today.isoformat(), [], []))


@router.post("/patients/{beneficiary_id}/session")
def session_submit(
    request: Request,
    user: User,
    beneficiary_id: str,
    date: Annotated[str, Form()] = "",
    minutes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    estim: Annotated[list[str], Form()] = [],  # noqa: B006
    step: Annotated[str, Form()] = "preview",
) -> Response:
    """`step=preview` shows the coding helper's lines; `step=save` records the session from the same minutes."""
    user.require("session")
    form = _session_form(date, minutes, estim)
    try:
        day = forms.a_date("date", date, "Session date")
        segments = _segments(minutes, estim)
        if step != "save":
            with user.audit("time_units", beneficiary_id):
                payer = patient_header(user, beneficiary_id)["payer"]
                coded = coverage.time_units(user.ctx, segments, payer)
            return _page(request, user, "session.html", beneficiary_id, "session", form=form, coded=coded)
        with user.audit("session", beneficiary_id):
            saved = care.record_session(user.ctx, beneficiary_id, day=day, segments=segments)
    except (InvalidInput, Conflict) as exc:
        return _page(request, user, "session.html", beneficiary_id, "session", form=form, error=exc, status_code=exc.status)
    lines = ", ".join(f"{line['code']} x{line['units']}" for line in saved["lines"])
    status = view.status_of(saved["decision"])["label"].lower()
    return _card(beneficiary_id, f"Session of {view.long_date(day)} recorded ({lines}): {status}.")
