"""The daily alert rules on edge dates: pure, judged by the policy engine, no clock and no database."""

from __future__ import annotations

import ast
from datetime import date, timedelta
from pathlib import Path

import pytest

from coverage_tracker.domain import alerts as A
from coverage_tracker.domain.alerts import alerts_for, patient_label

from .builders import D, Log

SCAN = D("2026-03-02")


def patient() -> Log:
    """Chronic low back pain since 2024, eligible on every date of these tests."""
    return Log().diagnosis(onset="2024-01-01", recorded_on="2024-06-03")


def scan(log: Log, day: date = SCAN, lookahead: int = 14) -> list[A.Alert]:
    return alerts_for("b1", log.history, log.policies, day, lookahead)


def kinds(alerts: list[A.Alert], kind: str | None = None) -> list[str]:
    return [a.kind for a in alerts] if kind is None else [a.subject for a in alerts if a.kind == kind]


def weekly(first: str, n: int) -> list[date]:
    return [D(first) + timedelta(days=7 * k) for k in range(n)]


def test_the_patient_is_shown_by_initial_last_name_and_masked_mbi():
    assert patient_label("Rita", "Parkes", "1EG4TE5AP24") == "R. Parkes (*******AP24)"
    assert patient_label(" rita", "Parkes ", "1eg4-te5-ap24") == "R. Parkes (*******AP24)"


def test_a_patient_with_nothing_booked_or_performed_raises_nothing():
    assert scan(Log()) == []


def test_an_eligible_patient_with_covered_bookings_raises_nothing():
    log = patient()
    for day in weekly("2026-03-02", 4):
        log.book(day)
    assert scan(log) == []


def test_a_booked_visit_without_a_diagnosis_is_flagged_through_the_last_day_of_the_lookahead():
    log = Log()
    log.book(SCAN)
    log.book(SCAN + timedelta(days=14))
    log.book(SCAN + timedelta(days=15))
    alerts = scan(log)
    assert kinds(alerts, A.BOOKED_VISIT_NOT_COVERED) == ["appointment on 2026-03-02", "appointment on 2026-03-16"]
    # the diagnosis alert considers every booking, however far ahead
    assert kinds(alerts, A.DIAGNOSIS_MISSING_OR_INELIGIBLE) == [
        "appointment on 2026-03-02", "appointment on 2026-03-16", "appointment on 2026-03-17",
    ]
    first = alerts[0]
    assert first.severity == "critical" and first.patient == "R. Parkes (*******MK73)"
    assert "ABN" in first.message and "No chronic low back pain diagnosis" in first.message
    assert "no date in the next two years would be covered" in first.message


def test_an_abn_on_file_silences_the_not_covered_alert_but_not_the_diagnosis_alert():
    log = Log().abn("2026-03-01", "2026-12-31")
    log.book("2026-03-05")
    alerts = scan(log)
    assert kinds(alerts) == [A.DIAGNOSIS_MISSING_OR_INELIGIBLE]


def test_pain_short_of_twelve_weeks_on_the_visit_date_is_ineligible_and_names_the_date_it_qualifies():
    onset = SCAN - timedelta(days=80)  # 84 days on 2026-03-06
    log = Log().diagnosis(onset=onset.isoformat(), recorded_on="2026-02-01")
    log.book("2026-03-05")
    log.book("2026-03-06")
    alerts = scan(log)
    assert kinds(alerts, A.DIAGNOSIS_MISSING_OR_INELIGIBLE) == ["appointment on 2026-03-05"]
    not_covered = [a for a in alerts if a.kind == A.BOOKED_VISIT_NOT_COVERED]
    assert len(not_covered) == 1 and "next covered date, 2026-03-07" in not_covered[0].message


