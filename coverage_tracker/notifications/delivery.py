"""Outbox delivery after commit: one claimed attempt at a time per digest, retried with backoff, sent once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage

from sqlalchemy.engine import Engine

from coverage_tracker.store import alerts_store as store
from coverage_tracker.store.db import read_transaction, write_transaction
from coverage_tracker.store.tables import utcnow

from .digest import build_email
from .smtp import DeliveryError

log = logging.getLogger("coverage_tracker.alerts")

Send = Callable[[EmailMessage], None]

BACKOFF_SECONDS: tuple[float, ...] = (2.0, 10.0)
LEASE = timedelta(minutes=10)

SENT, ALREADY_SENT, BUSY, FAILED, NOTHING = "sent", "already_sent", "busy", "failed", "nothing_to_send"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one clinic's digest of a day in this call."""

    clinic_id: int
    outcome: str
    error: str | None = None

    @property
    def unsent(self) -> bool:
        return self.outcome in (FAILED, BUSY)


def deliver_digest(
    engine: Engine,
    clinic_id: int,
    day: date,
    send: Send,
    sender: str,
    *,
    backoff: Sequence[float] = BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send the clinic's digest of `day` unless it was sent; each attempt is claimed, so one process sends it."""
    error: str | None = None
    for delay in (0.0, *backoff):
        if delay:
            sleep(delay)
        with write_transaction(engine) as session:
            row = store.digest(session, clinic_id, day)
            if row is None:
                return Delivery(clinic_id, NOTHING)
            if row.sent_at is not None:
                return Delivery(clinic_id, ALREADY_SENT)
            if not store.claim_delivery(session, clinic_id, day, utcnow(), LEASE):
                return Delivery(clinic_id, BUSY, "another process is sending it")
        retry = True
        try:
            send(build_email(row.payload, sender))
            error = None
        except DeliveryError as exc:
            error, retry = str(exc), exc.retry_now
        with write_transaction(engine) as session:
            store.record_delivery(session, row.id, clinic_id, day, utcnow(), error)
        if error is None:
            log.info("alert digest of %s for clinic %s sent (attempt %d)", day, clinic_id, row.attempts + 1)
            return Delivery(clinic_id, SENT)
        log.warning("alert digest of %s for clinic %s not sent (attempt %d): %s", day, clinic_id, row.attempts + 1, error)
        if not retry:
            break
    return Delivery(clinic_id, FAILED, error)


def deliver_unsent(
    engine: Engine,
    day: date,
    send: Send,
    sender: str,
    clinic_ids: Sequence[int] | None = None,
    *,
    backoff: Sequence[float] = BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Deliver every digest of `day` still unsent (only these clinics' when given)."""
    with read_transaction(engine) as session:
        pending = [row.clinic_id for row in store.unsent_digests(session, day, clinic_ids)]
    return [deliver_digest(engine, clinic_id, day, send, sender, backoff=backoff, sleep=sleep) for clinic_id in pending]
