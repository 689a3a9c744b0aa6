"""The daily alerts: scan each clinic page by page, store the day's alerts and digest once, deliver after commit."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from coverage_tracker.config import Settings, get_settings
from coverage_tracker.domain.alerts import KINDS, SEVERITIES, alerts_for, patient_label
from coverage_tracker.domain.history import fold
from coverage_tracker.domain.mbi import mask_mbis_in_text
from coverage_tracker.domain.payers import PolicyBook
from coverage_tracker.notifications import delivery
from coverage_tracker.notifications.digest import message_id, render_digest
from coverage_tracker.notifications.smtp import send_email
from coverage_tracker.store import alerts_store as store
from coverage_tracker.store.db import create_db_engine, read_transaction, write_transaction
from coverage_tracker.store.tables import utcnow

from . import validation
from .context import Ctx, load_policies
from .errors import InvalidInput

log = logging.getLogger("coverage_tracker.alerts")

PAGE_SIZE = 200
# Starting a worker process costs about a second (imports): a smaller clinic is scanned in-process.
WORKERS_FROM = 3000
RANGES_PER_WORKER = 4
# No benefit period (eleven full months, calendar, plan or rolling year) is longer: a patient with no booking
# and no session in this span before the scan date holds no period the alerts count.
BENEFIT_YEAR = timedelta(days=366)
FLEET_LEASE = timedelta(hours=1)
MAX_RECIPIENTS = 50
EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]\\\x00-\x1f\x7f]+@[^@\s<>(),;:\"\[\]\\\x00-\x1f\x7f]+")

CLAIMED, BUSY, DONE = "claimed", "busy", "done"


def _sort_key(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (SEVERITIES.index(alert["severity"]), alert["patient"], alert["subject"], KINDS.index(alert["kind"]), alert["beneficiary_id"])


def scan_clinic(
    engine: Engine,
    policies: PolicyBook,
    clinic_id: int,
    day: date,
    lookahead_days: int,
    page_size: int = PAGE_SIZE,
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """The clinic's alerts on `day` in the API's shape, a page of beneficiaries at a time; a large clinic in `workers` processes."""
    workers = get_settings().scan_workers if workers is None else workers
    ranges = _id_ranges(engine, clinic_id, day, workers) if workers > 1 else [(None, None)]
    if len(ranges) == 1:
        found = _scan_range(engine, policies, clinic_id, day, lookahead_days, page_size, None, None)
    else:
        found = _scan_in_workers(engine, policies, clinic_id, day, lookahead_days, page_size, workers, ranges)
    return sorted(found, key=_sort_key)


def _id_ranges(engine: Engine, clinic_id: int, day: date, workers: int) -> list[tuple[str | None, str | None]]:
    """(after, upto) ranges of beneficiary ids splitting the scan, RANGES_PER_WORKER per worker; one when the clinic is small."""
    with read_transaction(engine) as session:
        ids = store.scanned_ids(session, clinic_id, day - BENEFIT_YEAR)
    if len(ids) < WORKERS_FROM:
        return [(None, None)]
    size = -(-len(ids) // (workers * RANGES_PER_WORKER))
    bounds: list[str | None] = [None, *ids[size - 1 : -1 : size], None]
    return list(zip(bounds[:-1], bounds[1:]))


def _scan_range(
    engine: Engine, policies: PolicyBook, clinic_id: int, day: date, lookahead_days: int, page_size: int, after: str | None, upto: str | None
) -> list[dict[str, Any]]:
    """The alerts of the beneficiaries with an id after `after` and up to `upto` (None: no bound), unsorted."""
    found: list[dict[str, Any]] = []
    while True:
        with read_transaction(engine) as session:
            page = store.beneficiary_page(session, clinic_id, after, page_size, day - BENEFIT_YEAR, upto)
            if not page:
                break
            ids = [person.id for person in page]
            streams = store.load_streams(session, clinic_id, ids)
            seen = store.seen_before(session, clinic_id, ids, day)
        for person in page:
            for alert in alerts_for(person.id, fold(streams.pop(person.id)), policies, day, lookahead_days):
                found.append({
                    "kind": alert.kind,
                    "severity": alert.severity,
                    "beneficiary_id": alert.beneficiary_id,
                    "patient": alert.patient,
                    "subject": alert.subject,
                    "message": alert.message,
                    "new": (alert.kind, alert.beneficiary_id, alert.subject) not in seen,
                })
        after = page[-1].id
    return found


def _scan_in_workers(
    engine: Engine,
    policies: PolicyBook,
    clinic_id: int,
    day: date,
    lookahead_days: int,
    page_size: int,
    workers: int,
    ranges: list[tuple[str | None, str | None]],
) -> list[dict[str, Any]]:
    """The alerts of every range, scanned in worker processes and gathered in range order."""
    url = engine.url.render_as_string(hide_password=False)
    tasks = [(clinic_id, day, lookahead_days, page_size, after, upto) for after, upto in ranges]
    # spawned, not forked: `serve` runs the scan in a process that has threads
    context = multiprocessing.get_context("spawn")
    found: list[dict[str, Any]] = []
    # a worker that dies (killed, out of memory) fails the scan with BrokenProcessPool instead of hanging it
    with ProcessPoolExecutor(min(workers, len(ranges)), mp_context=context, initializer=_start_worker, initargs=(url, policies)) as pool:
        for alerts in pool.map(_scan_in_worker, tasks):
            found += alerts
    return found


_worker: tuple[Engine, PolicyBook] | None = None


def _start_worker(url: str, policies: PolicyBook) -> None:
    global _worker
    _worker = create_db_engine(url), policies
    # This process only scans: the objects of its imports are left out of every collection, and the young
    # generation is collected less often (the collector took about a third of a worker's time).
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def _scan_in_worker(task: tuple[int, date, int, int, str | None, str | None]) -> list[dict[str, Any]]:
    assert _worker is not None
    engine, policies = _worker
    try:
        return _scan_range(engine, policies, *task)
    finally:
        engine.dispose()  # the pool ends its processes without closing their connections


def _stored(session: Any, clinic_id: int, day: date) -> list[dict[str, Any]]:
    rows = store.stored_alerts(session, clinic_id, day)
    return sorted(
        (
            {
                "kind": r.kind,
                "severity": r.severity,
                "beneficiary_id": r.beneficiary_id,
                "patient": patient_label(r.first_name, r.last_name, r.mbi),
                "subject": r.subject,
                "message": r.message,
                "new": not r.seen,
            }
            for r in rows
        ),
        key=_sort_key,
    )


def digest_payload(clinic_id: int, clinic: str, day: date, alerts: Sequence[dict[str, Any]], recipients: Sequence[str], sender: str) -> dict[str, Any]:
    """What the outbox keeps for the clinic's digest: recipients, Message-ID, subject, text and HTML."""
    return {"to": list(recipients), "message_id": message_id(clinic_id, day, sender), **render_digest(clinic, day, alerts)}


