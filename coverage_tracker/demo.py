"""A demo clinic: a dozen patients in the states a front desk meets, dated relative to today."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from coverage_tracker.domain.payers import PolicyBook
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx
from coverage_tracker.store import api_keys
from coverage_tracker.store.clinics import find_clinic, get_or_create_clinic, list_clinics
from coverage_tracker.store.beneficiaries import search_beneficiaries
from coverage_tracker.store.db import read_transaction, write_transaction

CLINIC = "Demo Clinic"
KEY_LABEL = "demo"
KEY_ROLES = ("front_desk", "admin")


@dataclass(frozen=True)
class Patient:
    """One demo patient's story; every offset is in days from today (negative: the past)."""

    first_name: str
    last_name: str
    state: str
    diagnosis: dict | None = field(default_factory=lambda: {"onset": -400, "recorded": -380})
    sessions: tuple[int, ...] = ()
    assessments: tuple[tuple[int, str], ...] = ()
    bookings: tuple[int, ...] = ()
    abn: int | None = None


def _every(days: int, start: int, count: int) -> tuple[int, ...]:
    return tuple(start + days * i for i in range(count))


PATIENTS = (
    Patient("Ana", "Alvarez", "new: nothing used yet", bookings=(3,)),
    Patient("Ben", "Brooks", "mid-course: 6 of 12 used", sessions=_every(7, -42, 6), bookings=(7,)),
    Patient("Carla", "Chen", "at 12 without an assessment", sessions=_every(6, -72, 12), bookings=(4,)),
    Patient(
        "Dev", "Desai", "extended: improving, 3 of 8 extension sessions used",
        sessions=_every(6, -100, 12) + (-28, -21, -14), assessments=((-30, "improving"),),
    ),
    Patient(
        "Eve", "Evans", "at the cap: 20 of 20 used",
        sessions=_every(7, -250, 12) + _every(7, -168, 8), assessments=((-170, "improving"),),
    ),
    Patient("Frank", "Foster", "not improving", sessions=_every(6, -90, 12), assessments=((-20, "not_improving"),), bookings=(5,)),
    Patient("Grace", "Gupta", "pain under 12 weeks", diagnosis={"onset": -60, "recorded": -5}, bookings=(6,)),
    Patient("Hiro", "Hayashi", "ineligible: systemic cause", diagnosis={"onset": -400, "recorded": -30, "systemic_cause": True}),
    Patient("Iris", "Ibarra", "no diagnosis on record", diagnosis=None, bookings=(8,)),
    Patient(
        "Jon", "Jensen", "regressing, ABN signed",
        sessions=_every(6, -80, 10), assessments=((-10, "regressing"),), abn=-2,
    ),
    Patient("Kim", "Kowalski", "diagnosis code no longer accepted (M54.5)", diagnosis={"onset": -400, "recorded": -90, "code": "M54.5"}),
    Patient("Lena", "Lopez", "mid-course with a booked series", sessions=_every(7, -21, 3), bookings=(2, 9, 16)),
)


@dataclass(frozen=True)
class DemoKeys:
    """The demo clinic's fresh keys, by role."""

    clinic_id: int
    keys: dict[str, str]


def database_is_empty(engine: Engine) -> bool:
    """True when no clinic exists yet."""
    with read_transaction(engine) as session:
        return not list_clinics(session)


def seed(engine: Engine, policies: PolicyBook, today: date) -> list[tuple[Patient, str]]:
    """Create the demo clinic and its patients; returns each patient with its beneficiary id."""
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, CLINIC)
        clinic_id = clinic.id
    ctx = Ctx(db=engine, policies=policies, actor=Actor(clinic_id=clinic_id, role="admin"), today=today)
    return [(patient, _enrol(ctx, index, patient)) for index, patient in enumerate(PATIENTS)]


def _enrol(ctx: Ctx, index: int, patient: Patient) -> str:
    on: Callable[[int], date] = lambda offset: ctx.today + timedelta(days=offset)
    bid = beneficiaries.enrol(
        ctx,
        mbi=f"{index % 9 + 1}EG4TE5MK{index:02d}",
        first_name=patient.first_name,
        last_name=patient.last_name,
        birth_date=date(1945 + index, index % 12 + 1, 10),
    )["id"]
    if patient.diagnosis is not None:
        dx = patient.diagnosis
        care.record_diagnosis(
            ctx, bid, icd10_code=dx.get("code", "M54.50"), onset_date=on(dx["onset"]), recorded_on=on(dx["recorded"]),
            systemic_cause=dx.get("systemic_cause", False),
        )
    events = [(day, "session") for day in patient.sessions] + [(day, outcome) for day, outcome in patient.assessments]
    for day, what in sorted(events):
        if what == "session":
            care.record_session(ctx, bid, day=on(day), segments=[{"minutes": 20}, {"minutes": 15, "electrical_stimulation": day % 2 == 0}])
        else:
            care.record_assessment(ctx, bid, day=on(day), outcome=what)
    if patient.abn is not None:
        care.record_abn(ctx, bid, signed_on=on(patient.abn))
    for day in patient.bookings:
        care.book_appointment(ctx, bid, day=on(day))
    return bid


def demo_patients(engine: Engine) -> list[tuple[Patient, str]]:
    """The demo clinic's patients with their ids (empty when there is no demo clinic)."""
    by_name = {(p.first_name, p.last_name): p for p in PATIENTS}
    with read_transaction(engine) as session:
        clinic = find_clinic(session, CLINIC)
        rows = search_beneficiaries(session, clinic.id, limit=len(PATIENTS)) if clinic else []
        found = {(row.first_name, row.last_name): row.id for row in rows}
    return [(patient, found[key]) for key, patient in by_name.items() if key in found]


def issue_keys(engine: Engine) -> DemoKeys | None:
    """Revoke the demo clinic's previous demo keys and create fresh ones (only hashes are stored, so keys cannot be shown again)."""
    with write_transaction(engine) as session:
        clinic = find_clinic(session, CLINIC)
        if clinic is None:
            return None
        for key in api_keys.list_api_keys(session, clinic.id):
            if key.label == KEY_LABEL and key.revoked_at is None:
                api_keys.revoke_api_key(session, key.id)
        keys = {role: api_keys.create_api_key(session, clinic.id, role, KEY_LABEL)[1] for role in KEY_ROLES}
        return DemoKeys(clinic.id, keys)
