"""The policy engine: RULES.md sections 1-3 as a pure function of (history, payer policies, dates)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Container, Iterable, Protocol, Sequence

from dateutil.relativedelta import relativedelta

from . import reasons as R
from .history import History
from .policy import MEDICARE, PayerPolicy

COVERED = "covered"
NEEDS_ASSESSMENT = "needs_improvement_assessment"
NOT_COVERED = "not_covered"
STATUSES = (COVERED, NEEDS_ASSESSMENT, NOT_COVERED)

_ONE_DAY = timedelta(days=1)
_STOP_CODES = {"not_improving": R.NOT_IMPROVING, "regressing": R.REGRESSING}


class PolicySource(Protocol):
    def get(self, name: str) -> PayerPolicy | None: ...


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Counters:
    """Where the beneficiary stands before the proposed DOS (the DOS itself not counted)."""

    period_start: date
    period_end: date
    initial_course_end: date | None
    initial_used: int
    initial_remaining: int
    extension_used: int
    extension_remaining: int
    period_used: int
    period_remaining: int
    policy: str
    policy_version: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one proposed date of service."""

    date: date
    status: str
    reasons: tuple[Reason, ...]
    modifiers: tuple[str, ...]
    abn_recommended: bool
    next_covered_date: date | None
    counters: Counters
    extension: bool = False

    @property
    def covered(self) -> bool:
        return self.status == COVERED

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The decision in the public JSON shape of DESIGN.md."""
        c = self.counters
        return {
            "date": self.date.isoformat(),
            "covered": self.covered,
            "status": self.status,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "modifiers": list(self.modifiers),
            "abn_recommended": self.abn_recommended,
            "next_covered_date": self.next_covered_date.isoformat() if self.next_covered_date else None,
            "counters": {
                "period_start": c.period_start.isoformat(),
                "period_end": c.period_end.isoformat(),
                "initial_course_end": c.initial_course_end.isoformat() if c.initial_course_end else None,
                "initial_used": c.initial_used,
                "initial_remaining": c.initial_remaining,
                "extension_used": c.extension_used,
                "extension_remaining": c.extension_remaining,
                "period_used": c.period_used,
                "period_remaining": c.period_remaining,
                "policy": c.policy,
                "policy_version": c.policy_version,
            },
        }


def end_of_eleventh_full_month(first: date) -> date:
    """Last day of the 11th full month after the month of `first` (2020-03-21 -> 2021-02-28)."""
    return date(first.year + 1, first.month, 1) - _ONE_DAY


def period_bounds(kind: str, day: date, plan_year_start_month: int = 1) -> tuple[date, date]:
    """The fixed-calendar period holding `day` (calendar_year, plan_year, rolling_365_days)."""
    if kind == "calendar_year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if kind == "plan_year":
        year = day.year if day.month >= plan_year_start_month else day.year - 1
        return date(year, plan_year_start_month, 1), date(year + 1, plan_year_start_month, 1) - _ONE_DAY
    if kind == "rolling_365_days":
        return day - timedelta(days=364), day
    raise ValueError(f"not a fixed-calendar benefit period: {kind}")


class _Ledger:
    """Covered sessions judged so far, in date order, and the eleven-month period chain."""

    __slots__ = ("dates", "ext_prefix", "anchor_start", "anchor_end")

    def __init__(self) -> None:
        self.dates: list[int] = []
        self.ext_prefix: list[int] = [0]
        self.anchor_start = 0
        self.anchor_end = -1

    def add(self, day: int, is_extension: bool) -> None:
        self.dates.append(day)
        self.ext_prefix.append(self.ext_prefix[-1] + is_extension)
        if day > self.anchor_end:
            self.anchor_start = day
            self.anchor_end = end_of_eleventh_full_month(date.fromordinal(day)).toordinal()

    def mark(self) -> tuple[int, int, int]:
        return len(self.dates), self.anchor_start, self.anchor_end

    def reset(self, mark: tuple[int, int, int]) -> None:
        n, self.anchor_start, self.anchor_end = mark
        del self.dates[n:]
        del self.ext_prefix[n + 1 :]


@dataclass(slots=True)
class _Judgement:
    """Everything decided about one DOS, before messages are written."""

    day: int
    policy: PayerPolicy
    known_policy: bool
    eligibility: list[str]
    start: int
    end: int
    first: int
    course_end: int | None
    used: int
    extension_used: int
    is_extension: bool
    stop: str | None
    improving: bool
    annual_limit: bool
    extension_exhausted: bool

    @property
    def number(self) -> int:
        return self.used + 1

    @property
    def needs_improvement(self) -> bool:
        return self.is_extension and not self.improving

    @property
    def blocked(self) -> bool:
        return bool(self.eligibility) or self.annual_limit or self.extension_exhausted or self.stop is not None

    @property
    def covered(self) -> bool:
        return not self.blocked and not self.needs_improvement


class Engine:
    """Judges dates for one history under a set of payer policies."""

    def __init__(self, history: History, policies: PolicySource | None = None):
        self.h = history
        self.policies = policies if policies is not None else {MEDICARE.name: MEDICARE}
        self._policy_cache: dict[str, tuple[PayerPolicy, bool]] = {}
        self._gates: dict[tuple[str, int], tuple[PayerPolicy, int, tuple[tuple[int, int], ...]] | None] = {}

    def _policy(self, day: int) -> tuple[PayerPolicy, bool]:
        name = self.h.payer_on(day) if self.h.payer_changes else self.h.base_payer
        return self._policy_cache.get(name) or self._named_policy(name)

    def _payer_in_force_until(self, day: int) -> int:
        """The last day before the next payer change after `day` (far future when none)."""
        k = bisect_right(self.h.payer_dates, day)
        return self.h.payer_dates[k] - 1 if k < len(self.h.payer_dates) else 1 << 30

    def _named_policy(self, name: str) -> tuple[PayerPolicy, bool]:
        policy = self.policies.get(name)
        hit = (policy, True) if policy is not None else (PayerPolicy(name=name, version="unknown", label=name), False)
        self._policy_cache[name] = hit
        return hit

    def _eligibility(self, day: int, policy: PayerPolicy, known: bool) -> list[str]:
        codes: list[str] = []
        dos = date.fromordinal(day)
        if dos < policy.effective_date:
            codes.append(R.BEFORE_COVERAGE_EFFECTIVE)
        dx = self.h.diagnosis_on(day)
        if dx is None:
            codes.append(R.NO_QUALIFYING_DIAGNOSIS)
        else:
            if not policy.accepts_code(dx.icd10_code, dos):
                codes.append(R.DIAGNOSIS_CODE_NOT_COVERED)
            if dx.onset_date.toordinal() > day - policy.pain_min_days:
                codes.append(R.PAIN_UNDER_12_WEEKS)
            if dx.systemic_cause:
                codes.append(R.SYSTEMIC_CAUSE)
            if dx.surgery_related:
                codes.append(R.SURGERY_RELATED)
            if dx.pregnancy_related:
                codes.append(R.PREGNANCY_RELATED)
        if not known or not policy.acupuncture_covered:
            codes.append(R.PAYER_NOT_COVERED)
        return codes

    def _period(self, day: int, policy: PayerPolicy, ledger: _Ledger) -> tuple[int, int]:
        if policy.benefit_period == "eleven_full_months":
            if day <= ledger.anchor_end:
                return ledger.anchor_start, ledger.anchor_end
            return day, end_of_eleventh_full_month(date.fromordinal(day)).toordinal()
        start, end = period_bounds(policy.benefit_period, date.fromordinal(day), policy.plan_year_start_month)
        return start.toordinal(), end.toordinal()

    def judge(self, day: int, ledger: _Ledger) -> _Judgement:
        """Judge ordinal date `day` against the covered sessions in `ledger` (all dated before it)."""
        policy, known = self._policy(day)
        start, end = self._period(day, policy, ledger)
        dates = ledger.dates
        lo = bisect_left(dates, start)
        used = len(dates) - lo
        ext_used = ledger.ext_prefix[-1] - ledger.ext_prefix[lo]
        first = dates[lo] if used else day
        window = policy.initial_window_days
        course_end = first + window - 1 if window is not None else None
        is_extension = used + 1 > policy.initial_sessions or (course_end is not None and day > course_end)
        assessment = self.h.assessment_on(day)
        if assessment is not None and assessment.date.toordinal() < start:
            assessment = None
        outcome = assessment.outcome if assessment is not None else None
        return _Judgement(
            day=day,
            policy=policy,
            known_policy=known,
            eligibility=self._eligibility(day, policy, known),
            start=start,
            end=end,
            first=first,
            course_end=course_end,
            used=used,
            extension_used=ext_used,
            is_extension=is_extension,
            stop=_STOP_CODES.get(outcome) if outcome else None,
            improving=outcome == "improving",
            annual_limit=used >= policy.annual_cap,
            extension_exhausted=is_extension and ext_used >= policy.extension_sessions,
        )

    def _gate(self, payer: str, dx: Any) -> tuple[PayerPolicy, int, tuple[tuple[int, int], ...]] | None:
        """(policy, first eligible day, ordinal ranges the code is accepted) for a payer and diagnosis; None: never eligible."""
        key = (payer, id(dx))
        if key in self._gates:
            return self._gates[key]
        policy, known = self._policy_cache.get(payer) or self._named_policy(payer)
        gate = None
        if known and policy.acupuncture_covered and dx is not None and not (dx.systemic_cause or dx.surgery_related or dx.pregnancy_related):
            ranges = tuple(
                (c.valid_from.toordinal() if c.valid_from else 0, c.valid_to.toordinal() if c.valid_to else 1 << 30)
                for c in policy.diagnosis_codes
                if c.code == dx.icd10_code
            )
            first_day = max(policy.effective_date.toordinal(), dx.onset_date.toordinal() + policy.pain_min_days)
            gate = (policy, first_day, ranges) if ranges else None
        self._gates[key] = gate
        return gate

    def _absorb(self, ledger: _Ledger, upto: int, slots: list[int], i: int) -> int:
        """Judge and count the slots before `upto`, from index `i`; returns the new index.

        The lean form of `judge` (covered or not, extension or not), run for every slot of the sweep.
        """
        h = self.h
        return self._sweep(ledger, upto, slots, i, h.slot_payers, h.slot_diagnoses, h.slot_assessments)

    def _classify(self, day: int, ledger: _Ledger) -> tuple[bool, bool]:
        """(covered, is_extension) of one date through the sweep's lean path, leaving `ledger` as it was."""
        h = self.h
        mark = ledger.mark()
        self._sweep(ledger, day + 1, [day], 0, [h.payer_on(day)], [h.diagnosis_on(day)], [h.assessment_on(day)])
        covered = len(ledger.dates) > mark[0]
        is_extension = covered and ledger.ext_prefix[-1] > ledger.ext_prefix[-2]
        ledger.reset(mark)
        return covered, is_extension

    def _sweep(
        self, ledger: _Ledger, upto: int, slots: list[int], i: int, payers: list[str], diagnoses: list[Any], assessments: list[Any]
    ) -> int:
        """The loop of `_absorb`, over slots with the payer, diagnosis and assessment in force on each."""
        n = len(slots)
        dates, prefix = ledger.dates, ledger.ext_prefix
        gate_key: tuple[str, int] | None = None
        gate = None
        while i < n and slots[i] < upto:
            day = slots[i]
            key = (payers[i], id(diagnoses[i]))
            if key != gate_key:
                gate_key, gate = key, self._gate(payers[i], diagnoses[i])
            i += 1
            if gate is None:
                continue
            policy, first_day, ranges = gate
            if day < first_day or not any(lo <= day <= hi for lo, hi in ranges):
                continue
            if policy.benefit_period == "eleven_full_months" and day <= ledger.anchor_end:
                start, end = ledger.anchor_start, ledger.anchor_end
            else:
                start, end = self._period(day, policy, ledger)
            lo = bisect_left(dates, start)
            used = len(dates) - lo
            if used >= policy.annual_cap:
                if policy.benefit_period != "rolling_365_days":
                    # the period is at its cap: nothing else in it, under this payer, can be covered
                    i = bisect_right(slots, min(end, upto - 1, self._payer_in_force_until(day)), i)
                continue
            window = policy.initial_window_days
            is_extension = used >= policy.initial_sessions or (window is not None and day >= (dates[lo] if used else day) + window)
            assessment = assessments[i - 1]
            outcome = assessment.outcome if assessment is not None and assessment.date.toordinal() >= start else None
            if outcome is not None and outcome != "improving":
                continue
            if is_extension and (outcome is None or prefix[-1] - prefix[lo] >= policy.extension_sessions):
                continue
            ledger.add(day, is_extension)
        return i

    def _next_change(self, j: _Judgement, ledger: _Ledger, slots: list[int], i: int) -> int | None:
        """The earliest date after j.day on which the judgement could differ."""
        day = j.day
        rolling = j.policy.benefit_period == "rolling_365_days"
        candidates = [] if rolling else [j.end + 1]  # a rolling window's end moves with the date
        if i < len(slots):
            candidates.append(slots[i] + 1)
        if j.course_end is not None and j.course_end >= day:
            candidates.append(j.course_end + 1)
        if rolling and j.used:
            candidates.append(j.first + 365)
        moving_start = j.start == day or rolling
        assessment = self.h.assessment_on(day)
        if moving_start and assessment is not None and assessment.date.toordinal() >= j.start:
            # the period's start moves with the date: the assessment drops out of it
            candidates.append(assessment.date.toordinal() + (day - j.start) + 1)
        eff = j.policy.effective_date.toordinal()
        if eff > day:
            candidates.append(eff)
        candidates.extend(b.toordinal() for b in j.policy.code_boundaries() if b.toordinal() > day)
        dx = self.h.diagnosis_on(day)
        if dx is not None:
            candidates.append(dx.onset_date.toordinal() + j.policy.pain_min_days)
        for dated in (self.h.diagnosis_dates, self.h.assessment_dates, self.h.payer_dates):
            k = bisect_right(dated, day)
            if k < len(dated):
                candidates.append(dated[k])
        later = [c for c in candidates if c > day]
        return min(later) if later else None

    def _next_covered(self, day: int, limit: int, ledger: _Ledger, slots: list[int], i: int, taken: Container[int]) -> int | None:
        """Earliest date from `day` to `limit` that would be covered, counting slots as booked."""
        mark = ledger.mark()
        try:
            while day <= limit:
                i = self._absorb(ledger, day, slots, i)
                if (i < len(slots) and slots[i] == day) or day in taken:
                    day += 1
                    continue
                j = self.judge(day, ledger)
                if j.covered:
                    return day
                nxt = self._next_change(j, ledger, slots, i)
                if nxt is None:
                    return None
                day = nxt
            return None
        finally:
            ledger.reset(mark)

    def check(self, dates: Iterable[date]) -> list[Decision]:
        """Decisions for a series of dates, in date order, each counting the earlier ones as booked."""
        slots = self.h.slots
        taken_slots = self.h.taken
        ledger = _Ledger()
        series: dict[int, _Judgement] = {}
        i = 0
        out: list[Decision] = []
        for dos in sorted(dates):
            day = dos.toordinal()
            i = self._absorb(ledger, day, slots, i)
            occupied = day in taken_slots or day in series
            # a date asked twice is judged as the first time: its own earlier occurrence is not counted
            j = series[day] if day in series else self.judge(day, ledger)
            if j.covered and not occupied:
                next_day: int | None = day
            else:
                limit = (dos + relativedelta(years=2)).toordinal()
                next_day = self._next_covered(day + 1, limit, ledger, slots, i, series)
            out.append(self._decision(j, occupied, next_day))
            if not occupied:
                series[day] = j
                if j.covered:
                    ledger.add(day, j.is_extension)
        return out

    def decide(self, dos: date) -> Decision:
        """The decision for one date of service."""
        return self.check([dos])[0]

    def counters(self, dos: date) -> Counters:
        """The counters of `decide(dos)` alone: where the beneficiary stands before `dos`, without its next covered date or reasons."""
        return Standing(self).before(dos)

    def _decision(self, j: _Judgement, occupied: bool, next_day: int | None) -> Decision:
        dos = date.fromordinal(j.day)
        p = j.policy
        codes: list[str] = [R.SESSION_ALREADY_ON_DATE] if occupied else []
        codes += j.eligibility
        if j.annual_limit:
            codes.append(R.ANNUAL_LIMIT_REACHED)
        if j.extension_exhausted:
            codes.append(R.EXTENSION_EXHAUSTED)
        if j.stop:
            codes.append(j.stop)
        blocked = occupied or j.blocked
        if j.needs_improvement and not j.stop and not j.extension_exhausted:
            codes.append(R.IMPROVEMENT_NOT_DOCUMENTED)
            if j.number > p.initial_sessions:
                codes.append(R.INITIAL_LIMIT_REACHED)
            if j.course_end is not None and j.day > j.course_end:
                codes.append(R.INITIAL_WINDOW_ENDED)
        if blocked:
            status = NOT_COVERED
        elif j.needs_improvement:
            status = NEEDS_ASSESSMENT
        else:
            status = COVERED
        if status == COVERED:
            modifiers: tuple[str, ...] = ("KX",) if j.is_extension and p.extension_requires_kx else ()
            abn_recommended = False
        elif status == NEEDS_ASSESSMENT or occupied:
            modifiers, abn_recommended = (), False
        else:
            abn = self.h.abn_covering(dos)
            modifiers = ("GA",) if abn else ("GZ",)
            abn_recommended = abn is None
        counters = self._counters(j)
        reasons = tuple(Reason(code, R.message(code, self._context(j, dos))) for code in codes)
        return Decision(
            date=dos,
            status=status,
            reasons=reasons,
            modifiers=modifiers,
            abn_recommended=abn_recommended,
            next_covered_date=date.fromordinal(next_day) if next_day is not None else None,
            counters=counters,
            extension=j.is_extension,
        )

    def _counters(self, j: _Judgement) -> Counters:
        p = j.policy
        initial_used = j.used - j.extension_used
        course_over = j.course_end is not None and j.day > j.course_end
        return Counters(
            period_start=date.fromordinal(j.start),
            period_end=date.fromordinal(j.end),
            initial_course_end=date.fromordinal(j.course_end) if j.course_end is not None else None,
            initial_used=initial_used,
            initial_remaining=0 if course_over else max(0, p.initial_sessions - initial_used),
            extension_used=j.extension_used,
            extension_remaining=max(0, p.extension_sessions - j.extension_used),
            period_used=j.used,
            period_remaining=max(0, p.annual_cap - j.used),
            policy=p.name,
            policy_version=p.version,
        )

    def _context(self, j: _Judgement, dos: date) -> dict[str, Any]:
        p = j.policy
        dx = self.h.diagnosis_on(j.day)
        assessment = self.h.assessment_on(j.day)
        return {
            "dos": dos,
            "policy": p,
            "diagnosis": dx,
            "assessment": assessment,
            "number": j.number,
            "used": j.used,
            "extension_used": j.extension_used,
            "start": date.fromordinal(j.start),
            "end": date.fromordinal(j.end),
            "first": date.fromordinal(j.first),
            "course_day": j.day - j.first + 1,
            "course_end": date.fromordinal(j.course_end) if j.course_end is not None else None,
            "known_policy": j.known_policy,
        }


class Standing:
    """`Engine.counters` of dates asked in ascending order, the log's sessions and bookings counted once for all of them."""

    __slots__ = ("_engine", "_ledger", "_next_slot", "_day")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ledger = _Ledger()
        self._next_slot = 0
        self._day = 0

    def before(self, dos: date) -> Counters:
        """The counters of `dos`, a date no earlier than the one asked before it."""
        day = dos.toordinal()
        if day < self._day:
            raise ValueError(f"{dos.isoformat()} is before {date.fromordinal(self._day).isoformat()}: ask dates in ascending order")
        engine = self._engine
        self._next_slot = engine._absorb(self._ledger, day, engine.h.slots, self._next_slot)
        self._day = day
        return engine._counters(engine.judge(day, self._ledger))


def check_dates(history: History, dates: Sequence[date], policies: PolicySource | None = None) -> list[Decision]:
    """Decisions for `dates` in date order, each later date counting the earlier ones as booked."""
    return Engine(history, policies).check(dates)


def decide(history: History, dos: date, policies: PolicySource | None = None) -> Decision:
    """The decision for one proposed date of service."""
    return Engine(history, policies).decide(dos)
