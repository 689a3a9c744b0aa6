"""Read-only routes: booking checks (the hot path), the coverage summary, the event log, the coding helper."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import orjson
from fastapi import Query, Response

from coverage_tracker.services import coverage

from .deps import BEARER_SECURITY, BeneficiaryId, may, may_on_beneficiary, may_with_history
from .routes import contract_router
from .schemas import IsoDate, errors
from .schemas_care import BookingCheck, BookingCheckResults, Coded, Coding, CoverageSummary, EventLog

router = contract_router("/v1", "coverage")

CanCheck = may_on_beneficiary("check")
CheckWithHistory = may_with_history("check")
INLINE_CHECK_DATES = 8
CanReadEvents = may_on_beneficiary("events")
CanCode = may("time_units")


@router.post(
    "/beneficiaries/{beneficiary_id}/booking-checks",
    response_model=BookingCheckResults,
    responses=errors(401, 403, 404, 422),
    openapi_extra=BEARER_SECURITY,
)
async def check(beneficiary_id: BeneficiaryId, body: BookingCheck, loaded: CheckWithHistory) -> Response:
    """Decisions for the dates in date order, each later date counting the earlier ones as booked; past dates too."""
    # The history is already read (in a worker thread); judging a few dates is microseconds of pure
    # computation, so it runs here, and a long series goes to a worker thread. The decisions are
    # plain dicts of the documented shape: serialised directly, without a second validation.
    if len(body.dates) <= INLINE_CHECK_DATES:
        results = coverage.check_dates(loaded.ctx, beneficiary_id, body.dates, loaded.history)
    else:
        results = await anyio.to_thread.run_sync(coverage.check_dates, loaded.ctx, beneficiary_id, body.dates, loaded.history)
    return Response(orjson.dumps(results), media_type="application/json")


@router.get("/beneficiaries/{beneficiary_id}/coverage", response_model=CoverageSummary, responses=errors(401, 403, 404, 422))
def summary(
    beneficiary_id: BeneficiaryId,
    ctx: CanCheck,
    as_of: Annotated[IsoDate | None, Query(description="Default: the clinic's today.")] = None,
) -> Any:
    """Where the beneficiary stands on `as_of`: the booking check of that date, the diagnosis, the latest assessment."""
    return coverage.coverage_summary(ctx, beneficiary_id, as_of)


@router.get("/beneficiaries/{beneficiary_id}/events", response_model=EventLog, responses=errors(401, 403, 404))
def events(beneficiary_id: BeneficiaryId, ctx: CanReadEvents) -> Any:
    """The beneficiary's event log in version order (the enrolment's MBI masked)."""
    return coverage.event_history(ctx, beneficiary_id)


@router.post("/time-units", response_model=Coded, responses=errors(401, 403, 422))
def time_units(body: Coding, ctx: CanCode) -> Any:
    """Minutes per needle insertion -> 97810-97814 lines; units that cannot be billed are listed apart."""
    return coverage.time_units(ctx, body.model_dump(mode="json")["segments"], body.payer)
