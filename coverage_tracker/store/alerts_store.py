"""SQL of the daily alerts: beneficiary pages, stored alerts, the digest outbox and the job-run claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from coverage_tracker.domain.events import Event, event_from_payload
from coverage_tracker.store.tables import Alert, Beneficiary, BeneficiaryProjection, Clinic, EventRecord, JobRun, OutboxMessage

ALERTS = Alert.__table__
BENEFICIARIES = Beneficiary.__table__
CLINICS = Clinic.__table__
EVENTS = EventRecord.__table__
JOB_RUNS = JobRun.__table__
OUTBOX = OutboxMessage.__table__
PROJECTION = BeneficiaryProjection.__table__

DAILY_ALERTS = "daily_alerts"
DIGEST = "alert_digest"

# job_runs.status of the fleet's claim on a day (clinic_id NULL) and of one clinic's day
RUNNING, DONE = "running", "done"
NO_DIGEST, SCANNED, SENDING, FAILED, SENT = "no_digest", "scanned", "sending", "failed", "sent"


@dataclass(frozen=True, slots=True)
class Person:
    """Who a stream belongs to, as the digest may show them (the MBI is masked before display)."""

    id: str
    first_name: str
    last_name: str
    mbi: str


def _scanned(clinic_id: int, sessions_since: date) -> list[sa.ColumnElement[bool]]:
    return [
        PROJECTION.c.clinic_id == clinic_id,
        BENEFICIARIES.c.clinic_id == clinic_id,
        sa.or_(PROJECTION.c.booked_count > 0, PROJECTION.c.last_session_date >= sessions_since),
    ]


def beneficiary_page(
    session: Session, clinic_id: int, after: str | None, limit: int, sessions_since: date, upto: str | None = None
) -> list[Person]:
    """The next `limit` beneficiaries by id after `after` (keyset pagination, up to `upto` included) with a booking or a session since `sessions_since`."""
    query = (
        sa.select(BENEFICIARIES.c.id, BENEFICIARIES.c.first_name, BENEFICIARIES.c.last_name, BENEFICIARIES.c.mbi)
        .join(PROJECTION, PROJECTION.c.beneficiary_id == BENEFICIARIES.c.id)
        .where(*_scanned(clinic_id, sessions_since))
        .order_by(PROJECTION.c.beneficiary_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(PROJECTION.c.beneficiary_id > after)
    if upto is not None:
        query = query.where(PROJECTION.c.beneficiary_id <= upto)
    return [Person(*row) for row in session.execute(query)]


def scanned_ids(session: Session, clinic_id: int, sessions_since: date) -> list[str]:
    """The ids of every beneficiary `beneficiary_page` would page through, in its order."""
    query = (
        sa.select(PROJECTION.c.beneficiary_id)
        .join(BENEFICIARIES, PROJECTION.c.beneficiary_id == BENEFICIARIES.c.id)
        .where(*_scanned(clinic_id, sessions_since))
        .order_by(PROJECTION.c.beneficiary_id)
    )
    return list(session.scalars(query))


def load_streams(session: Session, clinic_id: int, beneficiary_ids: Sequence[str]) -> dict[str, list[Event]]:
    """The streams of these beneficiaries (one page), each in version order."""
    # the payload as its JSON text: the event decoder parses it straight into the event
    query = (
        sa.select(EVENTS.c.beneficiary_id, EVENTS.c.type, EVENTS.c.schema_version, sa.cast(EVENTS.c.payload, sa.Text))
        .where(EVENTS.c.clinic_id == clinic_id, EVENTS.c.beneficiary_id.in_(beneficiary_ids))
        .order_by(EVENTS.c.beneficiary_id, EVENTS.c.version)
    )
    streams: dict[str, list[Event]] = {bid: [] for bid in beneficiary_ids}
    for bid, type_, schema_version, payload in session.execute(query).all():
        streams[bid].append(event_from_payload(type_, payload, schema_version))
    return streams


def seen_before(session: Session, clinic_id: int, beneficiary_ids: Sequence[str], day: date) -> set[tuple[str, str, str]]:
    """(kind, beneficiary id, subject) of the alerts stored for these beneficiaries on a date before `day`."""
    query = (
        sa.select(ALERTS.c.kind, ALERTS.c.beneficiary_id, ALERTS.c.subject)
        .where(ALERTS.c.clinic_id == clinic_id, ALERTS.c.beneficiary_id.in_(beneficiary_ids), ALERTS.c.date < day)
        .distinct()
    )
    return {(kind, bid, subject) for kind, bid, subject in session.execute(query)}


def insert_alerts(session: Session, clinic_id: int, day: date, alerts: Iterable[Mapping[str, Any]], created_at: datetime) -> None:
    """Store the day's alerts (mappings with kind, beneficiary_id, subject, severity, message)."""
    rows = [
        {
            "clinic_id": clinic_id, "kind": a["kind"], "beneficiary_id": a["beneficiary_id"], "subject": a["subject"],
            "date": day, "severity": a["severity"], "message": a["message"], "created_at": created_at,
        }
        for a in alerts
    ]
    if rows:
        session.execute(sa.insert(ALERTS), rows)


