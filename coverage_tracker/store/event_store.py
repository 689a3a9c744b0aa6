"""The append-only event log: one stream per beneficiary, optimistic concurrency on its version.

Nothing here (or anywhere) updates or deletes an event row; the database refuses it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from coverage_tracker.domain.events import SCHEMA_VERSION, Event, event_from_payload, event_payload
from coverage_tracker.store import projections
from coverage_tracker.store.db import RawReads
from coverage_tracker.store.tables import EventRecord, utcnow

EVENTS = EventRecord.__table__


class VersionConflict(Exception):
    """Another writer appended to the stream first: roll back, reload and decide again."""


class IdempotencyConflict(Exception):
    """The idempotency key was stored by another transaction: roll back and call `find_idempotent`."""


# The payload is read as its JSON text: the event decoder parses it straight into the event.
_STREAM = (
    sa.select(EVENTS.c.version, EVENTS.c.type, EVENTS.c.schema_version, sa.cast(EVENTS.c.payload, sa.Text))
    .where(EVENTS.c.clinic_id == sa.bindparam("clinic_id"), EVENTS.c.beneficiary_id == sa.bindparam("beneficiary_id"))
    .order_by(EVENTS.c.version)
)
_IDEMPOTENT = sa.select(EVENTS.c.request_hash, EVENTS.c.response).where(
    EVENTS.c.clinic_id == sa.bindparam("clinic_id"), EVENTS.c.idempotency_key == sa.bindparam("key")
)


def load_stream(conn: sa.Connection | Session, clinic_id: int, beneficiary_id: str) -> tuple[list[Event], int]:
    """The beneficiary's events in version order and the stream's version (0 when empty)."""
    rows = conn.execute(_STREAM, {"clinic_id": clinic_id, "beneficiary_id": beneficiary_id}).all()
    events = [event_from_payload(type_, payload, schema_version) for _, type_, schema_version, payload in rows]
    return events, rows[-1][0] if rows else 0


# The stream query as the driver takes it (the hot read path goes around SQLAlchemy's execution layer).
_STREAM_SQL = (
    "SELECT version, type, schema_version, CAST(payload AS TEXT) FROM events"
    " WHERE clinic_id = {c} AND beneficiary_id = {b} AND version > {v} ORDER BY version"
)
_STREAM_BY_PARAMSTYLE = {
    "qmark": _STREAM_SQL.format(c=":clinic_id", b=":beneficiary_id", v=":after"),
    "named": _STREAM_SQL.format(c=":clinic_id", b=":beneficiary_id", v=":after"),
    "pyformat": _STREAM_SQL.format(c="%(clinic_id)s", b="%(beneficiary_id)s", v="%(after)s"),
}


_EXISTS_SQL = "SELECT 1 FROM events WHERE clinic_id = {c} AND beneficiary_id = {b} AND version = 1"
_EXISTS_BY_PARAMSTYLE = {
    "qmark": _EXISTS_SQL.format(c=":clinic_id", b=":beneficiary_id"),
    "named": _EXISTS_SQL.format(c=":clinic_id", b=":beneficiary_id"),
    "pyformat": _EXISTS_SQL.format(c="%(clinic_id)s", b="%(beneficiary_id)s"),
}


def stream_exists(reads: RawReads, clinic_id: int, beneficiary_id: str) -> bool:
    """True when the clinic has a stream for this beneficiary (enrolment starts it, in the same transaction)."""
    sql = _EXISTS_BY_PARAMSTYLE[reads.engine.dialect.paramstyle]
    return bool(reads.fetchall(sql, {"clinic_id": clinic_id, "beneficiary_id": beneficiary_id}))


def read_stream(reads: RawReads, clinic_id: int, beneficiary_id: str, after: int = 0) -> tuple[list[Event], int]:
    """The events after version `after` and the last one's version, in one statement on a kept DBAPI connection."""
    sql = _STREAM_BY_PARAMSTYLE[reads.engine.dialect.paramstyle]
    rows = reads.fetchall(sql, {"clinic_id": clinic_id, "beneficiary_id": beneficiary_id, "after": after})
    events = [event_from_payload(type_, payload, schema_version) for _, type_, schema_version, payload in rows]
    return events, rows[-1][0] if rows else after


