"""Synthetic clinics for benchmarks: realistic event logs written in bulk through the store's tables.

Each beneficiary's stream is built from the domain's own event types and serialised exactly as the
services append them (version 1.., `event_payload`, business date), and its projection row comes
from the same `projection_values` the append path uses, so `projections rebuild` reproduces it.

    python benchmarks/generate.py --url sqlite:///bench.db --clinics 1 --beneficiaries 10000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coverage_tracker.domain.events import (  # noqa: E402
    SCHEMA_VERSION,
    AppointmentBooked,
    AppointmentCancelled,
    AssessmentRecorded,
    BeneficiaryEnrolled,
    ClaimLine,
    DiagnosisRecorded,
    Event,
    PayerChanged,
    Segment,
    SessionPerformed,
    SessionVoided,
    event_payload,
)
from coverage_tracker.store import api_keys  # noqa: E402
from coverage_tracker.store.clinics import get_or_create_clinic  # noqa: E402
from coverage_tracker.store.db import create_db_engine, write_transaction  # noqa: E402
from coverage_tracker.store.migrations import upgrade  # noqa: E402
from coverage_tracker.store.projections import projection_values  # noqa: E402
from coverage_tracker.store.tables import Beneficiary, BeneficiaryProjection, EventRecord  # noqa: E402

MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
FIRST = ["Rita", "John", "Maria", "Wei", "Aisha", "Tom", "Olga", "Luis", "Grace", "Ken", "Nina", "Paul"]
LAST = ["Parkes", "Nguyen", "Garcia", "Smith", "Okafor", "Kowalski", "Chen", "Brown", "Silva", "Haddad", "Moore"]
ONE_SESSION = (ClaimLine("97810", 1), ClaimLine("97811", 1))
SEGMENTS = (Segment(15, False), Segment(15, False))


def fake_mbi(rng: random.Random, n: int) -> str:
    """A valid, unique-per-n MBI (positions 1, 4, 7, 10, 11 digits; 2, 5, 8, 9 letters; 3, 6 either)."""
    letters = MBI_LETTERS
    digits = f"{n:010d}"
    return (
        f"{1 + n % 9}{letters[n % 20]}{letters[(n // 20) % 20]}{digits[-1]}{letters[(n // 400) % 20]}"
        f"{digits[-2]}{digits[-3]}{letters[(n // 8000) % 20]}{letters[(n // 160000) % 20]}{digits[-4]}{digits[-5]}"
    )


def history(rng: random.Random, n: int, today: date, heavy: bool) -> list[Event]:
    """One beneficiary's events in log order: a course (or years of them for the heavy tail)."""
    mbi = fake_mbi(rng, n)
    events: list[Event] = [
        BeneficiaryEnrolled(mbi, rng.choice(FIRST), rng.choice(LAST), date(1940, 1, 1) + timedelta(days=rng.randrange(12000)),
                            "medicare", today - timedelta(days=rng.randrange(30, 900)))
    ]
    span_days = 1100 if heavy else rng.choice((90, 120, 200, 300))
    start = today - timedelta(days=rng.randrange(span_days // 2, span_days + 30))
    code = "M54.50" if rng.random() > 0.05 else "M54.9"
    events.append(DiagnosisRecorded(uuid.uuid4().hex, code, start - timedelta(days=rng.randrange(60, 400)), start - timedelta(days=1),
                                    systemic_cause=rng.random() < 0.02))
    every = rng.choice((3, 4, 7)) if not heavy else 3
    day = start
    k = 0
    limit = 340 if heavy else rng.randrange(10, 24)
    while day < today + timedelta(days=28) and k < limit:
        k += 1
        if day >= today:
            events.append(AppointmentBooked(uuid.uuid4().hex, day))
        else:
            roll = rng.random()
            if roll < 0.08:
                appt = uuid.uuid4().hex
                events.append(AppointmentBooked(appt, day))
                events.append(AppointmentCancelled(appt, day, "no_show" if roll < 0.03 else "cancelled"))
            else:
                sid = uuid.uuid4().hex
                events.append(SessionPerformed(sid, day, ONE_SESSION, 30, SEGMENTS))
                if rng.random() < 0.01:
                    events.append(SessionVoided(sid, day))
        if k % 10 == 0:
            events.append(AssessmentRecorded(uuid.uuid4().hex, min(day, today), rng.choice(("improving",) * 8 + ("not_improving", "regressing"))))
        if heavy and k % 150 == 0:
            events.append(PayerChanged("medicare", day))
        day += timedelta(days=every)
    return events


def rows_for(clinic_id: int, bid: str, events: list[Event], recorded_at: datetime, key_id: int) -> list[dict[str, Any]]:
    """The event rows exactly as `event_store.append` writes them."""
    return [
        {
            "clinic_id": clinic_id, "beneficiary_id": bid, "version": v, "type": e.type_name,
            "schema_version": SCHEMA_VERSION, "payload": event_payload(e), "business_date": e.business_date,
            "recorded_at": recorded_at, "recorded_by": key_id, "idempotency_key": None, "request_hash": None, "response": None,
        }
        for v, e in enumerate(events, start=1)
    ]


def generate(url: str, clinics: int, beneficiaries: int, today: date, seed: int = 7, batch: int = 2000) -> dict[str, Any]:
    """Write `beneficiaries` per clinic into `url` (migrated first); returns counts and timings."""
    upgrade(url, configure_logging=False)
    engine = create_db_engine(url)
    rng = random.Random(seed)
    recorded_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    total_events = 0
    keys: dict[str, str] = {}
    for c in range(clinics):
        with write_transaction(engine) as session:
            clinic, _ = get_or_create_clinic(session, f"Bench Clinic {c + 1}")
            clinic_id = clinic.id
            key_row, keys[f"clinic_{c + 1}"] = api_keys.create_api_key(session, clinic_id, "admin", label="benchmark")
            key_id = key_row.id
        for chunk in _chunks(range(beneficiaries), batch):
            people, events_rows, projections = [], [], []
            for i in chunk:
                n = c * beneficiaries + i
                events = history(rng, n, today, heavy=(i % 500 == 499))
                bid = str(uuid.UUID(int=rng.getrandbits(128)))
                enrolled: BeneficiaryEnrolled = events[0]  # type: ignore[assignment]
                people.append({
                    "id": bid, "clinic_id": clinic_id, "mbi": enrolled.mbi, "first_name": enrolled.first_name,
                    "last_name": enrolled.last_name, "last_name_lower": enrolled.last_name.lower(),
                    "birth_date": enrolled.birth_date, "payer": enrolled.payer, "created_at": recorded_at,
                })
                events_rows.extend(rows_for(clinic_id, bid, events, recorded_at, key_id))
                projections.append(projection_values(clinic_id, bid, events, len(events)))
            with engine.begin() as conn:
                conn.execute(sa.insert(Beneficiary.__table__), people)
                conn.execute(sa.insert(EventRecord.__table__), events_rows)
                conn.execute(sa.insert(BeneficiaryProjection.__table__), projections)
            total_events += len(events_rows)
    engine.dispose()
    seconds = time.perf_counter() - started
    return {"beneficiaries": clinics * beneficiaries, "events": total_events, "seconds": round(seconds, 1), "keys": keys}


def _chunks(items: range, size: int) -> Iterator[range]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--clinics", type=int, default=1)
    parser.add_argument("--beneficiaries", type=int, default=10_000, help="per clinic")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    args = parser.parse_args()
    result = generate(args.url, args.clinics, args.beneficiaries, args.today)
    print(f"{result['beneficiaries']} beneficiaries, {result['events']} events in {result['seconds']} s "
          f"({result['events'] / max(result['seconds'], 0.001):.0f} events/s)")
    for name, key in result["keys"].items():
        print(f"{name} admin key: {key}")


if __name__ == "__main__":
    main()
