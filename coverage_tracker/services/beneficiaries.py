"""Use cases about who the patient is: enrol, read, search, change payer."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from coverage_tracker.domain.events import BeneficiaryEnrolled, PayerChanged
from coverage_tracker.domain.history import fold
from coverage_tracker.domain.mbi import mask_mbi
from coverage_tracker.store import beneficiaries as rows
from coverage_tracker.store import event_store
from coverage_tracker.store.db import read_transaction, write_transaction

from . import commands, validation
from .context import Ctx
from .errors import Conflict, NotFound


def _public(row: Any, *, full_mbi: bool) -> dict[str, Any]:
    body = {
        "id": row.id,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "birth_date": row.birth_date.isoformat(),
        "payer": row.payer,
    }
    if full_mbi:
        return {"id": row.id, "mbi": row.mbi, **{k: v for k, v in body.items() if k != "id"}}
    return {"id": row.id, "mbi_masked": mask_mbi(row.mbi), **{k: v for k, v in body.items() if k != "id"}}


def enrol(
    ctx: Ctx,
    *,
    mbi: str,
    first_name: str,
    last_name: str,
    birth_date: date,
    payer: str = "medicare",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Enrol a beneficiary in the clinic; 409 when the MBI is already enrolled there."""
    fields = {
        "mbi": validation.mbi(mbi),
        "first_name": validation.name("first_name", first_name),
        "last_name": validation.name("last_name", last_name),
        "birth_date": validation.birth_date(birth_date, ctx.today),
        "payer": validation.payer(ctx.policies, payer),
    }
    digest = commands.request_hash("enrol", None, fields) if idempotency_key else None
    for _ in range(commands.MAX_ATTEMPTS):
        try:
            with write_transaction(ctx.db) as session:
                stored = commands.replay(session, ctx, idempotency_key, digest)
                if stored is not None:
                    return stored
                beneficiary_id = str(uuid.uuid4())
                row = rows.add_beneficiary(session, ctx.clinic_id, beneficiary_id=beneficiary_id, **fields)
                response = _public(row, full_mbi=True)
                event = BeneficiaryEnrolled(enrolled_on=ctx.today, **fields)
                event_store.append(
                    session, ctx.clinic_id, beneficiary_id, 0, [event], ctx.actor.key_id,
                    idempotency_key, digest, response, prior_events=[],
                )
                return response
        except rows.DuplicateMbi:
            with read_transaction(ctx.db) as session:
                stored = commands.replay(session, ctx, idempotency_key, digest)
            if stored is not None:
                return stored
            raise Conflict("this MBI is already enrolled in the clinic", code="MBI_ALREADY_ENROLLED") from None
        except event_store.IdempotencyConflict:
            continue
    raise Conflict("could not enrol right now; try again", code="WRITE_CONFLICT")


def get(ctx: Ctx, beneficiary_id: str) -> dict[str, Any]:
    """The enrolment fields with the full MBI."""
    with read_transaction(ctx.db) as session:
        row = rows.get_beneficiary(session, ctx.clinic_id, beneficiary_id)
        if row is None:
            raise NotFound("beneficiary not found", code="NOT_FOUND")
        history = fold(commands.load(session, ctx, beneficiary_id)[0])
        body = _public(row, full_mbi=True)
    body["payer"] = history.payer_on(ctx.today.toordinal())
    return body


def search(ctx: Ctx, *, mbi: str | None = None, last_name: str | None = None, birth_date: date | None = None) -> list[dict[str, Any]]:
    """The clinic's beneficiaries by exact MBI, or by last-name prefix (any case) and birth date; MBIs masked, payer in force today."""
    normalised = validation.mbi(mbi) if mbi is not None else None
    prefix = last_name.strip() if last_name is not None else None
    with read_transaction(ctx.db) as session:
        found = rows.search_beneficiaries(
            session, ctx.clinic_id, mbi=normalised, last_name_prefix=prefix or None, birth_date=birth_date
        )
        in_force = rows.payers_in_force(session, ctx.clinic_id, [row.id for row in found], ctx.today)
        return [{**_public(row, full_mbi=False), "payer": in_force.get(row.id, row.payer)} for row in found]


def change_payer(
    ctx: Ctx, beneficiary_id: str, *, payer: str, effective_date: date, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Record the payer in force from `effective_date`."""
    body = {"payer": payer, "effective_date": effective_date.isoformat()}

    def decide(history, events):
        validation.payer(ctx.policies, payer)
        validation.service_date("effective_date", effective_date, ctx.today)
        event = PayerChanged(payer, effective_date, str(uuid.uuid4()))
        return [event], {"id": event.change_id, "beneficiary_id": beneficiary_id, **body}

    return commands.run(ctx, beneficiary_id, "payer_change", body, decide, idempotency_key)
