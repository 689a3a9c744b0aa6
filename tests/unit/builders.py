"""A small fluent builder of one beneficiary's event log, for the domain tests."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from coverage_tracker.domain.engine import Decision, Engine
from coverage_tracker.domain.events import (
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
from coverage_tracker.domain.history import History, fold
from coverage_tracker.domain.policy import MEDICARE, PayerPolicy

D = date.fromisoformat
_ids = count(1)


def _id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


class Log:
    """Events of one beneficiary, appended in log order."""

    def __init__(self, payer: str = "medicare", *policies: PayerPolicy):
        self.events: list[Event] = [BeneficiaryEnrolled("1EG4TE5MK73", "Rita", "Parkes", D("1950-05-01"), payer, D("2020-01-01"))]
        self.policies = {MEDICARE.name: MEDICARE, **{p.name: p for p in policies}}

    def diagnosis(self, onset: str = "2019-01-01", recorded_on: str = "2020-01-02", code: str = "M54.50", **flags: bool) -> "Log":
        self.events.append(DiagnosisRecorded(_id("dx"), code, D(onset), D(recorded_on), **flags))
        return self

    def session(self, day: str | date) -> str:
        sid = _id("s")
        self.events.append(SessionPerformed(sid, _d(day), (ClaimLine("97810", 1),), 15))
        return sid

    def sessions(self, first: str, n: int, every_days: int = 7) -> list[date]:
        days = [D(first) + timedelta(days=every_days * k) for k in range(n)]
        for d in days:
            self.session(d)
        return days

    def book(self, day: str | date) -> str:
        aid = _id("a")
        self.events.append(AppointmentBooked(aid, _d(day)))
        return aid

    def cancel(self, appointment_id: str, day: str | date, reason: str = "cancelled") -> "Log":
        self.events.append(AppointmentCancelled(appointment_id, _d(day), reason))
        return self

    def void(self, session_id: str, day: str | date) -> "Log":
        self.events.append(SessionVoided(session_id, _d(day)))
        return self

    def assess(self, day: str | date, outcome: str = "improving") -> "Log":
        self.events.append(AssessmentRecorded(_id("as"), _d(day), outcome))
        return self

    def abn(self, signed_on: str, valid_until: str) -> "Log":
        self.events.append(AbnSigned(_id("abn"), D(signed_on), D(valid_until)))
        return self

    def payer(self, payer: str, effective: str) -> "Log":
        self.events.append(PayerChanged(payer, D(effective)))
        return self

    @property
    def history(self) -> History:
        return fold(self.events)

    def decide(self, day: str | date) -> Decision:
        return Engine(self.history, self.policies).decide(_d(day))

    def check(self, *days: str | date) -> list[Decision]:
        return Engine(self.history, self.policies).check([_d(d) for d in days])


def _d(day: str | date) -> date:
    return D(day) if isinstance(day, str) else day
