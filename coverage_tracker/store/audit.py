"""The audit log: who read or wrote which beneficiary's data, and with what outcome."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from coverage_tracker.store.db import close_quietly, writers_turn
from coverage_tracker.store.tables import AuditEvent, utcnow

AUDIT = AuditEvent.__table__


def record_audit(
    conn: sa.Connection | Session,
    *,
    clinic_id: int,
    api_key_id: int | None,
    role: str | None,
    action: str,
    outcome: str,
    beneficiary_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Write one audit row in the caller's transaction."""
    conn.execute(
        sa.insert(AUDIT).values(
            clinic_id=clinic_id,
            api_key_id=api_key_id,
            role=role,
            action=action,
            outcome=outcome,
            beneficiary_id=beneficiary_id,
            at=at or utcnow(),
        )
    )


def record_audits(conn: sa.Connection | Session, rows: list[dict[str, Any]]) -> None:
    """Write many audit rows (the keyword arguments of `record_audit`, `at` given) in one statement."""
    if rows:
        conn.execute(sa.insert(AUDIT), [{"beneficiary_id": None, **row} for row in rows])


_COLUMNS = ("clinic_id", "api_key_id", "role", "action", "outcome", "beneficiary_id", "at")
_INSERT_SQL = "INSERT INTO audit_events ({}) VALUES ({})".format(", ".join(_COLUMNS), "{}")
_INSERT_BY_PARAMSTYLE = {
    "qmark": _INSERT_SQL.format(", ".join("?" for _ in _COLUMNS)),
    "format": _INSERT_SQL.format(", ".join("%s" for _ in _COLUMNS)),
    "pyformat": _INSERT_SQL.format(", ".join("%s" for _ in _COLUMNS)),
}


class AuditBatches:
    """One kept DBAPI connection writing batches of audit rows: one executemany and one commit per batch.

    The API writes an audit row for every request; going through a Session per batch cost more
    CPU than the booking check itself. A connection that fails is closed and reopened next time.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._sql = _INSERT_BY_PARAMSTYLE[engine.dialect.paramstyle]
        self._at = AUDIT.c.at.type.bind_processor(engine.dialect) or (lambda value: value)
        self._error = engine.dialect.loaded_dbapi.Error
        self._conn: Any = None
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", lambda *_: self.close())

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert the rows (`record_audit`'s keyword arguments, `at` given) in one transaction."""
        at = self._at
        params = [
            (r["clinic_id"], r["api_key_id"], r["role"], r["action"], r["outcome"], r.get("beneficiary_id"), at(r["at"]))
            for r in rows
        ]
        with self._lock, writers_turn(self.engine):
            conn = self._conn or self._open()
            try:
                cursor = conn.cursor()
                if self.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(self._sql, params)
                cursor.close()
                if self.sqlite:
                    conn.execute("COMMIT")
                else:
                    conn.commit()
            except self._error as exc:
                self._conn = None
                close_quietly(conn)
                raise sa.exc.DBAPIError.instance(self._sql, params[:1], exc, self._error) from exc

    def _open(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()
        self._conn = fairy.dbapi_connection
        return self._conn

    def close(self) -> None:
        """Close the kept connection (made again on the next write)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            close_quietly(conn)


def query_audit(
    session: Session,
    clinic_id: int,
    *,
    beneficiary_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> list[AuditEvent]:
    """The clinic's audit rows, oldest first, for one beneficiary and/or the instants in [since, until)."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if beneficiary_id is not None:
        query = query.where(AuditEvent.beneficiary_id == beneficiary_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    return list(session.exec(query.order_by(AuditEvent.at, AuditEvent.id).limit(limit)))
