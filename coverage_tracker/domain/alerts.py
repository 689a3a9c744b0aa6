"""The daily alerts: what the desk must act on for one beneficiary on one date, judged by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from . import reasons as R
from .engine import NOT_COVERED, Counters, Decision, Engine, PolicySource, Standing
from .history import Appointment, History
from .mbi import mask_mbi
from .policy import MEDICARE, PayerPolicy

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SEVERITIES: tuple[str, ...] = (CRITICAL, WARNING, INFO)

BOOKED_VISIT_NOT_COVERED = "BOOKED_VISIT_NOT_COVERED"
IMPROVEMENT_ASSESSMENT_NEEDED = "IMPROVEMENT_ASSESSMENT_NEEDED"
APPROACHING_INITIAL_LIMIT = "APPROACHING_INITIAL_LIMIT"
APPROACHING_ANNUAL_CAP = "APPROACHING_ANNUAL_CAP"
DISCONTINUE_TREATMENT = "DISCONTINUE_TREATMENT"
DIAGNOSIS_MISSING_OR_INELIGIBLE = "DIAGNOSIS_MISSING_OR_INELIGIBLE"
COVERAGE_RENEWS = "COVERAGE_RENEWS"
APPOINTMENT_UNRESOLVED = "APPOINTMENT_UNRESOLVED"

TITLES: dict[str, str] = {
    BOOKED_VISIT_NOT_COVERED: "Booked visit not covered",
    IMPROVEMENT_ASSESSMENT_NEEDED: "Improvement assessment needed",
    APPROACHING_INITIAL_LIMIT: "Approaching the initial limit",
    APPROACHING_ANNUAL_CAP: "Approaching the annual cap",
    DISCONTINUE_TREATMENT: "Discontinue treatment",
    DIAGNOSIS_MISSING_OR_INELIGIBLE: "Diagnosis missing or ineligible",
    COVERAGE_RENEWS: "Coverage renews",
    APPOINTMENT_UNRESOLVED: "Appointment unresolved",
}
KINDS: tuple[str, ...] = tuple(TITLES)

DIAGNOSIS_CODES = frozenset(
    {R.NO_QUALIFYING_DIAGNOSIS, R.DIAGNOSIS_CODE_NOT_COVERED, R.PAIN_UNDER_12_WEEKS, R.SYSTEMIC_CAUSE, R.SURGERY_RELATED, R.PREGNANCY_RELATED}
)
STOP_CODES = frozenset({R.NOT_IMPROVING, R.REGRESSING})


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing the desk must act on (or know), about one beneficiary and one subject."""

    kind: str
    severity: str
    beneficiary_id: str
    patient: str
    subject: str
    message: str


def patient_label(first_name: str, last_name: str, mbi: str) -> str:
    """First initial, last name and masked MBI: `R. Parkes (*******AP24)`."""
    initial = first_name.strip()[:1].upper()
    return f"{initial}. {last_name.strip()} ({mask_mbi(mbi)})" if initial else f"{last_name.strip()} ({mask_mbi(mbi)})"


def appointment_subject(day: date) -> str:
    return f"appointment on {day.isoformat()}"


def period_subject(start: date) -> str:
    return f"benefit period from {start.isoformat()}"


def _without(history: History, day: date) -> History:
    """The history without the session or booking on `day`: how that slot is judged by what precedes it."""
    return history.without(day)


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _why(decision: Decision, codes: frozenset[str] | None = None) -> str:
    return " ".join(r.message for r in decision.reasons if codes is None or r.code in codes)


def _moved_to(decision: Decision) -> str:
    if decision.next_covered_date is None:
        return "; no date in the next two years would be covered"
    return f" to the next covered date, {decision.next_covered_date.isoformat()}"


