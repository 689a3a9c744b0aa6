"""Request and response bodies about care and coverage: diagnoses, bookings, sessions, checks, coding."""

import datetime as dt
from typing import Any

from pydantic import ConfigDict, Field, StrictBool, model_validator

from coverage_tracker.services.coverage import MAX_CHECK_DATES

from .schemas import (
    AssessmentOutcome,
    CancelReason,
    ClaimCode,
    ClaimLine,
    Decision,
    Input,
    IsoDate,
    Note,
    Output,
    PayerName,
    Segment,
    one_line,
)

MAX_SEGMENTS = 32
MAX_LINES = 16

Icd10Code = one_line(16, description="ICD-10-CM, dotted (M54.50); case and surrounding spaces ignored.", examples=["M54.50"])


class Diagnosis(Input):
    """A chronic low back pain diagnosis; the latest recorded on or before a date of service counts."""

    icd10_code: Icd10Code
    onset_date: IsoDate = Field(description="When the pain began.", examples=["2025-06-01"])
    recorded_on: IsoDate = Field(examples=["2026-01-05"])
    systemic_cause: StrictBool = False
    surgery_related: StrictBool = False
    pregnancy_related: StrictBool = False


class DiagnosisRecorded(Output):
    id: str
    icd10_code: str
    onset_date: dt.date
    recorded_on: dt.date
    systemic_cause: bool
    surgery_related: bool
    pregnancy_related: bool


class Booking(Input):
    """A visit to book: today or later."""

    date: IsoDate


class Booked(Output):
    """The booking, and the decision that tells the desk what to do."""

    id: str
    date: dt.date
    decision: Decision


class Cancellation(Input):
    reason: CancelReason = CancelReason.cancelled


class Cancelled(Output):
    id: str
    date: dt.date
    status: CancelReason


class SessionRecord(Input):
    """A performed session, from claim lines or from minutes per needle insertion (exactly one of them)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["lines"]}, {"required": ["segments"]}]})

    date: IsoDate
    lines: list[ClaimLine] = Field(default=None, min_length=1, max_length=MAX_LINES)
    segments: list[Segment] = Field(default=None, min_length=1, max_length=MAX_SEGMENTS)

    @model_validator(mode="after")
    def _lines_or_segments(self) -> "SessionRecord":
        if (self.lines is None) == (self.segments is None):
            raise ValueError("give either lines or segments, not both and not neither")
        return self


class SessionRecorded(Output):
    """The session's billed lines and its decision, judged as if it were not yet recorded."""

    id: str
    date: dt.date
    lines: list[ClaimLine]
    fulfilled_appointment_id: str | None = Field(description="The booking on that date the session fulfils, if any.")
    decision: Decision


class SessionVoided(Output):
    id: str
    date: dt.date
    voided: bool


class Assessment(Input):
    """An improvement assessment."""

    date: IsoDate
    outcome: AssessmentOutcome
    note: Note | None = None


class AssessmentRecorded(Output):
    id: str
    date: dt.date
    outcome: AssessmentOutcome
    note: str | None


class Abn(Input):
    """A signed Advance Beneficiary Notice (CMS-R-131)."""

    signed_on: IsoDate
    valid_until: IsoDate | None = Field(default=None, description="Default: the end of the benefit period holding signed_on.")


class AbnRecorded(Output):
    id: str
    signed_on: dt.date
    valid_until: dt.date


class BookingCheck(Input):
    """Dates to judge in date order, each later one counting the earlier ones as booked; past dates too."""

    dates: list[IsoDate] = Field(min_length=1, max_length=MAX_CHECK_DATES, examples=[["2026-03-02", "2026-03-09"]])


class BookingCheckResults(Output):
    results: list[Decision]


class DiagnosisSummary(Output):
    icd10_code: str
    onset_date: dt.date
    recorded_on: dt.date
    pain_days: int
    systemic_cause: bool
    surgery_related: bool
    pregnancy_related: bool


class AssessmentSummary(Output):
    date: dt.date
    outcome: AssessmentOutcome
    note: str | None


class CoverageSummary(Output):
    """Where the beneficiary stands on `as_of`: the booking check of that date, diagnosis, assessment."""

    as_of: dt.date
    decision: Decision
    diagnosis: DiagnosisSummary | None
    latest_assessment: AssessmentSummary | None


class LoggedEvent(Output):
    version: int
    type: str = Field(examples=["appointment_booked"])
    business_date: dt.date
    payload: dict[str, Any]
    recorded_at: dt.datetime
    recorded_by: int | None = Field(description="The id of the API key that wrote it.")


class EventLog(Output):
    events: list[LoggedEvent]


class Coding(Input):
    """A visit's segments, to code as 97810-97814 lines."""

    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)
    payer: PayerName = "medicare"


class NotBillable(Output):
    code: ClaimCode
    units: int
    reason: str


class Coded(Output):
    lines: list[ClaimLine]
    not_billable: list[NotBillable]
    total_minutes: int
