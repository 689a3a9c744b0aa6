"""The per-beneficiary projection: derived from the log, written with each append, rebuildable."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from coverage_tracker.domain.events import Event, event_from_payload
from coverage_tracker.domain.history import fold, summarize
from coverage_tracker.store.db import write_transaction
from coverage_tracker.store.tables import BeneficiaryProjection, EventRecord

PROJECTION = BeneficiaryProjection.__table__
EVENTS = EventRecord.__table__
KEY_COLUMNS = ("beneficiary_id", "clinic_id", "version")
SUMMARY_COLUMNS = tuple(c.name for c in PROJECTION.columns if c.name not in KEY_COLUMNS)
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def projection_values(clinic_id: int, beneficiary_id: str, events: Sequence[Event], version: int) -> dict[str, Any]:
    """The projection row for a stream, from the domain's fold and summary."""
    summary = summarize(fold(events))
    row: dict[str, Any] = {"beneficiary_id": beneficiary_id, "clinic_id": clinic_id, "version": version}
    for name in SUMMARY_COLUMNS:
        value = summary.get(name)
        if isinstance(PROJECTION.c[name].type, sa.Date) and isinstance(value, str):
            value = date.fromisoformat(value)
        row[name] = value
    return row


def _upsert_statement(dialect: str) -> Any:
    # One statement, and never backwards: a row only moves to the same or a newer version.
    insert = _INSERTS[dialect](PROJECTION)
    return insert.on_conflict_do_update(
        index_elements=[PROJECTION.c.beneficiary_id],
        set_={name: insert.excluded[name] for name in ("version", *SUMMARY_COLUMNS)},
        where=PROJECTION.c.version <= insert.excluded.version,
    )


# Built once per dialect: building `excluded` costs more than the upsert itself.
_UPSERTS = {dialect: _upsert_statement(dialect) for dialect in _INSERTS}


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(_UPSERTS[session.get_bind().dialect.name], rows)


def refresh_projection(
    session: Session, clinic_id: int, beneficiary_id: str, events: Sequence[Event], version: int
) -> None:
    """Write the projection of one stream (all its events, up to `version`) in the caller's transaction."""
    _upsert(session, [projection_values(clinic_id, beneficiary_id, events, version)])


def rebuild_projections(engine: Engine, batch_size: int = 500) -> int:
    """Recompute every projection row from the log in one transaction; returns the number of streams."""
    query = sa.select(
        EVENTS.c.clinic_id, EVENTS.c.beneficiary_id, EVENTS.c.version, EVENTS.c.type, EVENTS.c.schema_version, EVENTS.c.payload
    ).order_by(EVENTS.c.beneficiary_id, EVENTS.c.version)
    count = 0
    with write_transaction(engine) as session:
        result = session.execute(query, execution_options={"yield_per": batch_size})
        batch: list[dict[str, Any]] = []
        for (clinic_id, beneficiary_id), rows in itertools.groupby(result, key=lambda r: (r[0], r[1])):
            rows = list(rows)
            events = [event_from_payload(r.type, r.payload, r.schema_version) for r in rows]
            batch.append(projection_values(clinic_id, beneficiary_id, events, rows[-1].version))
            count += 1
            if len(batch) >= batch_size:
                _upsert(session, batch)
                batch = []
        if batch:
            _upsert(session, batch)
        orphans = sa.delete(PROJECTION).where(~sa.exists().where(EVENTS.c.beneficiary_id == PROJECTION.c.beneficiary_id))
        session.execute(orphans)
    return count