@dataclass
class ClinicDay:
    """One clinic's alerts on a day, and what became of its digest in this run."""

    clinic_id: int
    clinic: str
    day: date
    recipients: list[str]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    scanned_now: bool = False
    digest: str = "none"
    error: str | None = None
    scan_error: str | None = None
    payload: dict[str, Any] | None = None

    @property
    def new(self) -> int:
        return sum(1 for a in self.alerts if a["new"])

    @property
    def scan_failed(self) -> bool:
        return self.scan_error is not None


def _scan_and_store(engine: Engine, settings: Settings, policies: PolicyBook, outcome: ClinicDay) -> None:
    """Scan the clinic unless its day is stored; store alerts, the day's claim and the digest in one transaction."""
    with read_transaction(engine) as session:
        if store.clinic_run(session, outcome.clinic_id, outcome.day) is not None:
            return
    alerts = scan_clinic(engine, policies, outcome.clinic_id, outcome.day, settings.alert_lookahead_days, PAGE_SIZE, settings.scan_workers)
    payload = None
    if outcome.recipients:
        payload = digest_payload(outcome.clinic_id, outcome.clinic, outcome.day, alerts, outcome.recipients, settings.smtp_from)
    now = utcnow()
    try:
        with write_transaction(engine) as session:
            store.add_clinic_run(session, outcome.clinic_id, outcome.day, store.SCANNED if payload else store.NO_DIGEST, now)
            store.insert_alerts(session, outcome.clinic_id, outcome.day, alerts, now)
            if payload is not None:
                store.add_digest(session, outcome.clinic_id, outcome.day, payload, now)
    except IntegrityError:
        return  # another process stored this clinic's day first
    outcome.alerts, outcome.scanned_now = alerts, True
    log.info("alerts of %s for clinic %s: %d (%d new)", outcome.day, outcome.clinic_id, len(alerts), outcome.new)


def claim_day(engine: Engine, day: date) -> str:
    """Claim the day's job for this process: `claimed`, `busy` (another live process has it) or `done`."""
    now = utcnow()
    try:
        with write_transaction(engine) as session:
            store.add_fleet_run(session, day, now)
        return CLAIMED
    except IntegrityError:
        pass
    with write_transaction(engine) as session:
        row = store.fleet_run(session, day)
        if row is None or row.status == store.DONE:
            return DONE
        return CLAIMED if store.take_over_fleet_run(session, day, now, FLEET_LEASE) else BUSY


def _clinic_days(engine: Engine, day: date, clinic: str | None) -> list[ClinicDay]:
    with read_transaction(engine) as session:
        rows = store.clinics(session, clinic)
    return [ClinicDay(row.id, row.name, day, list(row.alert_recipients or [])) for row in rows]


