"""Clinics: the tenants every other row belongs to."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from coverage_tracker.store.tables import Clinic


def get_clinic(session: Session, clinic_id: int) -> Clinic | None:
    """The clinic with this id, or None."""
    return session.get(Clinic, clinic_id)


def find_clinic(session: Session, name: str) -> Clinic | None:
    """The clinic with this exact name, or None."""
    return session.exec(select(Clinic).where(Clinic.name == name)).first()


def get_or_create_clinic(session: Session, name: str) -> tuple[Clinic, bool]:
    """The clinic named `name`, created when new; the flag says whether it was created."""
    clinic = find_clinic(session, name)
    if clinic is not None:
        return clinic, False
    clinic = Clinic(name=name)
    session.add(clinic)
    session.flush()
    return clinic, True


def list_clinics(session: Session) -> list[Clinic]:
    """Every clinic, by id."""
    return list(session.exec(select(Clinic).order_by(sa.asc(Clinic.id))))
