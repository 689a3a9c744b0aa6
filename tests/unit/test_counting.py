"""RULES.md section 2: benefit periods, the initial course, the extension, the cap, the stop rule."""

from datetime import timedelta

import pytest

from coverage_tracker.domain.engine import end_of_eleventh_full_month, period_bounds
from coverage_tracker.domain.policy import PayerPolicy

from .builders import D, Log


def codes(decision):
    return [r.code for r in decision.reasons]


def patient():
    """Chronic low back pain since 2019, coded M54.5 and re-coded M54.50 when ICD-10 changed."""
    return Log().diagnosis(code="M54.5", recorded_on="2020-01-02").diagnosis(code="M54.50", recorded_on="2021-10-01")


@pytest.mark.parametrize(
    ("first", "end"),
    [
        ("2020-03-21", "2021-02-28"),
        ("2021-01-31", "2021-12-31"),
        ("2024-02-29", "2025-01-31"),
        ("2020-12-15", "2021-11-30"),
        ("2023-03-01", "2024-02-29"),
    ],
)
def test_the_period_ends_on_the_last_day_of_the_eleventh_full_month(first, end):
    assert end_of_eleventh_full_month(D(first)) == D(end)


@pytest.mark.parametrize(("first", "last_day"), [("2020-03-21", "2021-02-28"), ("2021-01-31", "2021-12-31"),
                                                 ("2024-02-29", "2025-01-31"), ("2020-12-15", "2021-11-30")])
def test_a_session_on_the_last_day_is_in_the_old_period_and_the_next_day_opens_a_new_one(first, last_day):
    log = patient()
    log.session(first)
    on_last = log.decide(last_day)
    assert on_last.counters.period_start == D(first)
    assert on_last.counters.period_end == D(last_day)
    assert on_last.counters.period_used == 1
    after = log.decide(D(last_day) + timedelta(days=1))
    assert after.counters.period_start == D(last_day) + timedelta(days=1)
    assert after.counters.period_used == 0


def test_the_twelfth_session_is_covered_and_the_thirteenth_needs_an_improvement_assessment():
    log = patient()
    log.sessions("2025-01-06", 11)
    twelfth, thirteenth = log.check("2025-03-24", "2025-03-27")
    assert twelfth.status == "covered" and twelfth.modifiers == ()
    assert twelfth.counters.initial_used == 11
    assert thirteenth.status == "needs_improvement_assessment"
    assert codes(thirteenth) == ["IMPROVEMENT_NOT_DOCUMENTED", "INITIAL_LIMIT_REACHED"]
    assert "13th session of the period; sessions 13-20 need a documented improvement." in [r.message for r in thirteenth.reasons]
    assert thirteenth.modifiers == () and thirteenth.abn_recommended is False
    assert thirteenth.counters.initial_used == 12 and thirteenth.counters.initial_remaining == 0


def test_twelve_used_without_an_assessment_points_to_the_first_day_of_the_next_period():
    log = patient()
    log.sessions("2025-01-06", 12)
    decision = log.decide("2025-04-01")
    assert decision.status == "needs_improvement_assessment"
    assert decision.counters.period_end == D("2025-12-31")
    assert decision.next_covered_date == D("2026-01-01")


def test_day_90_is_in_the_initial_course_and_day_91_needs_an_assessment():
    log = patient()
    log.session("2025-01-06")
    day_90, day_91 = log.decide("2025-04-05"), log.decide("2025-04-06")
    assert day_90.status == "covered"
    assert day_90.counters.initial_course_end == D("2025-04-05")
    assert day_91.status == "needs_improvement_assessment"
    assert codes(day_91) == ["IMPROVEMENT_NOT_DOCUMENTED", "INITIAL_WINDOW_ENDED"]
    assert "day 91" in day_91.reasons[1].message
    assert day_91.counters.initial_remaining == 0


def test_an_improving_assessment_makes_extension_sessions_covered_with_kx():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.assess("2025-03-20", "improving")
    decision = log.decide("2025-04-01")
    assert decision.status == "covered"
    assert decision.modifiers == ("KX",)


