"""The database schema: every table carries its clinic, and the event log is append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION



class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone; this restores it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


class Clinic(SQLModel, table=True):
    __tablename__ = "clinics"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    timezone: str | None = None
    alert_recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class Beneficiary(SQLModel, table=True):
    __tablename__ = "beneficiaries"
    __table_args__ = (
        sa.UniqueConstraint("clinic_id", "mbi"),
        sa.Index("ix_beneficiaries_clinic_id_last_name_lower", "clinic_id", "last_name_lower"),
    )

    id: str = Field(primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    mbi: str
    first_name: str
    last_name: str
    last_name_lower: str
    birth_date: date
    payer: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class EventRecord(SQLModel, table=True):
    """One row of the event log; never updated, never deleted."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("beneficiary_id", "version"),
        sa.UniqueConstraint("clinic_id", "idempotency_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    beneficiary_id: str = Field(foreign_key="beneficiaries.id")
    version: int
    type: str
    schema_version: int
    payload: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    business_date: date
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    recorded_by: int | None = Field(default=None, foreign_key="api_keys.id")
    idempotency_key: str | None = None
    request_hash: str | None = None
    response: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)


class BeneficiaryProjection(SQLModel, table=True):
    """Per-beneficiary summary derived from the log, for lists and the daily scan."""

    __tablename__ = "beneficiary_projection"

    beneficiary_id: str = Field(primary_key=True, foreign_key="beneficiaries.id")
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    version: int
    payer: str | None = None
    sessions_performed: int = 0
    last_session_date: date | None = None
    booked_count: int = 0
    first_booking_date: date | None = None
    last_booking_date: date | None = None
    latest_assessment_date: date | None = None
    latest_assessment_outcome: str | None = None
    diagnosis_code: str | None = None


class ApiKey(SQLModel, table=True):
    """An API key: only the sha256 of the full key is kept, found by its short prefix."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    role: str
    prefix: str = Field(index=True)
    key_hash: str
    label: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class AuditEvent(SQLModel, table=True):
    """Who read or wrote what; the beneficiary id is kept as sent, even one the clinic lacks."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_clinic_id_at", "clinic_id", "at"),
        sa.Index("ix_audit_events_clinic_id_beneficiary_id_at", "clinic_id", "beneficiary_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id")
    role: str | None = None
    action: str
    beneficiary_id: str | None = None
    outcome: str
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class JobRun(SQLModel, table=True):
    """A scheduled job's claim on a day; the unique key lets only one process run it."""

    __tablename__ = "job_runs"
    __table_args__ = (
        sa.UniqueConstraint("job", "run_date", "clinic_id"),
        sa.Index(
            "uq_job_runs_job_run_date_all_clinics",
            "job",
            "run_date",
            unique=True,
            sqlite_where=sa.text("clinic_id IS NULL"),
            postgresql_where=sa.text("clinic_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    job: str
    run_date: date
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id")
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    status: str = "running"


class Alert(SQLModel, table=True):
    """One alert on one day; the unique key keeps it from being raised twice."""

    __tablename__ = "alerts"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "kind", "beneficiary_id", "subject", "date"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    kind: str
    beneficiary_id: str = Field(foreign_key="beneficiaries.id")
    subject: str
    date: date
    severity: str
    message: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class OutboxMessage(SQLModel, table=True):
    """A message to send after commit (e.g. the daily alert e-mail), one per clinic, kind and day."""

    __tablename__ = "outbox"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "kind", "run_date"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    kind: str
    run_date: date
    payload: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    attempts: int = 0
    last_error: str | None = None