def test_the_thirteenth_booking_needs_an_assessment_counting_the_bookings_before_it():
    log = patient()
    for day in weekly("2026-03-02", 13):
        log.book(day)
    alerts = scan(log)
    assert kinds(alerts, A.IMPROVEMENT_ASSESSMENT_NEEDED) == ["appointment on 2026-05-25"]
    thirteenth = next(a for a in alerts if a.kind == A.IMPROVEMENT_ASSESSMENT_NEEDED)
    assert thirteenth.severity == "warning" and "13th session" in thirteenth.message
    assert A.BOOKED_VISIT_NOT_COVERED not in kinds(alerts)


def test_an_improving_assessment_on_record_means_no_assessment_alert():
    log = patient()
    log.sessions("2026-01-12", 12)
    log.assess("2026-02-27", "improving")
    log.book("2026-03-05")
    assert A.IMPROVEMENT_ASSESSMENT_NEEDED not in kinds(scan(log))


def test_day_90_is_still_initial_and_day_91_needs_an_assessment():
    log = patient()
    log.session("2026-01-01")
    log.book("2026-03-31")  # day 90
    log.book("2026-04-01")  # day 91
    alerts = scan(log, D("2026-03-30"))
    assert kinds(alerts, A.IMPROVEMENT_ASSESSMENT_NEEDED) == ["appointment on 2026-04-01"]
    needed = next(a for a in alerts if a.kind == A.IMPROVEMENT_ASSESSMENT_NEEDED)
    assert needed.severity == "critical"  # within the lookahead: act before the visit
    assert "day 91" in needed.message


def test_the_initial_limit_is_approached_at_ten_used_or_booked_and_not_at_nine():
    log = patient()
    log.sessions("2026-01-12", 7)
    log.book("2026-03-02")
    log.book("2026-03-09")
    assert A.APPROACHING_INITIAL_LIMIT not in kinds(scan(log))
    log.book("2026-03-16")
    alerts = scan(log)
    assert kinds(alerts, A.APPROACHING_INITIAL_LIMIT) == ["benefit period from 2026-01-12"]
    message = next(a.message for a in alerts if a.kind == A.APPROACHING_INITIAL_LIMIT)
    assert message.startswith("10 of 12 initial sessions used or booked") and "2026-04-11" in message


def test_any_assessment_in_the_period_silences_the_initial_limit_but_one_from_the_previous_period_does_not():
    log = patient()
    log.sessions("2025-01-06", 2)
    log.assess("2025-02-01", "improving")
    log.sessions("2026-01-12", 10)
    assert kinds(scan(log), A.APPROACHING_INITIAL_LIMIT) == ["benefit period from 2026-01-12"]
    log.assess("2026-02-27", "not_improving")
    assert A.APPROACHING_INITIAL_LIMIT not in kinds(scan(log))


def test_the_annual_cap_is_approached_at_eighteen_and_not_at_seventeen():
    log = patient()
    log.sessions("2026-01-05", 12, every_days=3)
    log.assess("2026-02-10", "improving")
    log.sessions("2026-02-11", 5, every_days=3)
    assert A.APPROACHING_ANNUAL_CAP not in kinds(scan(log))
    log.book("2026-03-03")
    alerts = scan(log)
    assert kinds(alerts, A.APPROACHING_ANNUAL_CAP) == ["benefit period from 2026-01-05"]
    assert "18 of 20 covered sessions used or booked" in next(a.message for a in alerts if a.kind == A.APPROACHING_ANNUAL_CAP)


def test_the_period_holding_the_scan_date_is_counted_through_its_last_day():
    log = patient()
    log.sessions("2025-03-03", 12, every_days=3)
    log.assess("2025-04-10", "improving")
    log.sessions("2025-04-11", 5, every_days=3)
    log.book("2026-02-28")  # the period's last day: the 18th
    assert kinds(scan(log, D("2026-02-20")), A.APPROACHING_ANNUAL_CAP) == ["benefit period from 2025-03-03"]


def test_a_scan_date_between_periods_looks_at_the_period_the_bookings_open():
    log = patient()
    log.sessions("2025-01-06", 3)
    for day in weekly("2026-03-02", 10):
        log.book(day)
    assert kinds(scan(log, D("2026-02-20")), A.APPROACHING_INITIAL_LIMIT) == ["benefit period from 2026-03-02"]