class _Patient:
    """One beneficiary's history judged on the scan date."""

    def __init__(self, beneficiary_id: str, history: History, policies: PolicySource | None, scan_date: date, lookahead_days: int):
        self.id = beneficiary_id
        self.h = history
        self.policies = policies if policies is not None else {MEDICARE.name: MEDICARE}
        self.scan_date = scan_date
        self.horizon = scan_date + timedelta(days=lookahead_days)
        e = history.enrolment
        self.label = patient_label(e.first_name, e.last_name, e.mbi) if e else beneficiary_id
        booked = history.booked_appointments()
        self.past = [a for a in booked if a.date < scan_date]
        self.upcoming = [a for a in booked if a.date >= scan_date]
        self.engine = Engine(history, self.policies)
        self.standing = Standing(self.engine)
        self.now = self.standing.before(scan_date)
        self._alone: dict[date, Decision] = {}

    def alert(self, kind: str, severity: str, subject: str, message: str) -> Alert:
        return Alert(kind, severity, self.id, self.label, subject, message)

    def judged_alone(self, day: date) -> Decision:
        """The decision for the slot on `day` as if it were not yet there (other bookings before it count)."""
        if day not in self._alone:
            self._alone[day] = Engine(_without(self.h, day), self.policies).decide(day)
        return self._alone[day]

    def alerts(self) -> list[Alert]:
        out = [self.unresolved(a) for a in self.past]
        stopped: list[tuple[Appointment, Decision]] = []
        for appointment in self.upcoming:
            decision = self.judged_alone(appointment.date)
            out += self.for_appointment(appointment, decision)
            if STOP_CODES & set(decision.codes):
                stopped.append((appointment, decision))
        if stopped:
            out.append(self.discontinue(stopped))
        out += self.for_period()
        return out

    def unresolved(self, appointment: Appointment) -> Alert:
        return self.alert(
            APPOINTMENT_UNRESOLVED,
            WARNING,
            appointment_subject(appointment.date),
            f"The appointment on {appointment.date.isoformat()} has passed with no session, cancellation or no-show "
            "recorded, and it still counts as booked against the covered sessions. Record the session, or mark the "
            "appointment cancelled or a no-show.",
        )

    def for_appointment(self, appointment: Appointment, decision: Decision) -> list[Alert]:
        day = appointment.date
        subject = appointment_subject(day)
        codes = set(decision.codes)
        soon = day <= self.horizon
        out: list[Alert] = []
        if soon and decision.status == NOT_COVERED and decision.abn_recommended:
            out.append(self.alert(
                BOOKED_VISIT_NOT_COVERED, CRITICAL, subject,
                f"The visit on {day.isoformat()} would not be covered: {_why(decision)} Have the patient sign an ABN "
                f"(CMS-R-131) before the visit, or move the visit{_moved_to(decision)}.",
            ))
        if R.IMPROVEMENT_NOT_DOCUMENTED in codes:
            why = _why(decision, frozenset({R.INITIAL_LIMIT_REACHED, R.INITIAL_WINDOW_ENDED}))
            out.append(self.alert(
                IMPROVEMENT_ASSESSMENT_NEEDED, CRITICAL if soon else WARNING, subject,
                f"The visit on {day.isoformat()} is an extension session: {why} Record an 'improving' assessment on or "
                f"before {day.isoformat()}; without one the visit is not covered and needs a signed ABN.",
            ))
        if DIAGNOSIS_CODES & codes:
            out.append(self.alert(
                DIAGNOSIS_MISSING_OR_INELIGIBLE, WARNING, subject,
                f"The visit on {day.isoformat()} has no eligible diagnosis: {_why(decision, DIAGNOSIS_CODES)} Record a "
                f"qualifying chronic low back pain diagnosis before the visit, or move the visit{_moved_to(decision)}.",
            ))
        return out

    def discontinue(self, stopped: list[tuple[Appointment, Decision]]) -> Alert:
        first = stopped[0][1]
        dates = ", ".join(a.date.isoformat() for a, _ in stopped)
        cancel = "Cancel it or have the patient sign an ABN for it" if len(stopped) == 1 else "Cancel them or have the patient sign an ABN for each"
        return self.alert(
            DISCONTINUE_TREATMENT, CRITICAL, period_subject(first.counters.period_start),
            f"{_why(first, STOP_CODES)} Still booked in that period: {_n(len(stopped), 'appointment')} ({dates}). "
            f"{cancel}; record a new assessment if the patient improves.",
        )

    def period(self) -> tuple[date, date] | None:
        """The benefit period holding the scan date, else the next one that bookings open; None if neither."""
        now = self.now
        if now.period_used:
            return now.period_start, now.period_end
        for appointment in self.upcoming:
            decision = self.judged_alone(appointment.date)
            if decision.covered:
                return decision.counters.period_start, decision.counters.period_end
        return None

    def tally(self, end: date) -> tuple[int, int, Counters]:
        """(covered sessions, initial sessions) performed or booked in the period ending `end`, and the counters of a check of `end`."""
        at_end = self.standing.before(end)  # the end of a period holding the scan date or a booking after it: never before the scan date
        used, initial = at_end.period_used, at_end.initial_used
        if self.h.is_taken(end):
            own = self.judged_alone(end)
            if own.covered:
                used += 1
                initial += int(own.counters.initial_remaining > 0)
        return used, initial, at_end

    def for_period(self) -> list[Alert]:
        found = self.period()
        if found is None:
            return []
        start, end = found
        used, initial, at_end = self.tally(end)
        policy = self.policies.get(at_end.policy)
        if policy is None or not used:
            return []
        period = _Period(start, end, used, initial, at_end.initial_course_end, policy)
        out: list[Alert] = []
        assessed = any(start <= day <= end for day, _, _ in self.h.assessments)
        if initial >= policy.approaching_initial_threshold and not assessed:
            out.append(self.alert(APPROACHING_INITIAL_LIMIT, WARNING, period_subject(start), period.initial_limit()))
        if used >= policy.approaching_cap_threshold:
            out.append(self.alert(APPROACHING_ANNUAL_CAP, WARNING, period_subject(start), period.annual_cap()))
        if used >= policy.annual_cap and self.scan_date < period.renews <= self.horizon:
            message = period.renewal(self.scan_date, self.engine.decide(self.scan_date).next_covered_date)
            out.append(self.alert(COVERAGE_RENEWS, INFO, period_subject(period.renews), message))
        return out


