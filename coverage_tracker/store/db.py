"""Engines and transactions for SQLite (WAL, BEGIN IMMEDIATE for writes) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session

from coverage_tracker.config import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "coverage_tracker_write"


def normalize_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pinned to psycopg 3 (`postgresql://` would pick psycopg2)."""
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_db_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: the configured database) with this project's SQLite setup."""
    url = normalize_url(url or get_settings().database_url)
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLAlchemy's recipe for non-legacy transactions on pysqlite: the driver stops
    # emitting BEGIN itself, and _sqlite_on_begin emits it (IMMEDIATE for writes).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # A write takes the write lock up front: a deferred transaction that reads and then
    # writes fails with SQLITE_BUSY at once instead of waiting out busy_timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One shared engine per URL for the process (default: the configured database)."""
    return create_db_engine(url)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction (BEGIN IMMEDIATE on SQLite, in its turn): committed on success, else rolled back."""
    with writers_turn(engine), Session(engine, expire_on_commit=False) as session, session.begin():
        session.connection(execution_options={WRITE_OPTION: True})
        yield session


class WritersTurn:
    """Turns for the writers of one SQLite database file: a lock between this process's threads, an flock between processes.

    SQLite's busy handler sleeps in steps of 1 to 100 ms while another connection writes, so under a
    steady stream of writes a waiting writer could starve for seconds (measured: bookings' p99 1.6 s
    with two workers) and another writer run out its busy timeout. Here a process's threads queue on
    a lock that wakes the next one at once, and one of them polls the flock every 0.5-5 ms. The
    flock is on `<database>-writer.lock`, beside the file; a writer waiting longer than SQLite's busy
    timeout gets SQLite's "database is locked".
    """

    def __init__(self, database: str | None, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self._threads = threading.Lock()
        self._path = f"{database}-writer.lock" if database and database != ":memory:" and not database.startswith("file:") else None
        self.timeout = timeout

    @contextmanager
    def __call__(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise _locked(self.timeout)
        try:
            if self._path is None:
                yield
                return
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _flock_before(fd, deadline, self.timeout)
                yield
            finally:
                os.close(fd)  # releases the flock
        finally:
            self._threads.release()


def _flock_before(fd: int, deadline: float, timeout: float) -> None:
    # One thread per process waits here (the others wait on the thread lock), polling every 0.5-5 ms.
    pause = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise _locked(timeout) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.005)


def _locked(timeout: float) -> sa.exc.OperationalError:
    """What a writer that waited out its turn raises: SQLite's own 'database is locked' (a 503 in the API)."""
    return sa.exc.OperationalError("waiting for the writers' turn", None, sqlite3.OperationalError(f"database is locked (waited {timeout:g} s)"))


_TURNS: dict[str, WritersTurn] = {}
_TURNS_LOCK = threading.Lock()


@contextmanager
def writers_turn(engine: Engine) -> Iterator[None]:
    """This writer's turn on the engine's SQLite database file (nothing to wait for on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    database = engine.url.database or ""
    turn = _TURNS.get(database)
    if turn is None:
        with _TURNS_LOCK:
            turn = _TURNS.setdefault(database, WritersTurn(engine.url.database))
    with turn():
        yield


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A session in one read transaction: one consistent snapshot, rolled back at the end."""
    with Session(engine, expire_on_commit=False) as session:
        session.connection()
        yield session
        session.rollback()


class RawReads:
    """DBAPI connections kept open for the hot single-statement reads: no Session, no pool checkout per request.

    Each read is one statement, so it sees one snapshot (SQLite in autocommit mode; PostgreSQL with
    autocommit on). A connection that fails is closed, and the error is raised as SQLAlchemy's
    (an unreachable database is then the same 503 as everywhere else).
    """

    def __init__(self, engine: Engine, keep: int = 8) -> None:
        self.engine = engine
        self.keep = keep
        self.dialect = engine.dialect.name
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._error = engine.dialect.loaded_dbapi.Error

    def fetchall(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """The rows of one statement (`sql` in the driver's own parameter style)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._open()
            cursor = conn.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.close()
        except self._error as exc:
            if conn is not None:
                close_quietly(conn)
            raise sa.exc.DBAPIError.instance(sql, params, exc, self._error) from exc
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            close_quietly(conn)
        return rows

    def _open(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()
        conn = fairy.dbapi_connection
        if self.dialect == "postgresql":
            conn.autocommit = True
        return conn

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            close_quietly(conn)


T = TypeVar("T")


class PerEngine(Generic[T]):
    """One `make(engine)` per engine, made on first use; `on_dispose` runs when the engine is disposed."""

    def __init__(self, make: Callable[[Engine], T], on_dispose: Callable[[T], None] | None = None) -> None:
        self.make = make
        self.on_dispose = on_dispose
        self._made: "weakref.WeakKeyDictionary[Engine, T]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> T:
        found = self._made.get(engine)
        if found is None:
            with self._lock:
                found = self._made.get(engine)
                if found is None:
                    found = self._made[engine] = self.make(engine)
                    if self.on_dispose is not None:
                        on_dispose, made = self.on_dispose, found
                        event.listen(engine, "engine_disposed", lambda *_: on_dispose(made))
        return found


raw_reads = PerEngine(RawReads, RawReads.close)
"""The engine's kept read connections (made on first use, closed when the engine is disposed)."""


def close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped either way
        pass