def test_coverage_renews_is_told_to_a_patient_at_the_cap_fourteen_days_ahead_not_fifteen():
    log = patient()
    log.sessions("2025-03-03", 12, every_days=3)
    log.assess("2025-04-10", "improving")
    log.sessions("2025-04-11", 8, every_days=3)  # 20 of 20; the period ends 2026-02-28
    alerts = scan(log, D("2026-02-15"))
    assert kinds(alerts, A.COVERAGE_RENEWS) == ["benefit period from 2026-03-01"]
    renews = next(a for a in alerts if a.kind == A.COVERAGE_RENEWS)
    assert renews.severity == "info" and "in 14 days" in renews.message and "next covered date is 2026-03-01" in renews.message
    assert A.COVERAGE_RENEWS not in kinds(scan(log, D("2026-02-14")))


def test_a_stopping_assessment_asks_once_per_patient_to_discontinue_the_booked_visits():
    log = patient()
    log.sessions("2026-01-05", 6)
    log.assess("2026-02-20", "not_improving")
    log.book("2026-03-04")
    log.book("2026-04-01")
    log.book("2027-01-06")  # a new benefit period: not stopped
    alerts = scan(log)
    discontinue = [a for a in alerts if a.kind == A.DISCONTINUE_TREATMENT]
    assert len(discontinue) == 1 and discontinue[0].subject == "benefit period from 2026-01-05"
    assert "2 appointments (2026-03-04, 2026-04-01)" in discontinue[0].message
    assert kinds(alerts, A.BOOKED_VISIT_NOT_COVERED) == ["appointment on 2026-03-04"]
    log.assess("2026-02-27", "improving")
    assert A.DISCONTINUE_TREATMENT not in kinds(scan(log))


def test_a_backdated_assessment_turns_a_covered_booking_into_an_alert():
    log = patient()
    log.sessions("2026-01-05", 4)
    log.book("2026-03-04")
    assert scan(log) == []
    log.assess("2026-02-25", "regressing")  # recorded later, dated before the booking
    assert set(kinds(scan(log))) == {A.BOOKED_VISIT_NOT_COVERED, A.DISCONTINUE_TREATMENT}


def test_a_booking_whose_date_has_passed_unresolved_is_flagged_and_still_counts():
    log = patient()
    log.sessions("2026-01-12", 9)
    log.book("2026-03-01")  # the day before the scan: unresolved
    log.book(SCAN)  # on the scan date: not yet passed
    alerts = scan(log)
    assert kinds(alerts, A.APPOINTMENT_UNRESOLVED) == ["appointment on 2026-03-01"]
    assert kinds(alerts, A.APPROACHING_INITIAL_LIMIT) == ["benefit period from 2026-01-12"]  # 9 + 2 booked


def test_cancelled_and_fulfilled_bookings_raise_nothing():
    log = Log()
    cancelled = log.book("2026-03-03")
    log.cancel(cancelled, "2026-03-03")
    no_show = log.book("2026-02-20")
    log.cancel(no_show, "2026-02-20", "no_show")
    assert scan(log) == []


def test_every_alert_kind_has_a_title_and_every_alert_a_known_severity():
    log = Log()
    log.book("2026-02-01")
    log.book("2026-03-03")
    alerts = scan(log)
    assert {a.severity for a in alerts} <= set(A.SEVERITIES)
    assert set(A.TITLES) == set(A.KINDS)


@pytest.mark.parametrize("path", sorted((Path(A.__file__).parent).glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_database_web_mail_or_clock_library(path: Path):
    forbidden = {"sqlalchemy", "sqlmodel", "fastapi", "smtplib", "email", "apscheduler", "jinja2", "coverage_tracker.store"}
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in forbidden or name.startswith("coverage_tracker.store")}
    assert "today()" not in path.read_text() and "datetime.now" not in path.read_text()
