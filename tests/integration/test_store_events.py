"""The event log: what is appended is what is loaded, versions never clash or skip, keys replay."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

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
    Segment,
    SessionPerformed,
    SessionVoided,
)
from coverage_tracker.domain.history import fold, summarize
from coverage_tracker.store import event_store
from coverage_tracker.store.beneficiaries import DuplicateMbi, add_beneficiary, get_beneficiary, search_beneficiaries
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import read_transaction, write_transaction
from coverage_tracker.store.event_store import IdempotencyConflict, VersionConflict
from coverage_tracker.store.projections import PROJECTION, projection_values, rebuild_projections
from coverage_tracker.store.tables import EventRecord

START = date(2024, 3, 1)


def enrolment(mbi: str = "1EG4TE5MK73", last_name: str = "Lovelace") -> BeneficiaryEnrolled:
    return BeneficiaryEnrolled(mbi, "Ada", last_name, date(1950, 1, 2), "medicare", START)


def enrol(engine: Engine, clinic_id: int, mbi: str = "1EG4TE5MK73", last_name: str = "Lovelace") -> str:
    """A new beneficiary row with its enrolment event at version 1; returns its id."""
    beneficiary_id = str(uuid.uuid4())
    event = enrolment(mbi, last_name)
    with write_transaction(engine) as session:
        add_beneficiary(session, clinic_id, beneficiary_id=beneficiary_id, mbi=mbi, first_name=event.first_name,
                        last_name=last_name, birth_date=event.birth_date, payer=event.payer)
        event_store.append(session, clinic_id, beneficiary_id, 0, [event], recorded_by=None)
    return beneficiary_id


def booking(day: date) -> AppointmentBooked:
    return AppointmentBooked(str(uuid.uuid4()), day)


def versions(engine: Engine, beneficiary_id: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(EventRecord.version).where(EventRecord.beneficiary_id == beneficiary_id)
                                 .order_by(EventRecord.version)))


def projection_rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(PROJECTION).order_by(PROJECTION.c.beneficiary_id))]


def test_every_kind_of_event_loads_back_as_appended(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    events: list[Event] = [
        PayerChanged("medicare_advantage_x", date(2024, 3, 2)),
        DiagnosisRecorded("d1", "M54.50", date(2023, 10, 1), date(2024, 3, 2), systemic_cause=False),
        AppointmentBooked("a1", date(2024, 3, 4)),
        AppointmentBooked("a2", date(2024, 3, 6)),
        AppointmentCancelled("a2", date(2024, 3, 6), "no_show"),
        SessionPerformed("s1", date(2024, 3, 4), (ClaimLine("97810", 1), ClaimLine("97811", 1)), 30,
                         (Segment(15, False), Segment(15, True)), "a1", {"status": "covered", "reasons": []}),
        SessionVoided("s1", date(2024, 3, 4)),
        AssessmentRecorded("as1", date(2024, 3, 5), "improving", "walks further"),
        AbnSigned("abn1", date(2024, 3, 5), date(2025, 2, 28)),
    ]
    with write_transaction(engine) as session:
        version = event_store.append(session, clinic_id, beneficiary_id, 1, events, recorded_by=None)
    assert version == 10
    with read_transaction(engine) as session:
        loaded, loaded_version = event_store.load_stream(session, clinic_id, beneficiary_id)
    assert loaded == [enrolment(), *events]
    assert loaded_version == 10
    with engine.connect() as conn:
        row = conn.execute(sa.select(EventRecord.business_date, EventRecord.recorded_at)
                           .where(EventRecord.version == 7, EventRecord.beneficiary_id == beneficiary_id)).one()
    assert row.business_date == date(2024, 3, 4)
    assert row.recorded_at.tzinfo is not None and row.recorded_at.utcoffset() == timedelta(0)


def test_a_stream_is_invisible_to_another_clinic(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    with engine.connect() as conn:
        assert event_store.load_stream(conn, other.id, beneficiary_id) == ([], 0)


def test_appending_at_a_stale_version_is_a_conflict_and_leaves_the_stream_intact(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    with write_transaction(engine) as session:
        event_store.append(session, clinic_id, beneficiary_id, 1, [booking(START)], recorded_by=None)
    with pytest.raises(VersionConflict), write_transaction(engine) as session:
        event_store.append(session, clinic_id, beneficiary_id, 1, [booking(START + timedelta(1))], recorded_by=None)
    assert versions(engine, beneficiary_id) == [1, 2]


def test_eight_writers_at_the_same_version_one_wins(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            with write_transaction(engine) as session:
                event_store.append(session, clinic_id, beneficiary_id, 1, [booking(START + timedelta(n))], None)
            outcomes.append("appended")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["appended"] + ["conflict"] * 7
    assert versions(engine, beneficiary_id) == [1, 2]


def test_eight_writers_that_reload_on_conflict_all_land_without_gaps(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            for _ in range(50):
                try:
                    with write_transaction(engine) as session:
                        events, version = event_store.load_stream(session, clinic_id, beneficiary_id)
                        event_store.append(session, clinic_id, beneficiary_id, version, [booking(START + timedelta(n))],
                                           None, prior_events=events)
                    return
                except VersionConflict:
                    continue
            raise AssertionError("no append after 50 tries")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions(engine, beneficiary_id) == list(range(1, 10))
    with engine.connect() as conn:
        events, version = event_store.load_stream(conn, clinic_id, beneficiary_id)
    assert projection_rows(engine) == [projection_values(clinic_id, beneficiary_id, events, version)]


def test_an_idempotency_key_stores_its_answer_and_is_unique_per_clinic(engine: Engine, clinic_id: int) -> None:
    first, second = enrol(engine, clinic_id), enrol(engine, clinic_id, mbi="2EG4TE5MK73")
    answer = {"id": "a1", "date": "2024-03-04", "decision": {"status": "covered"}}
    with write_transaction(engine) as session:
        event_store.append(session, clinic_id, first, 1, [booking(START)], None, "key-1", "hash-1", answer)
    with read_transaction(engine) as session:
        assert event_store.find_idempotent(session, clinic_id, "key-1") == ("hash-1", answer)
        assert event_store.find_idempotent(session, clinic_id, "key-2") is None
    with pytest.raises(IdempotencyConflict), write_transaction(engine) as session:
        event_store.append(session, clinic_id, second, 1, [booking(START)], None, "key-1", "hash-2", {"id": "x"})
    assert versions(engine, second) == [1]
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    other_beneficiary = enrol(engine, other.id)
    with write_transaction(engine) as session:
        event_store.append(session, other.id, other_beneficiary, 1, [booking(START)], None, "key-1", "h", {"id": "y"})
        assert event_store.find_idempotent(session, clinic_id, "key-1") == ("hash-1", answer)


def test_an_mbi_is_enrolled_once_per_clinic_and_found_by_last_name_prefix(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id, last_name="O'Brien_%")
    with pytest.raises(DuplicateMbi), write_transaction(engine) as session:
        add_beneficiary(session, clinic_id, beneficiary_id="dup", mbi="1EG4TE5MK73", first_name="A", last_name="B",
                        birth_date=date(1950, 1, 1), payer="medicare")
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    enrol(engine, other.id)
    with read_transaction(engine) as session:
        assert [b.id for b in search_beneficiaries(session, clinic_id, last_name_prefix="o'brien_")] == [beneficiary_id]
        assert search_beneficiaries(session, clinic_id, last_name_prefix="o'brienx") == []
        assert search_beneficiaries(session, clinic_id, last_name_prefix="o'brien%%") == []
        assert [b.id for b in search_beneficiaries(session, clinic_id, mbi="1EG4TE5MK73")] == [beneficiary_id]
        assert get_beneficiary(session, other.id, beneficiary_id) is None


def random_operations(rng: random.Random, history: list[Event]) -> list[Event]:
    """A plausible next event or two for a stream, given what it holds."""
    day = START + timedelta(rng.randrange(0, 300))
    state = fold(history)
    booked = [a for a in state.appointments.values() if a.status == "booked"]
    performed = [s for s in state.sessions.values() if not s.voided]
    taken = {a.date for a in booked} | {s.date for s in performed}
    choice = rng.choice(["book", "book", "session", "cancel", "void", "assess", "diagnose", "payer"])
    if choice == "book" and day not in taken:
        return [booking(day)]
    if choice == "session" and day not in taken:
        lines = (ClaimLine("97810", 1),)
        return [SessionPerformed(str(uuid.uuid4()), day, lines, 15, (Segment(15),))]
    if choice == "cancel" and booked:
        appointment = rng.choice(booked)
        return [AppointmentCancelled(appointment.id, appointment.date, rng.choice(["cancelled", "no_show"]))]
    if choice == "void" and performed:
        session = rng.choice(performed)
        return [SessionVoided(session.id, session.date)]
    if choice == "assess":
        return [AssessmentRecorded(str(uuid.uuid4()), day, rng.choice(["improving", "not_improving", "regressing"]))]
    if choice == "diagnose":
        return [DiagnosisRecorded(str(uuid.uuid4()), "M54.50", day - timedelta(100), day)]
    if choice == "payer":
        return [PayerChanged(rng.choice(["medicare", "plan_b"]), day)]
    return [booking(START + timedelta(400 + len(history)))]


def test_the_projection_written_with_each_append_equals_a_rebuild_from_the_log(engine: Engine, clinic_id: int) -> None:
    rng = random.Random(20240301)
    streams = [enrol(engine, clinic_id, mbi=f"{n}EG4TE5MK73", last_name=f"Name{n}") for n in range(1, 6)]
    for step in range(60):
        beneficiary_id = rng.choice(streams)
        with write_transaction(engine) as session:
            events, version = event_store.load_stream(session, clinic_id, beneficiary_id)
            new = random_operations(rng, events)
            prior = events if step % 2 else None
            event_store.append(session, clinic_id, beneficiary_id, version, new, None, prior_events=prior)
    written = projection_rows(engine)
    assert len(written) == 5
    with engine.begin() as conn:
        conn.execute(sa.delete(PROJECTION).where(PROJECTION.c.beneficiary_id == streams[0]))
        conn.execute(sa.update(PROJECTION).where(PROJECTION.c.beneficiary_id == streams[1]).values(booked_count=-1))
    assert rebuild_projections(engine, batch_size=2) == 5
    assert projection_rows(engine) == written
    with engine.connect() as conn:
        for row in written:
            events, version = event_store.load_stream(conn, clinic_id, row["beneficiary_id"])
            summary = summarize(fold(events))
            assert row["version"] == version
            assert row["sessions_performed"] == summary["sessions_performed"]
            assert row["booked_count"] == summary["booked_count"]


KILLED_WRITER = """
import sys, time, uuid
from datetime import date, timedelta
from coverage_tracker.domain.events import AppointmentBooked
from coverage_tracker.store import event_store
from coverage_tracker.store.db import create_db_engine, write_transaction