def run_daily(
    engine: Engine,
    settings: Settings,
    day: date,
    *,
    clinic: str | None = None,
    claim_fleet: bool = False,
    send: delivery.Send | None = None,
    backoff: Sequence[float] = delivery.BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ClinicDay]:
    """Scan every clinic (or one) for `day`, store each clinic's day once, then deliver the unsent digests.

    With `claim_fleet` (the scheduler), only the process holding the day's claim scans; any process delivers
    what is left unsent, each attempt claimed so that a digest goes out once.
    """
    days = _clinic_days(engine, day, clinic)
    policies = load_policies(settings)
    claim = claim_day(engine, day) if claim_fleet else CLAIMED
    if claim == CLAIMED:
        for outcome in days:
            try:
                _scan_and_store(engine, settings, policies, outcome)
            except Exception as exc:  # one clinic's failure must not keep the others' digests from going out
                outcome.scan_error = f"{type(exc).__name__}: {mask_mbis_in_text(str(exc))[:300]}"
                log.error("alerts of %s for clinic %s: scan failed: %s", day, outcome.clinic_id, outcome.scan_error)
        if claim_fleet:
            with write_transaction(engine) as session:
                store.finish_fleet_run(session, day, utcnow(), store.FAILED if any(d.scan_failed for d in days) else store.DONE)
    send = send or (lambda message: send_email(settings, message))
    ids = [d.clinic_id for d in days]
    results = {
        d.clinic_id: d
        for d in delivery.deliver_unsent(engine, day, send, settings.smtp_from, ids, backoff=backoff, sleep=sleep)
    }
    with read_transaction(engine) as session:
        for outcome in days:
            row = store.digest(session, outcome.clinic_id, day)
            attempt = results.get(outcome.clinic_id)
            if outcome.scan_failed:
                outcome.digest = "not stored (the scan failed; it is retried)"
            elif row is None:
                outcome.digest = "none (no recipients)"
            elif row.sent_at is not None:
                outcome.digest = "sent" if attempt is not None and attempt.outcome == delivery.SENT else "sent earlier"
            else:
                outcome.digest, outcome.error = "unsent", row.last_error or (attempt.error if attempt else None)
            if not outcome.scanned_now and not outcome.scan_failed:
                outcome.alerts = _stored(session, outcome.clinic_id, day)
    return days


def unsent(engine: Engine, day: date, clinic_ids: Sequence[int]) -> int:
    """How many digests of `day` for these clinics are still unsent."""
    with read_transaction(engine) as session:
        return len(store.unsent_digests(session, day, clinic_ids))


def preview(engine: Engine, settings: Settings, day: date, clinic: str | None = None) -> list[ClinicDay]:
    """The digests `run_daily` would store for `day`, computed afresh and written nowhere."""
    policies = load_policies(settings)
    days = _clinic_days(engine, day, clinic)
    for outcome in days:
        outcome.alerts = scan_clinic(engine, policies, outcome.clinic_id, day, settings.alert_lookahead_days, PAGE_SIZE, settings.scan_workers)
        outcome.payload = digest_payload(outcome.clinic_id, outcome.clinic, day, outcome.alerts, outcome.recipients, settings.smtp_from)
    return days


def list_alerts(ctx: Ctx, day: date, lookahead_days: int) -> dict[str, Any]:
    """The clinic's alerts on `day`: as stored by the day's scan, else computed now from the log (not stored)."""
    validation.service_date("date", day, ctx.today)
    with read_transaction(ctx.db) as session:
        stored = store.clinic_run(session, ctx.clinic_id, day) is not None
        alerts = _stored(session, ctx.clinic_id, day) if stored else None
    if alerts is None:  # scanned in the request's thread: worker processes per request would multiply with the requests
        alerts = scan_clinic(ctx.db, ctx.policies, ctx.clinic_id, day, lookahead_days, PAGE_SIZE, 1)
    return {"date": day.isoformat(), "alerts": alerts, "stored": stored}


def normalise_recipients(emails: Sequence[str]) -> list[str]:
    """E-mail addresses trimmed, their domain in lower case, duplicates dropped; InvalidInput naming a bad one."""
    if len(emails) > MAX_RECIPIENTS:
        raise InvalidInput("recipients", f"at most {MAX_RECIPIENTS} addresses, got {len(emails)}")
    out: list[str] = []
    for i, raw in enumerate(emails):
        address = raw.strip() if isinstance(raw, str) else ""
        if len(address) > 254 or not address.isascii() or not EMAIL.fullmatch(address):
            raise InvalidInput(f"recipients[{i}]", "must be an e-mail address like desk@clinic.example")
        local, _, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
        if address.lower() not in {a.lower() for a in out}:
            out.append(address)
    return out


def set_recipients(engine: Engine, clinic_id: int, emails: Sequence[str]) -> list[str]:
    """Replace who receives the clinic's daily digest (an empty list: no digest is sent)."""
    recipients = normalise_recipients(emails)
    with write_transaction(engine) as session:
        store.set_recipients(session, clinic_id, recipients)
    return recipients
