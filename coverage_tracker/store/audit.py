"""The audit log: who read or wrote which beneficiary's data, and with what outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

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