def append(
    session: Session,
    clinic_id: int,
    beneficiary_id: str,
    expected_version: int,
    events: Sequence[Event],
    recorded_by: int | None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    response: dict[str, Any] | None = None,
    *,
    prior_events: Sequence[Event] | None = None,
) -> int:
    """Append `events` after `expected_version` and refresh the projection; returns the new version."""
    # The key, hash and response go on the first new row. After a conflict the transaction is
    # unusable (PostgreSQL aborts it), so the caller rolls back. `prior_events` (the stream as
    # loaded at `expected_version`) spares reloading it for the projection.
    if not events:
        raise ValueError("append needs at least one event")
    recorded_at = utcnow()
    rows = [
        {
            "clinic_id": clinic_id,
            "beneficiary_id": beneficiary_id,
            "version": expected_version + i,
            "type": event.type_name,
            "schema_version": SCHEMA_VERSION,
            "payload": event_payload(event),
            "business_date": event.business_date,
            "recorded_at": recorded_at,
            "recorded_by": recorded_by,
            "idempotency_key": idempotency_key if i == 1 else None,
            "request_hash": request_hash if i == 1 else None,
            "response": response if i == 1 else None,
        }
        for i, event in enumerate(events, start=1)
    ]
    try:
        session.execute(sa.insert(EVENTS), rows)
    except IntegrityError as exc:
        conflict = _conflict(exc)
        if conflict is None:
            raise
        raise conflict from exc
    version = expected_version + len(events)
    if prior_events is None:
        stream, _ = load_stream(session, clinic_id, beneficiary_id)
    elif len(prior_events) == expected_version:
        stream = [*prior_events, *events]
    else:
        raise ValueError(f"prior_events has {len(prior_events)} events, expected {expected_version}")
    projections.refresh_projection(session, clinic_id, beneficiary_id, stream, version)
    return version


_VERSION_UNIQUE = ("uq_events_beneficiary_id_version", "events.beneficiary_id, events.version")
_IDEMPOTENCY_UNIQUE = ("uq_events_clinic_id_idempotency_key", "events.clinic_id, events.idempotency_key")


def _conflict(exc: IntegrityError) -> Exception | None:
    # PostgreSQL names the constraint; SQLite names the columns.
    diag = getattr(exc.orig, "diag", None)
    found = getattr(diag, "constraint_name", None) or str(exc.orig)
    if any(name in found for name in _IDEMPOTENCY_UNIQUE):
        return IdempotencyConflict("idempotency key already used in this clinic")
    if any(name in found for name in _VERSION_UNIQUE):
        return VersionConflict("the stream was appended to by another writer")
    return None


def find_idempotent(conn: sa.Connection | Session, clinic_id: int, key: str) -> tuple[str | None, Any] | None:
    """`(request_hash, response)` stored with this clinic's idempotency key, or None when unused."""
    row = conn.execute(_IDEMPOTENT, {"clinic_id": clinic_id, "key": key}).first()
    return None if row is None else (row[0], row[1])


_RECORDS = sa.select(
    EVENTS.c.version, EVENTS.c.type, EVENTS.c.business_date, EVENTS.c.payload, EVENTS.c.recorded_at, EVENTS.c.recorded_by
).where(EVENTS.c.clinic_id == sa.bindparam("clinic_id"), EVENTS.c.beneficiary_id == sa.bindparam("beneficiary_id")).order_by(
    EVENTS.c.version
)


def load_records(conn: sa.Connection | Session, clinic_id: int, beneficiary_id: str) -> list[sa.Row[Any]]:
    """The stream's rows as stored (version, type, business_date, payload, recorded_at, recorded_by)."""
    return list(conn.execute(_RECORDS, {"clinic_id": clinic_id, "beneficiary_id": beneficiary_id}))