@dataclass(frozen=True, slots=True)
class _Period:
    """A benefit period's figures, as the period alerts word them."""

    start: date
    end: date
    used: int
    initial: int
    course_end: date | None
    policy: PayerPolicy

    @property
    def span(self) -> str:
        return f"the benefit period {self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def renews(self) -> date:
        return self.end + timedelta(days=1)

    def initial_limit(self) -> str:
        p = self.policy
        window = f" or after {self.course_end.isoformat()} (day {p.initial_window_days} of the course)" if self.course_end else ""
        return (
            f"{self.initial} of {p.initial_sessions} initial sessions used or booked in {self.span}, and no assessment is "
            f"recorded in it. Sessions after the {R.ordinal(p.initial_sessions)}{window} are covered only with an "
            "'improving' assessment: schedule one before then."
        )

    def annual_cap(self) -> str:
        cap = self.policy.annual_cap
        left = max(0, cap - self.used)
        renews = self.renews.isoformat()
        plan = (
            f"The cap is reached: visits before {renews} need a signed ABN." if not left
            else f"Plan the remaining {_n(left, 'visit')}; any beyond the cap before {renews} need a signed ABN."
        )
        return f"{self.used} of {cap} covered sessions used or booked in {self.span}: {_n(left, 'session')} left. {plan}"

    def renewal(self, scan_date: date, next_covered: date | None) -> str:
        after = f" The next covered date is {next_covered.isoformat()}." if next_covered else ""
        return (
            f"All {self.policy.annual_cap} covered sessions of {self.span} are used or booked; a new benefit period can "
            f"start on {self.renews.isoformat()} (in {_n((self.renews - scan_date).days, 'day')}).{after} Offer the "
            "patient visits from then."
        )


def alerts_for(
    beneficiary_id: str,
    history: History,
    policies: PolicySource | None,
    scan_date: date,
    lookahead_days: int = 14,
) -> list[Alert]:
    """Every alert for one beneficiary on `scan_date`, each judgement made by the policy engine."""
    return _Patient(beneficiary_id, history, policies, scan_date, lookahead_days).alerts()
