"""The audit trail of the HTTP API: one row for every /v1 request made with a valid key, whatever its outcome.

Rows are written by a background thread, as many per transaction as arrive within a short window
(group commit): one transaction per request made SQLite's write lock the bottleneck of the booking
check. A hard kill loses at most the rows of that window; they are never written before the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coverage_tracker.domain.mbi import mask_mbis_in_text
from coverage_tracker.store.api_keys import ResolvedKey
from coverage_tracker.store.audit import AuditBatches
from coverage_tracker.store.tables import utcnow

from .deps import MAX_ID_LENGTH

log = logging.getLogger("coverage_tracker.api.audit")

MAX_BATCH = 500
BATCH_WINDOW_SECONDS = 0.02
WRITE_ATTEMPTS = 3


class AuditWriter:
    """Queues audit rows and writes them from one background thread; `flush()` waits for them."""

    def __init__(self, engine: Engine, window: float = BATCH_WINDOW_SECONDS) -> None:
        self.engine = engine
        self.window = window
        self._batches = AuditBatches(engine)
        self._pending: list[dict[str, Any]] = []
        self._in_flight = 0
        self._closing = False
        self._hurry = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def submit(self, row: dict[str, Any]) -> None:
        """Queue one row (never blocks on the database)."""
        with self._cond:
            self._pending.append(row)
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            if len(self._pending) == 1 or len(self._pending) >= MAX_BATCH:  # else the writer is gathering a batch
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (or given up); False on timeout."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending and not self._in_flight, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    self._batches.close()
                    return
                self._cond.wait_for(lambda: len(self._pending) >= MAX_BATCH or self._closing or self._hurry, self.window)
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                self._hurry = bool(self._pending) and self._hurry
                self._in_flight = len(batch)
            self._write(batch)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._batches.write(batch)
                return
            except Exception:
                log.warning("writing %d audit rows failed (attempt %d of %d)", len(batch), attempt, WRITE_ATTEMPTS, exc_info=True)
                time.sleep(0.2 * attempt)
        log.error("%d audit rows were lost: the database refused them %d times", len(batch), WRITE_ATTEMPTS)


class AuditMiddleware:
    """Queues the audit row (key, role, action, beneficiary, status code, time) when the response starts.

    The route's dependencies leave the key and the beneficiary id in the request state; the action
    is the route's name. A request without a valid key (401) has no clinic and leaves no row.
    """

    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        recorded = False

        async def send_after_audit(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                self._record(scope, state, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        except Exception:
            if not recorded:
                self._record(scope, state, 500)
            raise

    def _record(self, scope: Scope, state: dict[str, Any], status: int) -> None:
        key: ResolvedKey | None = state.get("api_key")
        if key is None:
            return
        self.writer.submit(
            {
                "clinic_id": key.clinic_id,
                "api_key_id": key.key_id,
                "role": key.role,
                "action": getattr(scope.get("route"), "name", None) or "unknown",
                "outcome": str(status),
                "beneficiary_id": _storable(state.get("beneficiary_id")),
                "at": utcnow(),
            }
        )


def _storable(beneficiary_id: str | None) -> str | None:
    """The id as sent, cut to 64 characters, control characters shown as `?`, an MBI sent in its place masked."""
    if beneficiary_id is None:
        return None
    shown = beneficiary_id[:MAX_ID_LENGTH]
    if not shown.isprintable():
        shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return mask_mbis_in_text(shown)
