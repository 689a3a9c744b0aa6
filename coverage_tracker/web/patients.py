"""Finding a patient (by MBI, posted, or by last name), enrolling one, and the coverage card."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from coverage_tracker.domain.mbi import mask_mbi
from coverage_tracker.services import beneficiaries, desk
from coverage_tracker.services.errors import Conflict, InvalidInput

from . import forms
from .pages import DeskUser, User, desk_router, redirect, render

router = desk_router()


def patient_header(user: DeskUser, beneficiary_id: str) -> dict[str, Any]:
    """The enrolment fields shown above every patient page, with the MBI masked."""
    patient = beneficiaries.get(user.ctx, beneficiary_id)
    patient["mbi_masked"] = mask_mbi(patient.pop("mbi"))
    return patient


@router.get("")
def home(request: Request, user: User) -> Response:
    """Find a patient."""
    return render(request, "find.html", user, form={})


@router.post("/find")
def find(
    request: Request,
    user: User,
    mbi: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
) -> Response:
    """Search by exact MBI, else by last-name prefix (and birth date); the MBI travels in the body only."""
    user.require("search")
    form = {"last_name": last_name, "birth_date": birth_date}
    try:
        if mbi.strip():
            with user.audit("search"):
                results = beneficiaries.search(user.ctx, mbi=mbi)
        elif last_name.strip():
            born = forms.optional_date("birth_date", birth_date, "Birth date")
            with user.audit("search"):
                results = beneficiaries.search(user.ctx, last_name=last_name, birth_date=born)
        else:
            raise InvalidInput("mbi", "give an MBI, or a last name")
    except InvalidInput as exc:
        return render(request, "find.html", user, status_code=422, form=form, error=exc)
    return render(request, "find.html", user, form=form, results=results, searched=True)


@router.get("/enrol")
def enrol_page(request: Request, user: User) -> Response:
    user.require("enrol")
    return render(request, "enrol.html", user, form={"payer": "medicare"}, payers=user.ctx.policies.names())


@router.post("/enrol")
def enrol(
    request: Request,
    user: User,
    mbi: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    payer: Annotated[str, Form()] = "medicare",
) -> Response:
    """Enrol; the form comes back with the message (and without the MBI) when something is wrong."""
    user.require("enrol")
    form = {"first_name": first_name, "last_name": last_name, "birth_date": birth_date, "payer": payer}
    try:
        born = forms.a_date("birth_date", birth_date, "Birth date")
        with user.audit("enrol"):
            created = beneficiaries.enrol(
                user.ctx, mbi=mbi, first_name=first_name, last_name=last_name, birth_date=born, payer=payer
            )
    except (InvalidInput, Conflict) as exc:
        return render(
            request, "enrol.html", user, status_code=exc.status, form=form, error=exc, payers=user.ctx.policies.names()
        )
    return redirect(f"/desk/patients/{created['id']}", f"Enrolled {created['first_name']} {created['last_name']}.")


@router.get("/patients/{beneficiary_id}")
def coverage_card(request: Request, user: User, beneficiary_id: str, as_of: str = "") -> Response:
    """The coverage card: eligibility, the course and period counts, assessment, next covered date, bookings."""
    with user.audit("read", beneficiary_id):
        patient = patient_header(user, beneficiary_id)
        try:
            day = forms.optional_date("as_of", as_of, "As of")
            card = desk.card(user.ctx, beneficiary_id, day)
        except InvalidInput as exc:
            return render(request, "error.html", user, status_code=422, title="Not shown", message=exc.message)
    return render(request, "card.html", user, patient=patient, card=card, today=user.ctx.today, tab="card")