def stored_alerts(session: Session, clinic_id: int, day: date) -> list[sa.Row[Any]]:
    """The alerts stored for the clinic on `day`, with the patient's names and MBI and whether seen before."""
    earlier = ALERTS.alias("earlier")
    seen = (
        sa.exists()
        .where(
            earlier.c.clinic_id == ALERTS.c.clinic_id, earlier.c.kind == ALERTS.c.kind,
            earlier.c.beneficiary_id == ALERTS.c.beneficiary_id, earlier.c.subject == ALERTS.c.subject,
            earlier.c.date < ALERTS.c.date,
        )
    )
    query = (
        sa.select(
            ALERTS.c.kind, ALERTS.c.severity, ALERTS.c.beneficiary_id, ALERTS.c.subject, ALERTS.c.message,
            BENEFICIARIES.c.first_name, BENEFICIARIES.c.last_name, BENEFICIARIES.c.mbi, seen.label("seen"),
        )
        .join(BENEFICIARIES, BENEFICIARIES.c.id == ALERTS.c.beneficiary_id)
        .where(ALERTS.c.clinic_id == clinic_id, ALERTS.c.date == day)
    )
    return list(session.execute(query))


def clinic_run(session: Session, clinic_id: int, day: date) -> sa.Row[Any] | None:
    """The clinic's job-run row for the day's alerts, if its scan was stored."""
    query = sa.select(JOB_RUNS).where(JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id == clinic_id)
    return session.execute(query).first()


def add_clinic_run(session: Session, clinic_id: int, day: date, status: str, now: datetime) -> None:
    """Claim the clinic's day; an IntegrityError means another process stored it first."""
    session.execute(sa.insert(JOB_RUNS).values(job=DAILY_ALERTS, run_date=day, clinic_id=clinic_id, claimed_at=now, status=status))
    session.flush()


def fleet_run(session: Session, day: date) -> sa.Row[Any] | None:
    """The fleet's claim on the day's alerts job (the row without a clinic), if any."""
    query = sa.select(JOB_RUNS).where(JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id.is_(None))
    return session.execute(query).first()


def add_fleet_run(session: Session, day: date, now: datetime) -> None:
    """Claim the day for this process; an IntegrityError means another process claimed it first."""
    session.execute(sa.insert(JOB_RUNS).values(job=DAILY_ALERTS, run_date=day, clinic_id=None, claimed_at=now, status=RUNNING))
    session.flush()


def take_over_fleet_run(session: Session, day: date, now: datetime, lease: timedelta) -> bool:
    """Take over a failed run, or a claim older than `lease` (its claimer died): true for one process only."""
    statement = (
        sa.update(JOB_RUNS)
        .where(
            JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id.is_(None),
            sa.or_(JOB_RUNS.c.status == FAILED, sa.and_(JOB_RUNS.c.status == RUNNING, JOB_RUNS.c.claimed_at < now - lease)),
        )
        .values(status=RUNNING, claimed_at=now)
    )
    return session.execute(statement).rowcount == 1


