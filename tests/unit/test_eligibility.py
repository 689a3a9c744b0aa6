"""RULES.md section 1: eligibility on the date of service, on its edge dates."""

from coverage_tracker.domain.policy import PayerPolicy

from .builders import D, Log


def codes(decision):
    return [r.code for r in decision.reasons]


def test_coverage_begins_on_2020_01_21_and_not_the_day_before():
    log = Log().diagnosis(onset="2019-01-01", recorded_on="2020-01-02", code="M54.5")
    before, first = log.decide("2020-01-20"), log.decide("2020-01-21")
    assert before.status == "not_covered"
    assert codes(before) == ["BEFORE_COVERAGE_EFFECTIVE"]
    assert before.next_covered_date == D("2020-01-21")
    assert first.status == "covered"


def test_m54_5_is_accepted_through_2021_09_30_and_refused_from_2021_10_01():
    log = Log().diagnosis(code="M54.5")
    assert log.decide("2021-09-30").status == "covered"
    refused = log.decide("2021-10-01")
    assert codes(refused) == ["DIAGNOSIS_CODE_NOT_COVERED"]
    assert "M54.50, M54.51, M54.59" in refused.reasons[0].message
    assert refused.next_covered_date is None


def test_m54_50_is_refused_on_2021_09_30_and_accepted_from_2021_10_01():
    log = Log().diagnosis(code="M54.50")
    early = log.decide("2021-09-30")
    assert codes(early) == ["DIAGNOSIS_CODE_NOT_COVERED"]
    assert early.next_covered_date == D("2021-10-01")
    assert log.decide("2021-10-01").status == "covered"


def test_pain_of_83_days_is_refused_and_the_next_covered_date_is_onset_plus_84_days():
    log = Log().diagnosis(onset="2025-01-01", recorded_on="2025-01-05")
    day_83 = log.decide("2025-03-25")
    assert codes(day_83) == ["PAIN_UNDER_12_WEEKS"]
    assert "83 days" in day_83.reasons[0].message
    assert day_83.next_covered_date == D("2025-03-26")
    assert log.decide("2025-03-26").status == "covered"


def test_pain_at_62_days_points_to_onset_plus_84_days():
    log = Log().diagnosis(onset="2025-01-01", recorded_on="2025-01-05")
    assert log.decide("2025-03-04").next_covered_date == D("2025-03-26")


def test_without_a_diagnosis_nothing_is_covered_and_there_is_no_next_covered_date():
    decision = Log().decide("2025-03-04")
    assert decision.status == "not_covered"
    assert codes(decision) == ["NO_QUALIFYING_DIAGNOSIS"]
    assert decision.next_covered_date is None
    assert decision.modifiers == ("GZ",) and decision.abn_recommended


def test_a_diagnosis_recorded_after_the_date_does_not_count_for_it():
    log = Log().diagnosis(onset="2024-01-01", recorded_on="2025-03-10")
    decision = log.decide("2025-03-09")
    assert codes(decision) == ["NO_QUALIFYING_DIAGNOSIS"]
    assert decision.next_covered_date == D("2025-03-10")


def test_every_failing_eligibility_rule_is_listed():
    log = Log().diagnosis(onset="2025-02-01", recorded_on="2025-02-02", code="M54.9",
                          systemic_cause=True, surgery_related=True, pregnancy_related=True)
    assert codes(log.decide("2025-03-01")) == [
        "DIAGNOSIS_CODE_NOT_COVERED", "PAIN_UNDER_12_WEEKS", "SYSTEMIC_CAUSE", "SURGERY_RELATED", "PREGNANCY_RELATED",
    ]


def test_the_latest_diagnosis_recorded_on_or_before_the_date_counts():
    log = Log().diagnosis(recorded_on="2025-01-02").diagnosis(recorded_on="2025-02-01", surgery_related=True)
    assert log.decide("2025-01-31").status == "covered"
    assert codes(log.decide("2025-02-01")) == ["SURGERY_RELATED"]


def test_two_diagnoses_recorded_the_same_day_the_one_recorded_later_wins():
    log = Log().diagnosis(recorded_on="2025-01-02", systemic_cause=True).diagnosis(recorded_on="2025-01-02")
    assert log.decide("2025-02-01").status == "covered"
    log = Log().diagnosis(recorded_on="2025-01-02").diagnosis(recorded_on="2025-01-02", systemic_cause=True)
    assert codes(log.decide("2025-02-01")) == ["SYSTEMIC_CAUSE"]


def test_a_payer_without_the_benefit_is_not_covered_from_its_effective_date():
    no_benefit = PayerPolicy(name="basic_plan", version="2026-1", acupuncture_covered=False, label="Basic Plan")
    log = Log("medicare", no_benefit).diagnosis().payer("basic_plan", "2025-06-01")
    assert log.decide("2025-05-31").status == "covered"
    refused = log.decide("2025-06-01")
    assert codes(refused) == ["PAYER_NOT_COVERED"]
    assert "Basic Plan" in refused.reasons[0].message


def test_a_payer_with_no_policy_loaded_is_not_covered():
    log = Log("vanished_plan").diagnosis()
    decision = log.decide("2025-03-01")
    assert codes(decision) == ["PAYER_NOT_COVERED"]
    assert "no acupuncture policy loaded" in decision.reasons[0].message
