"""The front-desk pages: server-rendered HTML over the same use cases as the API."""

from __future__ import annotations

from fastapi import APIRouter

from . import alerts, auth, patients, planner, records

router = APIRouter()
for part in (auth, patients, planner, records, alerts):
    router.include_router(part.router)

__all__ = ["router"]
