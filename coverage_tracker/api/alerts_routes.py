"""Routes of the daily alerts: the day's alerts for every role, the digest's recipients for admin."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from coverage_tracker.services import alerts as daily
from coverage_tracker.services.context import Ctx
from coverage_tracker.services.errors import InvalidInput

from .deps import State, permit

router = APIRouter(prefix="/v1", tags=["alerts"])
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AlertOut(BaseModel):
    kind: str = Field(examples=["BOOKED_VISIT_NOT_COVERED"])
    severity: Literal["critical", "warning", "info"]
    beneficiary_id: str
    patient: str = Field(examples=["R. Parkes (*******AP24)"])
    subject: str = Field(examples=["appointment on 2026-03-02"])
    message: str
    new: bool = Field(description="No alert of this kind, patient and subject was stored for an earlier date.")


class AlertsOut(BaseModel):
    date: date
    alerts: list[AlertOut]
    stored: bool = Field(description="True when these are the alerts the day's scan stored; false when computed now.")


class Recipients(BaseModel):
    recipients: list[str] = Field(max_length=daily.MAX_RECIPIENTS, examples=[["desk@clinic.example"]])


def _iso_date(text: str) -> date:
    try:
        if ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput("date", f"must be a date as YYYY-MM-DD, got {text[:40]!r}")


@router.get("/alerts", response_model=AlertsOut)
def list_alerts(
    ctx: Annotated[Ctx, Depends(permit("alerts"))],
    state: State,
    day: Annotated[str | None, Query(alias="date", description="YYYY-MM-DD; default: the clinic's today.")] = None,
) -> dict:
    """The clinic's alerts on a date: those the daily scan stored, else computed from the log as it stands."""
    when = ctx.today if day is None else _iso_date(day)
    return daily.list_alerts(ctx, when, state.settings.alert_lookahead_days)


@router.put("/clinic/recipients", response_model=Recipients)
def put_recipients(body: Recipients, ctx: Annotated[Ctx, Depends(permit("clinic_settings"))]) -> dict:
    """Replace who receives the clinic's daily alert digest (an empty list: none is sent)."""
    return {"recipients": daily.set_recipients(ctx.db, ctx.clinic_id, body.recipients)}
