"""Health routes for load balancers and orchestrators: is the process up, is the database ready."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from coverage_tracker.store import migrations

from .deps import State

log = logging.getLogger("coverage_tracker.api")
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, response_model_exclude_none=True, responses={503: {"model": Health, "description": "not ready"}})
def readyz(state: State) -> Any:
    """The database is reachable and migrated to the newest revision; 503 otherwise."""
    try:
        current = migrations.current_revision(state.engine)
    except Exception:
        log.warning("readyz: the database is unreachable", exc_info=True)
        return JSONResponse({"status": "unavailable", "detail": "the database is unreachable"}, status_code=503)
    if current != state.head_revision:
        detail = f"the database is at revision {current or '(none)'}, not {state.head_revision}: run `coverage-tracker db upgrade`"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    return {"status": "ok"}
