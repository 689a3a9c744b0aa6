"""Routes about who the patient is: enrol, read, search, change payer."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from coverage_tracker.services import beneficiaries

from .deps import BeneficiaryId, IdempotencyKey, may, may_on_beneficiary
from .routes import contract_router
from .schemas import errors
from .schemas_beneficiaries import Beneficiary, Enrolment, PayerChange, PayerChanged, Search, SearchResults

router = contract_router("/v1/beneficiaries", "beneficiaries")

CanEnrol = may("enrol")
CanSearch = may("search")
CanRead = may_on_beneficiary("read")
CanChangePayer = may_on_beneficiary("payer_change")


@router.post("", status_code=201, response_model=Beneficiary, responses=errors(401, 403, 409, 422))
def enrol(
    body: Enrolment, request: Request, ctx: CanEnrol, idempotency_key: IdempotencyKey = None
) -> Any:
    """Enrol a beneficiary; 409 when the MBI is already enrolled in the clinic. Answers the full MBI."""
    created = beneficiaries.enrol(ctx, **body.model_dump(), idempotency_key=idempotency_key)
    request.state.beneficiary_id = created["id"]
    return created


@router.post("/search", response_model=SearchResults, responses=errors(401, 403, 422))
def search(body: Search, ctx: CanSearch) -> Any:
    """Find the clinic's beneficiaries by exact MBI, or by last-name prefix and birth date; MBIs masked."""
    return {"results": beneficiaries.search(ctx, **body.model_dump(exclude_none=True))}


@router.get("/{beneficiary_id}", response_model=Beneficiary, responses=errors(401, 403, 404))
def read(beneficiary_id: BeneficiaryId, ctx: CanRead) -> Any:
    """The enrolment fields with the full MBI, and the payer in force today."""
    return beneficiaries.get(ctx, beneficiary_id)


@router.post(
    "/{beneficiary_id}/payer-changes", status_code=201, response_model=PayerChanged, responses=errors(401, 403, 404, 409, 422)
)
def change_payer(
    beneficiary_id: BeneficiaryId,
    body: PayerChange,
    ctx: CanChangePayer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Record the payer in force from `effective_date` (an unknown payer is a 422 naming the known ones)."""
    return beneficiaries.change_payer(ctx, beneficiary_id, **body.model_dump(), idempotency_key=idempotency_key)