def test_an_assessment_dated_after_the_date_does_not_count_for_it():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.assess("2025-04-02", "improving")
    assert log.decide("2025-04-01").status == "needs_improvement_assessment"
    assert log.decide("2025-04-02").status == "covered"


def test_session_20_is_covered_and_session_21_is_over_the_cap_and_the_extension():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.assess("2025-03-25", "improving")
    log.sessions("2025-04-01", 7)
    twentieth, twenty_first = log.check("2025-05-20", "2025-05-27")
    assert twentieth.status == "covered" and twentieth.modifiers == ("KX",)
    assert twentieth.counters.extension_used == 7 and twentieth.counters.period_used == 19
    assert twenty_first.status == "not_covered"
    assert codes(twenty_first) == ["ANNUAL_LIMIT_REACHED", "EXTENSION_EXHAUSTED"]
    assert twenty_first.modifiers == ("GZ",) and twenty_first.abn_recommended is True
    assert twenty_first.counters.period_remaining == 0 and twenty_first.counters.extension_remaining == 0
    assert twenty_first.next_covered_date == D("2026-01-01")
    assert "20 of 20 covered sessions" in twenty_first.reasons[0].message


def test_without_a_window_the_first_twelve_of_the_period_are_initial():
    count_only = PayerPolicy(name="count_only", version="1", initial_window_days=None)
    log = Log("count_only", count_only).diagnosis()
    log.sessions("2025-01-06", 11, every_days=14)
    decision = log.decide("2025-06-30")
    assert decision.status == "covered"
    assert decision.counters.initial_course_end is None
    assert log.decide("2025-07-02").status == "covered"


@pytest.mark.parametrize(("outcome", "code"), [("not_improving", "NOT_IMPROVING"), ("regressing", "REGRESSING")])
def test_the_stop_rule_refuses_even_initial_sessions_until_a_later_improving_assessment(outcome, code):
    log = patient()
    log.sessions("2025-01-06", 4)
    log.assess("2025-02-01", outcome)
    stopped = log.decide("2025-02-03")
    assert stopped.status == "not_covered"
    assert codes(stopped) == [code]
    assert stopped.next_covered_date is None or stopped.next_covered_date > D("2025-02-03")
    log.assess("2025-02-10", "improving")
    assert log.decide("2025-02-10").status == "covered"
    assert log.decide("2025-02-09").status == "not_covered"


def test_an_assessment_from_an_earlier_period_does_not_carry_over():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.assess("2025-03-25", "improving")
    log.sessions("2026-01-05", 12)
    decision = log.decide("2026-03-30")
    assert decision.counters.period_start == D("2026-01-05")
    assert decision.status == "needs_improvement_assessment"


def test_a_stop_from_an_earlier_period_does_not_carry_over():
    log = patient()
    log.session("2025-01-06")
    log.assess("2025-02-01", "not_improving")
    assert log.decide("2026-01-05").status == "covered"


def test_cancelled_and_no_show_appointments_free_their_place():
    log = patient()
    log.sessions("2025-01-06", 11)
    booked = log.book("2025-03-24")
    assert log.decide("2025-03-27").status == "needs_improvement_assessment"
    log.cancel(booked, "2025-03-24", "no_show")
    assert log.decide("2025-03-27").status == "covered"


def test_a_voided_session_frees_its_place():
    log = patient()
    log.sessions("2025-01-06", 11)
    sid = log.session("2025-03-24")
    assert log.decide("2025-03-27").status == "needs_improvement_assessment"
    log.void(sid, "2025-03-24")
    assert log.decide("2025-03-27").status == "covered"


def test_booked_appointments_count_as_if_performed_but_only_those_before_the_date():
    log = patient()
    log.sessions("2025-01-06", 10)
    log.book("2025-03-17")
    log.book("2025-03-24")
    log.book("2025-04-14")
    decision = log.decide("2025-03-31")
    assert decision.counters.period_used == 12
    assert decision.status == "needs_improvement_assessment"