url, clinic_id, beneficiary_id, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
engine = create_db_engine(url)
n = 0
while True:
    n += 1
    with write_transaction(engine) as session:
        events, version = event_store.load_stream(session, clinic_id, beneficiary_id)
        new = [AppointmentBooked(str(uuid.uuid4()), date(2030, 1, 1) + timedelta(days=2 * n + i)) for i in range(2)]
        event_store.append(session, clinic_id, beneficiary_id, version, new, None, prior_events=events)
        if mode == "pause" and n == 4:
            print("inside", flush=True)
            time.sleep(600)
    print(version + 2, flush=True)
"""


@pytest.mark.parametrize("mode", ["pause", "run"])
def test_a_writer_killed_mid_transaction_leaves_no_partial_event_and_no_gap(
    engine: Engine, db_url: str, clinic_id: int, mode: str
) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, db_url, str(clinic_id), beneficiary_id, mode],
        stdout=subprocess.PIPE, text=True,
    )
    lines = []
    assert child.stdout is not None
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "inside" or len(lines) >= 25:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()

    found = versions(engine, beneficiary_id)
    assert found == list(range(1, len(found) + 1))
    assert len(found) % 2 == 1
    if mode == "pause":
        assert found == list(range(1, 8))
    with write_transaction(engine) as session:
        events, version = event_store.load_stream(session, clinic_id, beneficiary_id)
        assert event_store.append(session, clinic_id, beneficiary_id, version, [booking(START)], None) == version + 1
    assert projection_rows(engine)[0]["version"] == version + 1
