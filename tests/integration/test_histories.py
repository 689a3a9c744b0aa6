"""Kept histories: a read is always as fresh as the log, never crosses clinics, and memory stays bounded."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from coverage_tracker.store import event_store
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction
from coverage_tracker.services.histories import Histories

from test_store_events import booking, enrol  # the event log tests' helpers

DAY = date(2024, 3, 4)


def _book(engine: Engine, clinic_id: int, beneficiary_id: str, day: date) -> None:
    with write_transaction(engine) as session:
        _, version = event_store.load_stream(session, clinic_id, beneficiary_id)
        event_store.append(session, clinic_id, beneficiary_id, version, [booking(day)], None)


def test_a_kept_history_gives_way_to_another_processs_write_on_the_next_read(engine: Engine, db_url: str, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    kept = Histories(engine, capacity=10)
    first = kept.read(clinic_id, beneficiary_id)
    assert first is not None and first.appointments == {}
    assert kept.read(clinic_id, beneficiary_id) is first  # nothing new: the folded history is reused

    other_process = create_db_engine(db_url)  # its own connections, as another worker's would be
    _book(other_process, clinic_id, beneficiary_id, DAY)
    other_process.dispose()

    fresh = kept.read(clinic_id, beneficiary_id)
    assert fresh is not first
    assert [a.date for a in fresh.appointments.values()] == [DAY]
    assert kept.read(clinic_id, beneficiary_id) is fresh


def test_a_history_kept_for_one_clinic_is_never_answered_to_another(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    with write_transaction(engine) as session:
        other_clinic, _ = get_or_create_clinic(session, "Other Clinic")
        other_clinic_id = other_clinic.id
    kept = Histories(engine, capacity=10)
    assert kept.read(clinic_id, beneficiary_id) is not None
    assert kept.read(other_clinic_id, beneficiary_id) is None
    assert kept.read(clinic_id, "no-such-beneficiary") is None


def test_the_least_recently_read_history_is_dropped_beyond_the_capacity(engine: Engine, clinic_id: int) -> None:
    ids = [enrol(engine, clinic_id, mbi=f"1EG4TE5MK{i:02d}") for i in range(3)]
    kept = Histories(engine, capacity=2)
    a = kept.read(clinic_id, ids[0])
    kept.read(clinic_id, ids[1])
    assert kept.read(clinic_id, ids[0]) is a  # read again: now the most recent
    kept.read(clinic_id, ids[2])
    assert len(kept) == 2
    assert kept.read(clinic_id, ids[0]) is a
    assert kept.read(clinic_id, ids[1]) is not None  # was dropped: read and folded again

    nothing_kept = Histories(engine, capacity=0)
    assert nothing_kept.read(clinic_id, ids[0]) is not None and len(nothing_kept) == 0