def test_sessions_that_were_not_covered_do_not_count():
    log = Log().diagnosis(onset="2024-12-01", recorded_on="2025-01-02")
    log.sessions("2025-01-06", 5)
    decision = log.decide("2025-03-03")
    assert decision.counters.period_used == 0
    assert decision.counters.period_start == D("2025-03-03")
    assert decision.status == "covered"


def test_a_calendar_year_payer_starts_a_new_period_on_january_1():
    plan = PayerPolicy(name="calendar_plan", version="2026-1", benefit_period="calendar_year")
    log = Log("calendar_plan", plan).diagnosis()
    log.sessions("2025-12-01", 5)
    dec_31, jan_1 = log.decide("2025-12-31"), log.decide("2026-01-01")
    assert (dec_31.counters.period_start, dec_31.counters.period_used) == (D("2025-01-01"), 5)
    assert (jan_1.counters.period_start, jan_1.counters.period_end, jan_1.counters.period_used) == (D("2026-01-01"), D("2026-12-31"), 0)


def test_a_rolling_365_days_payer_frees_a_place_when_the_oldest_session_leaves_the_window():
    plan = PayerPolicy(name="rolling_plan", version="1", benefit_period="rolling_365_days", initial_window_days=None,
                       initial_sessions=20, extension_sessions=0, annual_cap=20)
    log = Log("rolling_plan", plan).diagnosis()
    days = log.sessions("2025-01-06", 20, every_days=7)
    refused = log.decide("2025-12-01")
    assert codes(refused) == ["ANNUAL_LIMIT_REACHED", "EXTENSION_EXHAUSTED"]
    assert refused.next_covered_date == days[0] + timedelta(days=365)
    assert log.decide(days[0] + timedelta(days=365)).status == "covered"


def test_a_plan_year_runs_from_its_start_month():
    assert period_bounds("plan_year", D("2026-03-15"), 7) == (D("2025-07-01"), D("2026-06-30"))
    assert period_bounds("plan_year", D("2026-07-01"), 7) == (D("2026-07-01"), D("2027-06-30"))
    assert period_bounds("rolling_365_days", D("2024-12-30")) == (D("2024-01-01"), D("2024-12-30"))
    with pytest.raises(ValueError):
        period_bounds("eleven_full_months", D("2026-01-01"))


def test_a_payer_change_mid_period_judges_each_session_under_its_own_policy():
    small_cap = PayerPolicy(name="advantage", version="2026-1", benefit_period="calendar_year", annual_cap=10,
                            initial_sessions=10, extension_sessions=0)
    log = Log("medicare", small_cap).diagnosis()
    log.sessions("2025-01-06", 10)
    log.payer("advantage", "2025-03-17")
    on_medicare, on_advantage = log.decide("2025-03-16"), log.decide("2025-03-17")
    assert on_medicare.status == "covered" and on_medicare.counters.policy == "medicare"
    assert on_advantage.counters.policy == "advantage"
    assert on_advantage.counters.period_used == 10
    assert codes(on_advantage) == ["ANNUAL_LIMIT_REACHED", "EXTENSION_EXHAUSTED"]
    assert on_advantage.next_covered_date == D("2026-01-01")


def test_counters_for_a_date_that_opens_a_new_period_describe_that_new_period():
    log = patient()
    log.sessions("2025-01-06", 12)
    decision = log.decide("2026-02-10")
    c = decision.counters
    assert (c.period_start, c.period_end, c.initial_course_end) == (D("2026-02-10"), D("2027-01-31"), D("2026-05-10"))
    assert (c.initial_used, c.initial_remaining, c.period_used, c.period_remaining) == (0, 12, 0, 20)
    assert (c.policy, c.policy_version) == ("medicare", "ncd-30.3.3/2020-01-21")


def test_a_not_improving_assessment_dated_before_a_period_opens_does_not_stop_it():
    """Reading pinned: the stop rule looks only at assessments inside the DOS's period (RULES.md section 2)."""
    log = patient()
    log.assess("2026-01-05", "not_improving")
    assert log.decide("2026-01-06").status == "covered"
    assert codes(log.decide("2026-01-05")) == ["NOT_IMPROVING"]
