"""Routes that record care: diagnoses, bookings and cancellations, sessions and voids, assessments, ABNs."""

from __future__ import annotations

from typing import Any

from coverage_tracker.services import care

from .deps import BeneficiaryId, IdempotencyKey, may_on_beneficiary
from .routes import contract_router
from .schemas import errors
from .schemas_care import (
    Abn,
    AbnRecorded,
    Assessment,
    AssessmentRecorded,
    Booked,
    Booking,
    Cancellation,
    Cancelled,
    Diagnosis,
    DiagnosisRecorded,
    SessionRecord,
    SessionRecorded,
    SessionVoided,
)

router = contract_router("/v1/beneficiaries/{beneficiary_id}", "care")
CREATED = {"status_code": 201, "responses": errors(401, 403, 404, 409, 422)}
CHANGED = {"responses": errors(401, 403, 404, 409, 422)}

CanDiagnose = may_on_beneficiary("diagnosis")
CanBook = may_on_beneficiary("book")
CanCancel = may_on_beneficiary("cancel", "appointment")
CanRecordSession = may_on_beneficiary("session")
CanVoid = may_on_beneficiary("void", "session")
CanAssess = may_on_beneficiary("assessment")
CanRecordAbn = may_on_beneficiary("abn")


@router.post("/diagnoses", response_model=DiagnosisRecorded, **CREATED)
def record_diagnosis(
    beneficiary_id: BeneficiaryId, body: Diagnosis, ctx: CanDiagnose, idempotency_key: IdempotencyKey = None
) -> Any:
    """Record a chronic low back pain diagnosis."""
    return care.record_diagnosis(ctx, beneficiary_id, **body.model_dump(), idempotency_key=idempotency_key)


@router.post("/appointments", response_model=Booked, **CREATED)
def book(beneficiary_id: BeneficiaryId, body: Booking, ctx: CanBook, idempotency_key: IdempotencyKey = None) -> Any:
    """Book a visit whatever the decision (it tells the desk what to do); 409 when the date is taken."""
    return care.book_appointment(ctx, beneficiary_id, day=body.date, idempotency_key=idempotency_key)


@router.post("/appointments/{appointment_id}/cancel", response_model=Cancelled, **CHANGED)
def cancel(
    beneficiary_id: BeneficiaryId,
    appointment_id: str,
    body: Cancellation,
    ctx: CanCancel,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Cancel a booked appointment, or mark it a no-show: either frees its place."""
    return care.cancel_appointment(ctx, beneficiary_id, appointment_id, reason=body.reason.value, idempotency_key=idempotency_key)


@router.post("/sessions", response_model=SessionRecorded, **CREATED)
def record_session(
    beneficiary_id: BeneficiaryId, body: SessionRecord, ctx: CanRecordSession, idempotency_key: IdempotencyKey = None
) -> Any:
    """Record a performed session from claim lines or from minutes; it fulfils a booking on its date."""
    fields = body.model_dump(mode="json", exclude={"date"})
    return care.record_session(ctx, beneficiary_id, day=body.date, **fields, idempotency_key=idempotency_key)


@router.post("/sessions/{session_id}/void", response_model=SessionVoided, **CHANGED)
def void_session(beneficiary_id: BeneficiaryId, session_id: str, ctx: CanVoid, idempotency_key: IdempotencyKey = None) -> Any:
    """Void a session entered in error: it no longer counts (its booking does not come back)."""
    return care.void_session(ctx, beneficiary_id, session_id, idempotency_key=idempotency_key)


@router.post("/assessments", response_model=AssessmentRecorded, **CREATED)
def record_assessment(
    beneficiary_id: BeneficiaryId, body: Assessment, ctx: CanAssess, idempotency_key: IdempotencyKey = None
) -> Any:
    """Record an improvement assessment: improving, not_improving or regressing."""
    return care.record_assessment(
        ctx, beneficiary_id, day=body.date, outcome=body.outcome.value, note=body.note, idempotency_key=idempotency_key
    )


@router.post("/abns", response_model=AbnRecorded, **CREATED)
def record_abn(beneficiary_id: BeneficiaryId, body: Abn, ctx: CanRecordAbn, idempotency_key: IdempotencyKey = None) -> Any:
    """Record a signed ABN; by default it runs to the end of the benefit period holding `signed_on`."""
    return care.record_abn(ctx, beneficiary_id, **body.model_dump(), idempotency_key=idempotency_key)
