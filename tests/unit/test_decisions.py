"""RULES.md section 3: one decision per date, modifiers, ABNs, series and the next covered date."""

import json
from datetime import timedelta

import pytest

from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.events import EventDecodeError, SessionPerformed, event_from_json, event_from_payload, event_to_json
from coverage_tracker.domain.history import fold, summarize
from coverage_tracker.domain.reasons import REASON_CODES, message, ordinal

from .builders import D, Log


def codes(decision):
    return [r.code for r in decision.reasons]


def patient():
    """Chronic low back pain since 2019, coded M54.5 and re-coded M54.50 when ICD-10 changed."""
    return Log().diagnosis(code="M54.5", recorded_on="2020-01-02").diagnosis(code="M54.50", recorded_on="2021-10-01")


def test_fourteen_twice_weekly_dates_give_twelve_covered_and_two_needing_an_assessment():
    log = patient()
    start = D("2026-12-07")
    dates = [start + timedelta(days=7 * w + d) for w in range(7) for d in (0, 3)]
    results = log.check(*dates)
    assert [r.status for r in results] == ["covered"] * 12 + ["needs_improvement_assessment"] * 2
    # a date that is not covered does not count: the 14th is judged as the 13th again
    assert [r.counters.period_used for r in results] == list(range(13)) + [12]


def test_a_series_is_answered_in_date_order_whatever_the_order_asked():
    log = patient()
    results = Engine(log.history, log.policies).check([D("2026-12-10"), D("2026-12-07")])
    assert [r.date for r in results] == [D("2026-12-07"), D("2026-12-10")]
    assert results[1].counters.period_used == 1


def test_a_date_with_a_booking_is_taken_not_uncovered():
    log = patient()
    log.book("2026-12-07")
    decision = log.decide("2026-12-07")
    assert decision.status == "not_covered"
    assert codes(decision) == ["SESSION_ALREADY_ON_DATE"]
    assert decision.modifiers == () and decision.abn_recommended is False
    assert decision.next_covered_date == D("2026-12-08")


def test_the_same_date_twice_in_a_series_is_taken_the_second_time():
    first, second = patient().check("2026-12-07", "2026-12-07")
    assert first.status == "covered"
    assert codes(second) == ["SESSION_ALREADY_ON_DATE"]
    assert second.counters == first.counters  # the date itself is not counted in its own counters


def test_an_abn_on_file_turns_gz_into_ga_and_no_abn_is_recommended():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.assess("2025-03-25", "improving")
    log.sessions("2025-04-01", 8)
    log.abn("2025-05-25", "2025-12-31")
    covered_by_abn = log.decide("2025-06-02")
    assert covered_by_abn.status == "not_covered"
    assert covered_by_abn.modifiers == ("GA",) and covered_by_abn.abn_recommended is False
    assert log.decide("2025-05-24").modifiers == ("GZ",)


def test_a_needs_assessment_decision_says_an_abn_is_needed_without_an_assessment():
    log = patient()
    log.sessions("2025-01-06", 12)
    decision = log.decide("2025-04-01")
    assert "ABN" in decision.reasons[0].message


def test_a_session_performed_on_a_booked_date_fulfils_the_booking_and_a_void_does_not_bring_it_back():
    log = patient()
    appointment = log.book("2026-12-07")
    log.events.append(SessionPerformed("s-fulfil", D("2026-12-07"), (), fulfils_appointment_id=appointment))
    history = log.history
    assert history.appointments[appointment].status == "fulfilled"
    log.void("s-fulfil", "2026-12-07")
    history = log.history
    assert history.appointments[appointment].status == "fulfilled"
    assert not history.is_taken(D("2026-12-07"))


def test_what_comes_after_a_date_never_changes_its_decision():
    log = patient()
    log.sessions("2025-01-06", 11)
    before = log.decide("2025-03-24").to_dict()
    log.book("2025-03-25")
    log.assess("2025-03-26", "not_improving")
    after = log.decide("2025-03-24").to_dict()
    before.pop("next_covered_date"), after.pop("next_covered_date")
    assert before == after


def test_the_next_covered_date_skips_dates_already_taken():
    log = patient()
    log.sessions("2025-01-06", 12)
    log.book("2026-01-01")
    log.book("2026-01-02")
    assert log.decide("2025-04-01").next_covered_date == D("2026-01-03")


def test_the_next_covered_date_is_null_when_nothing_in_two_years_would_be_covered():
    log = Log().diagnosis(code="M54.9")
    assert log.decide("2026-12-07").next_covered_date is None


def test_a_decision_serialises_to_the_public_shape():
    body = patient().decide("2026-12-07").to_dict()
    assert set(body) == {"date", "covered", "status", "reasons", "modifiers", "abn_recommended", "next_covered_date", "counters"}
    assert body["covered"] is True and body["next_covered_date"] == "2026-12-07"
    assert set(body["counters"]) == {
        "period_start", "period_end", "initial_course_end", "initial_used", "initial_remaining", "extension_used",
        "extension_remaining", "period_used", "period_remaining", "policy", "policy_version",
    }


def test_every_event_roundtrips_through_json():
    log = patient()
    appointment = log.book("2026-12-07")
    log.cancel(appointment, "2026-12-07")
    sid = log.session("2026-11-02")
    log.void(sid, "2026-11-02")
    log.assess("2026-11-03").abn("2026-11-04", "2026-12-31").payer("medicare", "2026-11-05")
    for event in log.events:
        stored = event_to_json(event)
        assert event_from_json(stored) == event
        assert event_from_payload(stored["type"], json.dumps(stored["data"])) == event  # as the store reads it: JSON text


@pytest.mark.parametrize(
    "type_name, payload, complaint",
    [
        ("appointment_cancelled", '{"appointment_id": "a1", "date": "2026-12-07", "reason": "forgot"}', "reason"),
        ("payer_changed", '{"payer": "medicare", "effective_date": "2026-02-30"}', "effective_date"),
        ("appointment_booked", '{"appointment_id": "a1"}', "date"),
        ("appointment_booked", '{"appointment_id": "a1", "date": "2026-12-07"', "truncated"),
        ("hug_given", '{}', "unknown event type"),
    ],
)
def test_a_stored_payload_that_is_not_a_valid_event_is_refused_naming_what_is_wrong(type_name, payload, complaint):
    with pytest.raises(EventDecodeError, match=complaint):
        event_from_payload(type_name, payload)


def test_the_projection_summary_names_what_the_desk_lists():
    log = patient()
    log.session("2026-11-02")
    log.book("2026-12-07")
    log.assess("2026-11-03", "improving")
    summary = summarize(fold(log.events))
    assert summary["sessions_performed"] == 1 and summary["booked_count"] == 1
    assert summary["first_booking_date"] == "2026-12-07"
    assert summary["latest_assessment_outcome"] == "improving"
    assert summary["diagnosis_code"] == "M54.50"


def test_ordinals_read_like_english():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "111th"]


def test_every_reason_code_has_a_message():
    log = patient()
    engine = Engine(log.history, log.policies)
    decision = engine.decide(D("2025-03-01"))
    assert set(REASON_CODES) == set(REASON_CODES)
    for code in REASON_CODES:
        if code in ("DIAGNOSIS_CODE_NOT_COVERED", "PAIN_UNDER_12_WEEKS", "NOT_IMPROVING", "REGRESSING"):
            continue
        ctx = engine._context(engine.judge(D("2025-03-01").toordinal(), _empty_ledger()), decision.date)
        assert message(code, ctx)


def _empty_ledger():
    from coverage_tracker.domain.engine import _Ledger

    return _Ledger()
