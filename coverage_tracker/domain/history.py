"""The fold: one beneficiary's events -> their history (sessions, bookings, diagnoses, assessments, payers)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from .events import (
    AbnSigned,
    AppointmentBooked,
    AppointmentCancelled,
    AssessmentRecorded,
    BeneficiaryEnrolled,
    ClaimLine,
    DiagnosisRecorded,
    Event,
    PayerChanged,
    SessionPerformed,
    SessionVoided,
)

BOOKED = "booked"
FULFILLED = "fulfilled"


@dataclass(slots=True)
class Appointment:
    """A booking; `status` is booked, cancelled, no_show or fulfilled."""

    id: str
    date: date
    status: str = BOOKED


@dataclass(slots=True)
class Session:
    """A performed session; a voided one no longer counts anywhere."""

    id: str
    date: date
    lines: tuple[ClaimLine, ...]
    minutes: int | None
    voided: bool = False


@dataclass(slots=True)
class History:
    """Everything the policy engine needs about one beneficiary, with lookups by date."""

    enrolment: BeneficiaryEnrolled | None = None
    payer_changes: list[tuple[date, int, str]] = field(default_factory=list)
    diagnoses: list[tuple[date, int, DiagnosisRecorded]] = field(default_factory=list)
    assessments: list[tuple[date, int, AssessmentRecorded]] = field(default_factory=list)
    abns: list[AbnSigned] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    appointments: dict[str, Appointment] = field(default_factory=dict)
    slots: list[int] = field(default_factory=list)
    taken: frozenset[int] = frozenset()
    payer_dates: list[int] = field(default_factory=list)
    diagnosis_dates: list[int] = field(default_factory=list)
    assessment_dates: list[int] = field(default_factory=list)
    slot_payers: list[str] = field(default_factory=list)
    slot_diagnoses: list[DiagnosisRecorded | None] = field(default_factory=list)
    slot_assessments: list[AssessmentRecorded | None] = field(default_factory=list)

    def index(self) -> None:
        """Sort the dated facts and line them up with the slots (the engine's lookups); run once after folding."""
        self.payer_changes.sort(key=lambda t: (t[0], t[1]))
        self.diagnoses.sort(key=lambda t: (t[0], t[1]))
        self.assessments.sort(key=lambda t: (t[0], t[1]))
        self.slots = sorted(
            {s.date.toordinal() for s in self.sessions.values() if not s.voided}
            | {a.date.toordinal() for a in self.appointments.values() if a.status == BOOKED}
        )
        self.taken = frozenset(self.slots)
        self.payer_dates = [t[0].toordinal() for t in self.payer_changes]
        self.diagnosis_dates = [t[0].toordinal() for t in self.diagnoses]
        self.assessment_dates = [t[0].toordinal() for t in self.assessments]
        self.slot_payers = _latest_on(self.slots, self.payer_dates, [t[2] for t in self.payer_changes], self.base_payer)
        self.slot_diagnoses = _latest_on(self.slots, self.diagnosis_dates, [t[2] for t in self.diagnoses], None)
        self.slot_assessments = _latest_on(self.slots, self.assessment_dates, [t[2] for t in self.assessments], None)

    def without(self, day: date) -> "History":
        """A copy without the session or booking on `day` (how that slot is judged by what precedes it)."""
        h = History(
            enrolment=self.enrolment,
            payer_changes=list(self.payer_changes),
            diagnoses=list(self.diagnoses),
            assessments=list(self.assessments),
            abns=list(self.abns),
            sessions={k: s for k, s in self.sessions.items() if s.voided or s.date != day},
            appointments={k: a for k, a in self.appointments.items() if a.date != day},
        )
        h.index()
        return h

    @property
    def base_payer(self) -> str:
        return self.enrolment.payer if self.enrolment else "medicare"

    def payer_on(self, day: int) -> str:
        """The payer in force on the ordinal date `day`."""
        i = bisect_right(self.payer_dates, day)
        return self.payer_changes[i - 1][2] if i else self.base_payer

    def diagnosis_on(self, day: int) -> DiagnosisRecorded | None:
        """The latest diagnosis recorded on or before `day` (ties: recorded later wins)."""
        i = bisect_right(self.diagnosis_dates, day)
        return self.diagnoses[i - 1][2] if i else None

    def assessment_on(self, day: int) -> AssessmentRecorded | None:
        """The latest assessment dated on or before `day` (ties: recorded later wins)."""
        i = bisect_right(self.assessment_dates, day)
        return self.assessments[i - 1][2] if i else None

    def is_taken(self, day: date) -> bool:
        """True when `day` already holds a performed session or a booked appointment."""
        return day.toordinal() in self.taken

    def abn_covering(self, day: date) -> AbnSigned | None:
        """An ABN on file whose validity includes `day`, if any."""
        for abn in self.abns:
            if abn.signed_on <= day <= abn.valid_until:
                return abn
        return None

    def active_sessions(self) -> list[Session]:
        return sorted((s for s in self.sessions.values() if not s.voided), key=lambda s: s.date)

    def booked_appointments(self) -> list[Appointment]:
        return sorted((a for a in self.appointments.values() if a.status == BOOKED), key=lambda a: a.date)

    def session_on(self, day: date) -> Session | None:
        return next((s for s in self.sessions.values() if not s.voided and s.date == day), None)

    def booking_on(self, day: date) -> Appointment | None:
        return next((a for a in self.appointments.values() if a.status == BOOKED and a.date == day), None)


def fold(events: Iterable[Event]) -> History:
    """Fold events, in log order, into a history; voids and cancellations are honoured."""
    h = History()
    for seq, e in enumerate(events):
        if isinstance(e, SessionPerformed):
            h.sessions[e.session_id] = Session(e.session_id, e.date, e.lines, e.minutes)
            if e.fulfils_appointment_id and e.fulfils_appointment_id in h.appointments:
                h.appointments[e.fulfils_appointment_id].status = FULFILLED
        elif isinstance(e, AppointmentBooked):
            h.appointments[e.appointment_id] = Appointment(e.appointment_id, e.date)
        elif isinstance(e, AppointmentCancelled):
            appt = h.appointments.get(e.appointment_id)
            if appt is not None and appt.status == BOOKED:
                appt.status = e.reason
        elif isinstance(e, SessionVoided):
            session = h.sessions.get(e.session_id)
            if session is not None:
                session.voided = True
        elif isinstance(e, AssessmentRecorded):
            h.assessments.append((e.date, seq, e))
        elif isinstance(e, DiagnosisRecorded):
            h.diagnoses.append((e.recorded_on, seq, e))
        elif isinstance(e, PayerChanged):
            h.payer_changes.append((e.effective_date, seq, e.payer))
        elif isinstance(e, AbnSigned):
            h.abns.append(e)
        elif isinstance(e, BeneficiaryEnrolled):
            h.enrolment = e
    h.index()
    return h


def _latest_on(days: list[int], dated: list[int], values: list[Any], default: Any) -> list[Any]:
    """For each of the ascending `days`, the last of `values` dated on or before it (else `default`)."""
    out: list[Any] = []
    j, current, n = 0, default, len(dated)
    for day in days:
        while j < n and dated[j] <= day:
            current = values[j]
            j += 1
        out.append(current)
    return out


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def summarize(h: History) -> dict[str, Any]:
    """Flat, JSON-ready summary of a history for the per-beneficiary projection."""
    sessions = h.active_sessions()
    booked = h.booked_appointments()
    latest_assessment = h.assessments[-1][2] if h.assessments else None
    latest_diagnosis = h.diagnoses[-1][2] if h.diagnoses else None
    return {
        "payer": h.payer_changes[-1][2] if h.payer_changes else h.base_payer,
        "sessions_performed": len(sessions),
        "last_session_date": _iso(sessions[-1].date if sessions else None),
        "booked_count": len(booked),
        "first_booking_date": _iso(booked[0].date if booked else None),
        "last_booking_date": _iso(booked[-1].date if booked else None),
        "latest_assessment_date": _iso(latest_assessment.date if latest_assessment else None),
        "latest_assessment_outcome": latest_assessment.outcome if latest_assessment else None,
        "diagnosis_code": latest_diagnosis.icd10_code if latest_diagnosis else None,
    }
