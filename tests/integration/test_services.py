"""Every use case through the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from coverage_tracker.domain.engine import Engine as PolicyEngine
from coverage_tracker.domain.history import fold
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import beneficiaries, care, coverage
from coverage_tracker.services.context import Actor, Ctx
from coverage_tracker.services.errors import Conflict, InvalidInput, NotFound
from coverage_tracker.store import event_store
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import write_transaction

TODAY = date(2026, 11, 27)


@pytest.fixture
def ctx(engine, clinic_id) -> Ctx:
    return Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=TODAY)


@pytest.fixture
def other_ctx(engine) -> Ctx:
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, "Other Clinic")
        other_id = clinic.id
    return Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=other_id, role="admin"), today=TODAY)


def enrol(ctx: Ctx, mbi: str = "1EG4-TE5-MK73", last_name: str = "Parkes") -> str:
    return beneficiaries.enrol(ctx, mbi=mbi, first_name="Rita", last_name=last_name, birth_date=date(1950, 5, 1))["id"]


def eligible(ctx: Ctx, mbi: str = "1EG4-TE5-MK73") -> str:
    bid = enrol(ctx, mbi)
    care.record_diagnosis(ctx, bid, icd10_code="M54.50", onset_date=date(2025, 1, 1), recorded_on=date(2026, 1, 5))
    return bid


def test_enrolling_normalises_the_mbi_and_reading_shows_it_whole(ctx):
    created = beneficiaries.enrol(ctx, mbi=" 1eg4-te5-mk73 ", first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))
    assert created["mbi"] == "1EG4TE5MK73" and created["payer"] == "medicare"
    assert beneficiaries.get(ctx, created["id"])["mbi"] == "1EG4TE5MK73"


def test_an_mbi_enrolled_twice_in_a_clinic_is_a_conflict_but_another_clinic_may_enrol_it(ctx, other_ctx):
    enrol(ctx)
    with pytest.raises(Conflict):
        enrol(ctx, mbi="1eg4te5mk73")
    assert enrol(other_ctx)


def test_an_invalid_mbi_names_the_position(ctx):
    with pytest.raises(InvalidInput, match="position 2"):
        enrol(ctx, mbi="15G4TE5MK73")


def test_an_unknown_payer_names_the_known_ones(ctx):
    with pytest.raises(InvalidInput, match="known payers: medicare"):
        beneficiaries.enrol(ctx, mbi="1EG4TE5MK73", first_name="R", last_name="P", birth_date=date(1950, 1, 1), payer="acme")


def test_search_finds_by_mbi_and_by_last_name_prefix_and_masks_the_mbi(ctx, other_ctx):
    bid = enrol(ctx)
    enrol(other_ctx, last_name="Parker")
    by_mbi = beneficiaries.search(ctx, mbi="1eg4-te5-mk73")
    assert [r["id"] for r in by_mbi] == [bid]
    assert by_mbi[0]["mbi_masked"] == "*******MK73" and "mbi" not in by_mbi[0]
    assert [r["id"] for r in beneficiaries.search(ctx, last_name="par")] == [bid]
    assert beneficiaries.search(ctx, last_name="zzz") == []


def test_another_clinic_cannot_see_or_write_a_beneficiary(ctx, other_ctx):
    bid = eligible(ctx)
    with pytest.raises(NotFound):
        beneficiaries.get(other_ctx, bid)
    with pytest.raises(NotFound):
        coverage.check_dates(other_ctx, bid, [TODAY])
    with pytest.raises(NotFound):
        care.book_appointment(other_ctx, bid, day=TODAY)
    with pytest.raises(NotFound):
        coverage.event_history(other_ctx, "not-a-uuid-at-all")


def test_a_booking_answers_the_decision_and_a_second_booking_that_day_is_a_conflict(ctx):
    bid = eligible(ctx)
    booked = care.book_appointment(ctx, bid, day=TODAY + timedelta(days=3))
    assert booked["decision"]["status"] == "covered"
    with pytest.raises(Conflict) as err:
        care.book_appointment(ctx, bid, day=TODAY + timedelta(days=3))
    assert err.value.code == "SESSION_ALREADY_ON_DATE"
    check = coverage.check_dates(ctx, bid, [TODAY + timedelta(days=3)])["results"][0]
    assert check["reasons"][0]["code"] == "SESSION_ALREADY_ON_DATE"


def test_a_booking_before_today_and_a_session_after_today_are_refused(ctx):
    bid = eligible(ctx)
    with pytest.raises(InvalidInput, match="date"):
        care.book_appointment(ctx, bid, day=TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="date"):
        care.record_session(ctx, bid, day=TODAY + timedelta(days=1), lines=[{"code": "97810", "units": 1}])


def test_a_session_on_a_booked_date_fulfils_the_booking_and_voiding_it_does_not_bring_it_back(ctx):
    bid = eligible(ctx)
    booked = care.book_appointment(ctx, bid, day=TODAY)
    session = care.record_session(ctx, bid, day=TODAY, segments=[{"minutes": 20}, {"minutes": 15, "electrical_stimulation": True}])
    assert session["fulfilled_appointment_id"] == booked["id"]
    assert session["lines"] == [{"code": "97810", "units": 1}, {"code": "97814", "units": 1}]
    assert session["decision"]["status"] == "covered"
    care.void_session(ctx, bid, session["id"])
    assert coverage.check_dates(ctx, bid, [TODAY])["results"][0]["status"] == "covered"
    with pytest.raises(Conflict):
        care.cancel_appointment(ctx, bid, booked["id"])


def test_session_lines_that_break_a_rule_are_refused_naming_the_line_and_nothing_is_recorded(ctx):
    bid = eligible(ctx)
    with pytest.raises(InvalidInput) as err:
        care.record_session(ctx, bid, day=TODAY, lines=[{"code": "97810", "units": 1}, {"code": "97813", "units": 1}])
    assert err.value.field.startswith("lines[")
    with pytest.raises(InvalidInput, match="under 8 minutes"):
        care.record_session(ctx, bid, day=TODAY, segments=[{"minutes": 7}])
    assert len(coverage.event_history(ctx, bid)["events"]) == 2


def test_cancel_frees_the_place_and_an_unknown_appointment_is_not_found(ctx):
    bid = eligible(ctx)
    booked = care.book_appointment(ctx, bid, day=TODAY + timedelta(days=1))
    assert care.cancel_appointment(ctx, bid, booked["id"], reason="no_show")["status"] == "no_show"
    with pytest.raises(NotFound):
        care.cancel_appointment(ctx, bid, "nope")
    assert care.book_appointment(ctx, bid, day=TODAY + timedelta(days=1))["decision"]["status"] == "covered"


def test_assessment_abn_payer_and_summary(ctx):
    bid = eligible(ctx)
    care.record_assessment(ctx, bid, day=TODAY, outcome="improving", note="walks further")
    abn = care.record_abn(ctx, bid, signed_on=TODAY)
    assert abn["valid_until"] == "2027-10-31"
    beneficiaries.change_payer(ctx, bid, payer="medicare", effective_date=TODAY)
    summary = coverage.coverage_summary(ctx, bid)
    assert summary["as_of"] == TODAY.isoformat()
    assert summary["decision"]["status"] == "covered"
    assert summary["diagnosis"]["icd10_code"] == "M54.50"
    assert summary["latest_assessment"]["outcome"] == "improving"


def test_the_event_history_lists_every_fact_in_version_order(ctx):
    bid = eligible(ctx)
    care.book_appointment(ctx, bid, day=TODAY)
    events = coverage.event_history(ctx, bid)["events"]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["beneficiary_enrolled", "diagnosis_recorded", "appointment_booked"]


def test_an_idempotent_retry_returns_the_same_answer_and_writes_one_event(ctx):
    bid = eligible(ctx)
    first = care.book_appointment(ctx, bid, day=TODAY + timedelta(days=2), idempotency_key="k-1")
    again = care.book_appointment(ctx, bid, day=TODAY + timedelta(days=2), idempotency_key="k-1")
    assert again == first
    assert len(coverage.event_history(ctx, bid)["events"]) == 3
    with pytest.raises(Conflict) as err:
        care.book_appointment(ctx, bid, day=TODAY + timedelta(days=9), idempotency_key="k-1")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_an_idempotent_enrolment_retry_returns_the_same_beneficiary(ctx):
    kwargs = dict(mbi="1EG4TE5MK73", first_name="R", last_name="P", birth_date=date(1950, 1, 1), idempotency_key="e-1")
    assert beneficiaries.enrol(ctx, **kwargs) == beneficiaries.enrol(ctx, **kwargs)


def _race(n: int, work) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the race records what each thread got
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_eight_desks_booking_the_same_date_exactly_one_succeeds(ctx):
    bid = eligible(ctx)
    day = TODAY + timedelta(days=5)
    results = _race(8, lambda i: care.book_appointment(ctx, bid, day=day))
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, dict))
    assert len(coverage.event_history(ctx, bid)["events"]) == 3


def test_eight_desks_booking_different_dates_get_answers_the_log_agrees_with(ctx, engine):
    bid = eligible(ctx)
    days = [TODAY + timedelta(days=3 * i) for i in range(8)]
    results = _race(8, lambda i: care.book_appointment(ctx, bid, day=days[i]))
    assert all(isinstance(r, dict) for r in results), results
    with engine.connect() as conn:
        events, version = event_store.load_stream(conn, ctx.clinic_id, bid)
    assert version == 10
    by_id = {r["id"]: r for r in results}
    for version, event in enumerate(events, start=1):
        if event.type_name != "appointment_booked":
            continue
        expected = PolicyEngine(fold(events[: version - 1]), default_book()).decide(event.date).to_dict()
        assert by_id[event.appointment_id]["decision"] == expected


def test_the_desk_card_counts_the_period_holding_today_even_with_a_booking_in_a_later_period(ctx):
    from coverage_tracker.services import desk

    bid = eligible(ctx)
    for k in range(5):
        care.record_session(ctx, bid, day=date(2026, 9, 1) + timedelta(days=7 * k), lines=[{"code": "97810", "units": 1}])
    care.book_appointment(ctx, bid, day=date(2027, 9, 15))
    standing = desk.card(ctx, bid)["standing"]["counters"]
    assert (standing["period_start"], standing["period_used"]) == ("2026-09-01", 5)


def test_the_desk_card_gives_a_booking_a_next_covered_date_that_is_not_already_booked(ctx):
    from coverage_tracker.services import desk

    bid = eligible(ctx)
    for k in range(12):
        care.record_session(ctx, bid, day=date(2026, 8, 3) + timedelta(days=7 * k), lines=[{"code": "97810", "units": 1}])
    care.book_appointment(ctx, bid, day=date(2026, 12, 1))
    care.book_appointment(ctx, bid, day=date(2027, 8, 1))
    first = desk.card(ctx, bid)["appointments"][0]
    assert first["date"] == "2026-12-01"
    assert first["decision"]["next_covered_date"] == "2027-08-02"


def test_a_reused_idempotency_key_with_a_body_the_rules_refuse_is_a_422_before_the_409(ctx):
    bid = eligible(ctx)
    care.book_appointment(ctx, bid, day=TODAY + timedelta(days=2), idempotency_key="k-9")
    with pytest.raises(InvalidInput):
        care.book_appointment(ctx, bid, day=TODAY - timedelta(days=2), idempotency_key="k-9")
    with pytest.raises(Conflict) as err:
        care.book_appointment(ctx, bid, day=TODAY + timedelta(days=4), idempotency_key="k-9")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_search_shows_the_payer_in_force_today_not_the_one_enrolled_with(engine, clinic_id):
    from coverage_tracker.domain.payers import PolicyBook
    from coverage_tracker.domain.policy import PayerPolicy

    book = PolicyBook([PayerPolicy(name="acme_ma", version="1")])
    ctx = Ctx(db=engine, policies=book, actor=Actor(clinic_id=clinic_id, role="admin"), today=TODAY)
    bid = enrol(ctx)
    beneficiaries.change_payer(ctx, bid, payer="acme_ma", effective_date=date(2026, 1, 1))
    beneficiaries.change_payer(ctx, bid, payer="medicare", effective_date=TODAY + timedelta(days=30))
    assert [r["payer"] for r in beneficiaries.search(ctx, last_name="parkes")] == ["acme_ma"]
    assert beneficiaries.get(ctx, bid)["payer"] == "acme_ma"
