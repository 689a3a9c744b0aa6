"""Group commit for SQLite: the write transactions of one process run on one thread, many per commit.

SQLite has one writer at a time and each commit waits for the disk (about 1.5 ms here). Threads that
each ran BEGIN IMMEDIATE queued on the file lock, whose busy handler sleeps in steps of 1 to 100 ms,
so bookings from 16 clients topped out at about 400 a second. Here each piece of work runs in its
own savepoint inside a shared transaction: a piece that fails is rolled back alone, the others
commit together, and nobody is answered before the commit that holds their write. PostgreSQL runs
writers side by side and does not use this.

Between processes (several uvicorn workers) the batches take turns with every other writer through
`db.writers_turn` (an flock beside the database file).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .db import PerEngine, write_transaction

T = TypeVar("T")
MAX_BATCH = 64
_STOP = object()


class WriteBatches:
    """Runs `work(session)` functions in shared write transactions on one thread; `run` returns after the commit."""

    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, work: Callable[[Session], T]) -> T:
        """The value of `work(session)` once committed; its exception (nothing of it written) when it raised."""
        future: Future[T] = Future()
        self._queue.put((work, future))
        self._ensure_thread()
        return future.result()

    def stop(self) -> None:
        """Let the thread finish the work queued so far and end (the next `run` starts another)."""
        self._queue.put(_STOP)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="write-batches", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch: list[Any] = []
            stopping = False
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
            if stopping:
                with self._lock:
                    if self._queue.empty():  # work queued after this check finds no thread and starts one
                        self._thread = None
                        return

    def _commit(self, batch: list[tuple[Callable[[Session], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with write_transaction(self.engine) as session:
                for work, future in batch:
                    try:
                        with session.begin_nested():
                            outcomes.append((future, True, work(session)))
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                        if not _in_transaction(session):
                            # SQLite rolled the whole transaction back (disk full, I/O error): the
                            # earlier pieces are gone too, and later ones would each commit alone.
                            raise
                        outcomes.append((future, False, exc))
                if not _in_transaction(session):
                    raise sa.exc.InvalidRequestError("the batch's transaction ended before its commit")
        except BaseException as exc:  # noqa: BLE001 - nothing of the batch was written: every caller hears why
            for _, future in batch:
                future.set_exception(exc)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _in_transaction(session: Session) -> bool:
    return session.connection().connection.dbapi_connection.in_transaction


write_batches = PerEngine(WriteBatches, WriteBatches.stop)
"""The engine's group-commit writer (made on first use, stopped when the engine is disposed)."""


def run_write(engine: Engine, work: Callable[[Session], T]) -> T:
    """`work(session)` in a committed write transaction: grouped with other threads' work on SQLite, alone elsewhere."""
    if engine.dialect.name == "sqlite":
        return write_batches(engine).run(work)
    with write_transaction(engine) as session:
        return work(session)
