"""Shared pieces of the HTTP schemas: strict input types, the decision, the error body."""

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from coverage_tracker.domain.engine import STATUSES
from coverage_tracker.domain.events import CANCEL_REASONS, OUTCOMES
from coverage_tracker.domain.policy import ALL_CODES
from coverage_tracker.domain.reasons import REASON_CODES
from coverage_tracker.domain.time_units import MAX_LINE_UNITS, MAX_SEGMENT_MINUTES
from coverage_tracker.services.context import ROLES

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ONE_LINE = re.compile(ONE_LINE.strip("^$"))
_MULTI_LINE = re.compile(MULTI_LINE.strip("^$"))

DecisionStatus = StrEnum("DecisionStatus", {s: s for s in STATUSES})
ReasonCode = StrEnum("ReasonCode", {c: c for c in REASON_CODES})
AssessmentOutcome = StrEnum("AssessmentOutcome", {o: o for o in OUTCOMES})
CancelReason = StrEnum("CancelReason", {r: r for r in CANCEL_REASONS})
ClaimCode = StrEnum("ClaimCode", {f"CPT_{c}": c for c in ALL_CODES})
Role = StrEnum("Role", {r: r for r in ROLES})
Modifier = StrEnum("Modifier", {m: m for m in ("KX", "GA", "GZ")})


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, dt.date):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _one_line(value: str) -> str:
    if not _ONE_LINE.fullmatch(value):
        raise ValueError("must not contain control characters")
    return value


def _text(value: str) -> str:
    if not _MULTI_LINE.fullmatch(value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text), Field(examples=["2026-03-02"])]


def one_line(max_length: int, min_length: int = 1, **field: Any) -> Any:
    """A single-line string type of `min_length`-`max_length` printable characters."""
    return Annotated[
        str,
        Field(min_length=min_length, max_length=max_length, json_schema_extra={"pattern": ONE_LINE}, **field),
        AfterValidator(_one_line),
    ]


Note = Annotated[str, Field(max_length=2000, json_schema_extra={"pattern": MULTI_LINE}), AfterValidator(_text)]
Name = one_line(100)
PayerName = one_line(64, description="A payer the service has a policy for (`medicare` is built in).", examples=["medicare"])
Mbi = one_line(
    32,
    description="Medicare Beneficiary Identifier: 11 characters, dashes and case ignored.",
    examples=["1EG4-TE5-MK73"],
)


class Input(BaseModel):
    """A request body: unknown fields are refused (a misspelt optional field must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """A response body."""


class FieldError(Output):
    """One field error: where it is (`loc`), what is wrong (`msg`), its kind (`type`)."""

    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(Output):
    """Every error: `detail` (a message, or the list of field errors), the stable `code` where one applies."""

    detail: str | list[FieldError]
    code: str | None = Field(default=None, examples=["SESSION_ALREADY_ON_DATE"])
    field: str | None = Field(default=None, description="The field a 422 from a business rule is about.")


class Reason(Output):
    code: ReasonCode
    message: str


class Counters(Output):
    """Where the beneficiary stands before the proposed date (the date itself not counted)."""

    period_start: dt.date
    period_end: dt.date
    initial_course_end: dt.date | None
    initial_used: int
    initial_remaining: int
    extension_used: int
    extension_remaining: int
    period_used: int
    period_remaining: int
    policy: str
    policy_version: str


class Decision(Output):
    """The answer for one proposed date of service (RULES.md section 3)."""

    date: dt.date
    covered: bool
    status: DecisionStatus
    reasons: list[Reason]
    modifiers: list[Modifier]
    abn_recommended: bool
    next_covered_date: dt.date | None
    counters: Counters


class Segment(Input):
    """One needle insertion with its minutes of one-on-one contact."""

    minutes: StrictInt = Field(ge=1, le=MAX_SEGMENT_MINUTES, examples=[20])
    electrical_stimulation: StrictBool = False


class ClaimLine(Input):
    """One billed code with its units."""

    code: ClaimCode
    units: StrictInt = Field(ge=1, le=MAX_LINE_UNITS)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, all with the `ErrorBody` schema."""
    words = {
        401: "missing, unknown or revoked API key",
        403: "the key's role may not do this",
        404: "no such id in the key's clinic",
        409: "conflicts with what is recorded",
        413: "body too large",
        422: "invalid input; the message names the field",
    }
    return {status: {"model": ErrorBody, "description": words[status]} for status in statuses}
