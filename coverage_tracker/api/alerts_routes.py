"""Routes of the daily alerts: the day's alerts for every role, the digest's recipients for admin."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import Field, StrictStr

from coverage_tracker.services import alerts as daily

from .deps import State, may
from .routes import contract_router
from .schemas import Input, IsoDate, Output, errors

router = contract_router("/v1", "alerts")

CanSeeAlerts = may("alerts")
CanSetRecipients = may("clinic_settings")


class Alert(Output):
    """One thing the desk must act on; the patient shown by first initial, last name and masked MBI."""

    kind: str = Field(examples=["BOOKED_VISIT_NOT_COVERED"])
    severity: Literal["critical", "warning", "info"]
    beneficiary_id: str
    patient: str = Field(examples=["R. Parkes (*******AP24)"])
    subject: str = Field(examples=["appointment on 2026-03-02"])
    message: str = Field(description="Why, with the figures, and what to do.")
    new: bool = Field(description="No alert of this kind, patient and subject was stored for an earlier date.")


class Alerts(Output):
    date: dt.date
    alerts: list[Alert]
    stored: bool = Field(description="True: the alerts the day's scan stored; false: computed now from the log.")


class Recipients(Input):
    recipients: list[StrictStr] = Field(max_length=daily.MAX_RECIPIENTS, examples=[["desk@clinic.example"]])


@router.get("/alerts", response_model=Alerts, responses=errors(401, 403, 422))
def list_alerts(
    ctx: CanSeeAlerts,
    state: State,
    day: Annotated[IsoDate | None, Query(alias="date", description="YYYY-MM-DD; default: the clinic's today.")] = None,
) -> Any:
    """The clinic's alerts on a date, most severe first: as the daily scan stored them, else computed now."""
    return daily.list_alerts(ctx, day or ctx.today, state.settings.alert_lookahead_days)


@router.put("/clinic/recipients", response_model=Recipients, responses=errors(401, 403, 422))
def put_recipients(body: Recipients, ctx: CanSetRecipients) -> Any:
    """Replace who receives the clinic's daily alert digest (an empty list: none is sent)."""
    return {"recipients": daily.set_recipients(ctx.db, ctx.clinic_id, body.recipients)}
