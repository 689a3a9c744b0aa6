"""The write path of every use case: load the stream, decide, append with the expected version, retry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from coverage_tracker.domain.events import Event
from coverage_tracker.domain.history import History, fold
from coverage_tracker.store import event_store
from coverage_tracker.store.write_batches import run_write

from .context import Ctx
from .histories import histories
from .errors import Conflict, NotFound

MAX_ATTEMPTS = 8

Decide = Callable[[History, list[Event]], tuple[Sequence[Event], dict[str, Any]]]


def request_hash(operation: str, beneficiary_id: str | None, body: dict[str, Any]) -> str:
    """A stable digest of what was asked, to tell a retry from a reuse of the key."""
    canonical = json.dumps([operation, beneficiary_id, body], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


KEY_REUSED_MESSAGE = "Idempotency-Key was already used with another request body"


def stored_answer(session: Any, ctx: Ctx, idempotency_key: str | None, digest: str | None) -> tuple[dict[str, Any] | None, bool]:
    """(the stored answer of a retried request, whether the key was used for another body)."""
    if not idempotency_key:
        return None, False
    stored = event_store.find_idempotent(session, ctx.clinic_id, idempotency_key)
    if stored is None:
        return None, False
    stored_hash, response = stored
    return (response, False) if stored_hash == digest else (None, True)


def replay(session: Any, ctx: Ctx, idempotency_key: str | None, digest: str | None) -> dict[str, Any] | None:
    """The stored answer for a retried request; a Conflict when the key was used for another body."""
    response, reused = stored_answer(session, ctx, idempotency_key, digest)
    if reused:
        raise Conflict(KEY_REUSED_MESSAGE, code="IDEMPOTENCY_KEY_REUSED")
    return response


def load(session: Any, ctx: Ctx, beneficiary_id: str) -> tuple[list[Event], int]:
    """The clinic's stream for this beneficiary; NotFound when the clinic has no such beneficiary."""
    events, version = event_store.load_stream(session, ctx.clinic_id, beneficiary_id)
    if not events:
        raise NotFound("beneficiary not found", code="NOT_FOUND")
    return events, version


def read_history(ctx: Ctx, beneficiary_id: str) -> History:
    """The beneficiary's folded history as the log stands now (one snapshot); NotFound when the clinic has none."""
    history = histories(ctx.db).read(ctx.clinic_id, beneficiary_id)
    if history is None:
        raise NotFound("beneficiary not found", code="NOT_FOUND")
    return history


def run(
    ctx: Ctx,
    beneficiary_id: str,
    operation: str,
    body: dict[str, Any],
    decide: Decide,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Load -> decide -> append in one transaction, re-run on a version conflict; returns the answer once committed."""
    digest = request_hash(operation, beneficiary_id, body) if idempotency_key else None

    def attempt(session: Any) -> dict[str, Any]:
        stored, reused = stored_answer(session, ctx, idempotency_key, digest)
        if stored is not None:
            return stored
        events, version = load(session, ctx, beneficiary_id)
        # a body the rules refuse is a 422 (or 404) before the key's 409, and the key's 409 beats the others
        try:
            new_events, response = decide(fold(events), events)
        except Conflict:
            if reused:
                raise Conflict(KEY_REUSED_MESSAGE, code="IDEMPOTENCY_KEY_REUSED") from None
            raise
        if reused:
            raise Conflict(KEY_REUSED_MESSAGE, code="IDEMPOTENCY_KEY_REUSED")
        event_store.append(
            session,
            ctx.clinic_id,
            beneficiary_id,
            version,
            new_events,
            ctx.actor.key_id,
            idempotency_key,
            digest,
            response,
            prior_events=events,
        )
        return response

    for _ in range(MAX_ATTEMPTS):
        try:
            return run_write(ctx.db, attempt)
        except (event_store.VersionConflict, event_store.IdempotencyConflict):
            continue
    raise Conflict("the beneficiary's record is being changed by others right now; try again", code="WRITE_CONFLICT")
