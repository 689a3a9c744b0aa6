"""Beneficiary rows: the enrolment facts kept for lookup and search, keyed by clinic."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coverage_tracker.store.tables import Beneficiary, EventRecord


class DuplicateMbi(Exception):
    """The MBI is already enrolled in this clinic."""


def add_beneficiary(
    session: Session,
    clinic_id: int,
    *,
    beneficiary_id: str,
    mbi: str,
    first_name: str,
    last_name: str,
    birth_date: date,
    payer: str,
) -> Beneficiary:
    """Insert the beneficiary row (the MBI already normalised); DuplicateMbi when the clinic has it.

    On DuplicateMbi the transaction is unusable (PostgreSQL aborts it): roll back.
    """
    row = Beneficiary(
        id=beneficiary_id,
        clinic_id=clinic_id,
        mbi=mbi,
        first_name=first_name,
        last_name=last_name,
        last_name_lower=last_name.lower(),
        birth_date=birth_date,
        payer=payer,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise DuplicateMbi("this MBI is already enrolled in the clinic") from exc
    return row


def get_beneficiary(session: Session, clinic_id: int, beneficiary_id: str) -> Beneficiary | None:
    """The clinic's beneficiary with this id; None for an id the clinic does not have."""
    return session.exec(
        select(Beneficiary).where(Beneficiary.clinic_id == clinic_id, Beneficiary.id == beneficiary_id)
    ).first()


def search_beneficiaries(
    session: Session,
    clinic_id: int,
    *,
    mbi: str | None = None,
    last_name_prefix: str | None = None,
    birth_date: date | None = None,
    limit: int = 50,
) -> list[Beneficiary]:
    """The clinic's beneficiaries matching an exact (normalised) MBI, or a last-name prefix (any case)."""
    query = select(Beneficiary).where(Beneficiary.clinic_id == clinic_id)
    if mbi is not None:
        query = query.where(Beneficiary.mbi == mbi)
    if last_name_prefix is not None:
        query = query.where(Beneficiary.last_name_lower.startswith(last_name_prefix.lower(), autoescape=True))
    if birth_date is not None:
        query = query.where(Beneficiary.birth_date == birth_date)
    query = query.order_by(Beneficiary.last_name_lower, Beneficiary.first_name, Beneficiary.id).limit(limit)
    return list(session.exec(query))


def payers_in_force(session: Session, clinic_id: int, beneficiary_ids: list[str], on: date) -> dict[str, str]:
    """For each of these beneficiaries with a payer change effective on or before `on`, the latest such payer."""
    if not beneficiary_ids:
        return {}
    events = EventRecord.__table__
    query = (
        sa.select(events.c.beneficiary_id, events.c.payload)
        .where(
            events.c.clinic_id == clinic_id,
            events.c.beneficiary_id.in_(beneficiary_ids),
            events.c.type == "payer_changed",
            events.c.business_date <= on,
        )
        .order_by(events.c.beneficiary_id, events.c.business_date, events.c.version)
    )
    return {beneficiary_id: payload["payer"] for beneficiary_id, payload in session.execute(query)}