def finish_fleet_run(session: Session, day: date, now: datetime, status: str) -> None:
    """Release the day's claim: `done`, or `failed` so that the next run (of any process) tries again."""
    statement = (
        sa.update(JOB_RUNS)
        .where(JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id.is_(None))
        .values(status=status, finished_at=now)
    )
    session.execute(statement)


def add_digest(session: Session, clinic_id: int, day: date, payload: dict[str, Any], now: datetime) -> None:
    """Put the clinic's digest for the day in the outbox (unique per clinic, kind and day)."""
    session.execute(sa.insert(OUTBOX).values(clinic_id=clinic_id, kind=DIGEST, run_date=day, payload=payload, created_at=now, attempts=0))


def unsent_digests(session: Session, day: date, clinic_ids: Sequence[int] | None = None) -> list[sa.Row[Any]]:
    """The day's digests not yet sent (id, clinic_id, attempts)."""
    query = sa.select(OUTBOX.c.id, OUTBOX.c.clinic_id, OUTBOX.c.attempts).where(
        OUTBOX.c.kind == DIGEST, OUTBOX.c.run_date == day, OUTBOX.c.sent_at.is_(None)
    )
    if clinic_ids is not None:
        query = query.where(OUTBOX.c.clinic_id.in_(clinic_ids))
    return list(session.execute(query.order_by(OUTBOX.c.clinic_id)))


def digest(session: Session, clinic_id: int, day: date) -> sa.Row[Any] | None:
    """The clinic's digest for the day (id, payload, attempts, sent_at, last_error)."""
    query = sa.select(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.attempts, OUTBOX.c.sent_at, OUTBOX.c.last_error).where(
        OUTBOX.c.clinic_id == clinic_id, OUTBOX.c.kind == DIGEST, OUTBOX.c.run_date == day
    )
    return session.execute(query).first()


def claim_delivery(session: Session, clinic_id: int, day: date, now: datetime, lease: timedelta) -> bool:
    """Take the right to send the clinic's digest now: true for exactly one process at a time.

    A claim left `sending` for longer than `lease` belongs to a process that died and may be taken over.
    """
    statement = (
        sa.update(JOB_RUNS)
        .where(
            JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id == clinic_id,
            sa.or_(
                JOB_RUNS.c.status.in_((SCANNED, FAILED)),
                sa.and_(JOB_RUNS.c.status == SENDING, JOB_RUNS.c.claimed_at < now - lease),
            ),
        )
        .values(status=SENDING, claimed_at=now)
    )
    return session.execute(statement).rowcount == 1


def record_delivery(session: Session, outbox_id: int, clinic_id: int, day: date, now: datetime, error: str | None) -> None:
    """Record one attempt: sent (error None) or failed with its error; the claim is released."""
    values: dict[str, Any] = {"attempts": OUTBOX.c.attempts + 1, "last_error": error}
    if error is None:
        values["sent_at"] = now
    session.execute(sa.update(OUTBOX).where(OUTBOX.c.id == outbox_id, OUTBOX.c.sent_at.is_(None)).values(**values))
    session.execute(
        sa.update(JOB_RUNS)
        .where(JOB_RUNS.c.job == DAILY_ALERTS, JOB_RUNS.c.run_date == day, JOB_RUNS.c.clinic_id == clinic_id)
        .values(status=FAILED if error else SENT, finished_at=now)
    )


def clinics(session: Session, name: str | None = None) -> list[sa.Row[Any]]:
    """Every clinic (id, name, alert_recipients), or the one named `name`."""
    query = sa.select(CLINICS.c.id, CLINICS.c.name, CLINICS.c.alert_recipients).order_by(CLINICS.c.id)
    if name is not None:
        query = query.where(CLINICS.c.name == name)
    return list(session.execute(query))


def set_recipients(session: Session, clinic_id: int, recipients: list[str]) -> bool:
    """Replace the clinic's alert recipients; false when there is no such clinic."""
    result = session.execute(sa.update(CLINICS).where(CLINICS.c.id == clinic_id).values(alert_recipients=recipients))
    return result.rowcount == 1
