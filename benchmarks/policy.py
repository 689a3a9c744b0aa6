"""Microseconds per coverage decision as a request pays for it: fold one beneficiary's events, decide one date.

Usage: python benchmarks/policy.py [--quick]
The last line printed is one JSON object: {"us_per_decision_40": ..., "us_per_decision_400": ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coverage_tracker.domain.engine import Engine  # noqa: E402
from coverage_tracker.domain.events import (  # noqa: E402
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
from coverage_tracker.domain.history import fold  # noqa: E402
from coverage_tracker.domain.policy import MEDICARE, PayerPolicy  # noqa: E402

PLAN = PayerPolicy(name="plan", version="1", benefit_period="calendar_year", initial_window_days=None, annual_cap=15)
POLICIES = {MEDICARE.name: MEDICARE, PLAN.name: PLAN}
LINES = (ClaimLine("97810", 1), ClaimLine("97811", 1))
TARGETS_US = {40: 50.0, 400: 500.0}


def course_of_treatment() -> tuple[list[Event], date]:
    """40 events: a twice-weekly course (14 sessions, each booked first, two visits cancelled), assessments, bookings ahead."""
    start = date(2024, 1, 8)
    events: list[Event] = [
        BeneficiaryEnrolled("1EG4TE5MK73", "Rita", "Parkes", date(1950, 5, 1), "medicare", date(2023, 12, 1)),
        DiagnosisRecorded("dx1", "M54.50", date(2023, 6, 1), date(2023, 12, 1)),
    ]
    visits = [start + timedelta(weeks=w, days=d) for w in range(10) for d in (0, 3)]
    for n, day in enumerate(visits[:16]):
        if n in (5, 11):
            events += [AppointmentBooked(f"a{n}", day), AppointmentCancelled(f"a{n}", day, "cancelled" if n == 5 else "no_show")]
        else:
            events += [AppointmentBooked(f"a{n}", day), SessionPerformed(f"s{n}", day, LINES, 25, fulfils_appointment_id=f"a{n}")]
    events += [AssessmentRecorded("as1", visits[8], "improving"), AssessmentRecorded("as2", visits[15], "improving")]
    events += [AppointmentBooked(f"a{n}", day) for n, day in enumerate(visits[16:], start=16)]
    assert len(events) == 40, len(events)
    return events, visits[-1] + timedelta(days=4)


def long_tail_patient() -> tuple[list[Event], date]:
    """400 events: four and a half years of weekly sessions, over the caps, with every kind of event and a payer change."""
    events: list[Event] = [
        BeneficiaryEnrolled("1EG4TE5MK73", "Rita", "Parkes", date(1950, 5, 1), "medicare", date(2020, 1, 21)),
        DiagnosisRecorded("dx1", "M54.5", date(2019, 6, 1), date(2020, 1, 21)),
        DiagnosisRecorded("dx2", "M54.50", date(2019, 6, 1), date(2021, 10, 1)),
        PayerChanged("plan", date(2023, 1, 1)),
    ]
    day = date(2020, 2, 3)
    week = 0
    while len(events) < 396:
        if week % 8 == 3:
            outcome = "not_improving" if week % 56 == 51 else "improving"
            events.append(AssessmentRecorded(f"as{week}", day - timedelta(days=1), outcome))
        if week % 15 == 7:
            events += [AppointmentBooked(f"a{week}", day), AppointmentCancelled(f"a{week}", day)]
        elif week % 4 == 0:
            events += [AppointmentBooked(f"a{week}", day), SessionPerformed(f"s{week}", day, LINES, 25, fulfils_appointment_id=f"a{week}")]
        else:
            events.append(SessionPerformed(f"s{week}", day, LINES, 25))
            if week % 40 == 9:
                events.append(SessionVoided(f"s{week}", day))
        day += timedelta(weeks=1)
        week += 1
    while len(events) < 400:
        events.append(AppointmentBooked(f"a{week}", day))
        day += timedelta(weeks=1)
        week += 1
    return events[:400], day + timedelta(days=2)


def per_call_us(fn: Callable[[], object], repeat: int, number: int | None) -> tuple[float, float]:
    """(median, best) microseconds per call over `repeat` runs of `number` calls (auto-ranged to ~0.2 s when None)."""
    timer = timeit.Timer(fn)
    if number is None:
        number, _ = timer.autorange()
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6, min(runs) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations only (smoke test; figures are rough)")
    args = parser.parse_args(argv)
    repeat, number = (3, 5) if args.quick else (9, None)

    figures: dict[int, float] = {}
    for size, build in ((40, course_of_treatment), (400, long_tail_patient)):
        events, dos = build()
        assert len(events) == size
        history = fold(events)
        decision = Engine(history, POLICIES).decide(dos)
        fold_us, _ = per_call_us(lambda: fold(events), repeat, number)
        decide_us, best_us = per_call_us(lambda: Engine(fold(events), POLICIES).decide(dos), repeat, number)
        figures[size] = decide_us
        verdict = "ok" if decide_us < TARGETS_US[size] else "OVER TARGET"
        print(
            f"{size:>3} events: {decide_us:8.1f} us per decision, median of {repeat} runs (best {best_us:.1f}; "
            f"fold alone {fold_us:.1f}; target < {TARGETS_US[size]:.0f} us: {verdict})"
        )
        print(f"    decision for {dos}: {decision.status} {list(decision.codes)}, next covered {decision.next_covered_date}")
    ratio = figures[400] / figures[40]
    print(f"ratio 400/40: {ratio:.1f} (10x the events; linear growth is <= 10)")
    print(json.dumps({"us_per_decision_40": round(figures[40], 2), "us_per_decision_400": round(figures[400], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
