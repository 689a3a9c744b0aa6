"""Group commit on SQLite: work from many threads commits together, a failing piece is rolled back alone."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coverage_tracker.store import event_store
from coverage_tracker.store.db import WritersTurn
from coverage_tracker.store.write_batches import run_write, write_batches

from test_store_events import booking, enrol, versions  # the event log tests' helpers

START = date(2024, 3, 1)


class Refused(Exception):
    """A business rule said no."""


def _book(clinic_id: int, beneficiary_id: str, day: date, refuse: bool = False):
    def work(session) -> int:
        _, version = event_store.load_stream(session, clinic_id, beneficiary_id)
        new_version = event_store.append(session, clinic_id, beneficiary_id, version, [booking(day)], None)
        if refuse:
            raise Refused(day.isoformat())
        return new_version

    return work


def _wait_until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sixteen_threads_writing_at_once_each_get_their_own_committed_version(engine: Engine, clinic_id: int, backend: str) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    answers: list[int] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        while True:  # PostgreSQL writes side by side: a writer that lost the race reloads (as commands.run does)
            try:
                version = run_write(engine, _book(clinic_id, beneficiary_id, START + timedelta(days=i)))
                break
            except event_store.VersionConflict:
                continue
        with lock:
            answers.append(version)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == list(range(2, 18))
    assert versions(engine, beneficiary_id) == list(range(1, 18))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_piece_that_fails_is_rolled_back_alone_and_the_rest_of_its_batch_commits(engine: Engine, clinic_id: int, db_url: str) -> None:
    beneficiaries = [enrol(engine, clinic_id, mbi=f"1EG4TE5MK{i:02d}") for i in range(5)]
    batches = write_batches(engine)
    # Another process's turn: hold the writers' lock so the pieces queue up and go in one batch.
    lock_fd = os.open(f"{engine.url.database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    outcomes: dict[int, object] = {}

    def client(i: int) -> None:
        try:
            outcomes[i] = run_write(engine, _book(clinic_id, beneficiaries[i], START, refuse=(i == 2)))
        except Refused as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=client, args=(0,))]
    threads[0].start()
    _wait_until(lambda: batches._queue.qsize() == 0)  # the first piece is taken and waits for the lock
    for i in range(1, 5):
        threads.append(threading.Thread(target=client, args=(i,)))
        threads[-1].start()
    _wait_until(lambda: batches._queue.qsize() == 4)
    assert outcomes == {}, "nobody is answered before the commit"
    fcntl.flock(lock_fd, fcntl.LOCK_UN)
    os.close(lock_fd)
    for t in threads:
        t.join(timeout=30)

    assert isinstance(outcomes[2], Refused)
    assert [outcomes[i] for i in (0, 1, 3, 4)] == [2, 2, 2, 2]
    assert [versions(engine, b) for b in beneficiaries] == [[1, 2], [1, 2], [1], [1, 2], [1, 2]]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_when_the_commit_fails_every_piece_of_the_batch_hears_it_and_nothing_is_written(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    done: list[int] = []

    def work(session) -> int:
        _, version = event_store.load_stream(session, clinic_id, beneficiary_id)
        event_store.append(session, clinic_id, beneficiary_id, version, [booking(START)], None)
        # a deferred foreign key that cannot hold makes the COMMIT itself fail
        session.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
        session.execute(sa.text("INSERT INTO audit_events (clinic_id, action, outcome, at) VALUES (987654, 'x', '200', '2026-01-01')"))
        done.append(version + 1)
        return version + 1

    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        run_write(engine, work)
    assert done == [2], "the piece itself succeeded: the commit failed"
    assert versions(engine, beneficiary_id) == [1]
    assert run_write(engine, _book(clinic_id, beneficiary_id, START)) == 2  # the writer goes on


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_disposed_engine_stops_its_writer_and_the_next_write_starts_another(engine: Engine, clinic_id: int) -> None:
    beneficiary_id = enrol(engine, clinic_id)
    assert run_write(engine, _book(clinic_id, beneficiary_id, START)) == 2
    batches = write_batches(engine)
    engine.dispose()
    _wait_until(lambda: batches._thread is None)
    assert run_write(engine, _book(clinic_id, beneficiary_id, START + timedelta(days=1))) == 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_when_sqlite_rolls_the_whole_batch_back_nobody_is_told_their_write_landed(engine: Engine, clinic_id: int) -> None:
    beneficiaries = [enrol(engine, clinic_id, mbi=f"1EG4TE5MK{i:02d}") for i in range(3)]
    batches = write_batches(engine)

    def disk_full(session) -> None:
        # no page left in the file: SQLite answers SQLITE_FULL and rolls the transaction back
        pages = session.execute(sa.text("PRAGMA page_count")).scalar_one()
        session.execute(sa.text(f"PRAGMA max_page_count = {pages}"))
        session.execute(sa.text("INSERT INTO audit_events (clinic_id, action, outcome, at) VALUES (:c, :a, '200', '2026-01-01')"),
                        {"c": clinic_id, "a": "x" * 200_000})

    lock_fd = os.open(f"{engine.url.database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    outcomes: dict[int, object] = {}
    pieces = [lambda session: None, _book(clinic_id, beneficiaries[0], START), disk_full, _book(clinic_id, beneficiaries[2], START)]

    def client(i: int) -> None:
        try:
            outcomes[i] = run_write(engine, pieces[i])
        except Exception as exc:  # noqa: BLE001 - what the caller hears
            outcomes[i] = exc

    threads = [threading.Thread(target=client, args=(0,))]
    threads[0].start()
    _wait_until(lambda: batches._queue.qsize() == 0)  # a first batch of its own waits for the turn
    for i in (1, 2, 3):  # the next three go in one batch, in this order
        threads.append(threading.Thread(target=client, args=(i,)))
        threads[-1].start()
        _wait_until(lambda i=i: batches._queue.qsize() == i)
    fcntl.flock(lock_fd, fcntl.LOCK_UN)
    os.close(lock_fd)
    for t in threads:
        t.join(timeout=30)

    assert outcomes[0] is None
    assert all(isinstance(outcomes[i], Exception) for i in (1, 2, 3)), outcomes
    assert [versions(engine, b) for b in beneficiaries] == [[1], [1], [1]]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_writer_that_waits_out_its_turn_hears_that_the_database_is_locked(engine: Engine) -> None:
    lock_fd = os.open(f"{engine.url.database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # another process holds the turn and does not let go
    try:
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            with WritersTurn(engine.url.database, timeout=0.3)():
                pass
        assert time.monotonic() - started >= 0.3
    finally:
        os.close(lock_fd)
    with WritersTurn(engine.url.database, timeout=0.3)():
        pass  # free again
