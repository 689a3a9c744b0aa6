"""Administration routes: the audit log (billing, admin) and the clinic's API keys (admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query

from coverage_tracker.services import validation
from coverage_tracker.services.context import Ctx
from coverage_tracker.services.errors import InvalidInput, NotFound
from coverage_tracker.store import api_keys
from coverage_tracker.store.audit import query_audit
from coverage_tracker.store.db import read_transaction, write_transaction

from .deps import State, may
from .routes import contract_router
from .schemas import ONE_LINE, IsoDate, errors
from .schemas_admin import ApiKeyInfo, ApiKeyList, AuditLog, CreatedApiKey, NewApiKey

router = contract_router("/v1", "administration")

CanReadAudit = may("audit")
CanManageKeys = may("api_keys")
MAX_AUDIT_ROWS = 1000


@router.get("/audit-events", response_model=AuditLog, responses=errors(401, 403, 422))
def audit_events(
    ctx: CanReadAudit,
    state: State,
    beneficiary_id: Annotated[str | None, Query(max_length=64, pattern=ONE_LINE, description="Only this beneficiary's rows.")] = None,
    from_: Annotated[IsoDate | None, Query(alias="from", description="First day (the clinic's local date), inclusive.")] = None,
    to: Annotated[IsoDate | None, Query(description="Last day (the clinic's local date), inclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_ROWS)] = MAX_AUDIT_ROWS,
) -> Any:
    """Who read or wrote which beneficiary's data and how it ended, oldest first."""
    if from_ is not None:
        validation.service_date("from", from_, ctx.today)
    if to is not None:
        validation.service_date("to", to, ctx.today)
        if from_ is not None and to < from_:
            raise InvalidInput("to", f"{to.isoformat()} is before from ({from_.isoformat()})")
    zone = ZoneInfo(state.clinic_timezone(ctx.clinic_id))
    since = _start_of(from_, zone) if from_ else None
    until = _start_of(to + dt.timedelta(days=1), zone) if to else None
    if state.audit is not None:
        state.audit.flush()
    with read_transaction(ctx.db) as session:
        rows = query_audit(session, ctx.clinic_id, beneficiary_id=beneficiary_id, since=since, until=until, limit=limit)
        return {"events": [row.model_dump() for row in rows]}


def _start_of(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


@router.get("/api-keys", response_model=ApiKeyList, responses=errors(401, 403))
def list_api_keys(ctx: CanManageKeys) -> Any:
    """The clinic's keys, oldest first (never the keys themselves)."""
    with read_transaction(ctx.db) as session:
        return {"keys": [key._asdict() for key in api_keys.list_api_keys(session, ctx.clinic_id)]}


@router.post("/api-keys", status_code=201, response_model=CreatedApiKey, responses=errors(401, 403, 422))
def create_api_key(body: NewApiKey, ctx: CanManageKeys) -> Any:
    """A new key for the caller's clinic; the answer is the only time the key is shown."""
    with write_transaction(ctx.db) as session:
        row, plain_key = api_keys.create_api_key(session, ctx.clinic_id, body.role.value, body.label)
        created = {"id": row.id, "key": plain_key}
    return {**_key_info(ctx, created["id"]), **created}


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyInfo, responses=errors(401, 403, 404))
def revoke_api_key(key_id: str, ctx: CanManageKeys, state: State) -> Any:
    """Revoke one of the clinic's keys: refused at once by this process, by the others within seconds."""
    number = int(key_id) if key_id.isascii() and key_id.isdigit() and len(key_id) <= 18 else None
    with write_transaction(ctx.db) as session:
        if number is None or not api_keys.revoke_api_key(session, number, ctx.clinic_id):
            raise NotFound("API key not found", code="NOT_FOUND")
    state.resolver.forget_all()
    return _key_info(ctx, number)


def _key_info(ctx: Ctx, key_id: int) -> dict[str, Any]:
    with read_transaction(ctx.db) as session:
        return next(key._asdict() for key in api_keys.list_api_keys(session, ctx.clinic_id) if key.id == key_id)
