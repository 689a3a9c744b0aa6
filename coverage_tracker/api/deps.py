"""Request dependencies: the app's shared state, the caller's key, its role check and its use-case context."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import PolicyBook
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.store.api_keys import ApiKeyResolver, ResolvedKey
from coverage_tracker.store.clinics import get_clinic
from coverage_tracker.store.db import read_transaction

from .permissions import allowed


@dataclass
class AppState:
    """What every request shares: settings, the database engine, payer policies, the key resolver."""

    settings: Settings
    engine: Engine
    policies: PolicyBook
    resolver: ApiKeyResolver
    _clinic_zones: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clinic_timezone(self, clinic_id: int) -> str:
        """The clinic's own time zone, else the configured default (cached per process)."""
        zone = self._clinic_zones.get(clinic_id)
        if zone is None:
            with read_transaction(self.engine) as session:
                clinic = get_clinic(session, clinic_id)
                zone = (clinic.timezone if clinic else None) or self.settings.timezone
            with self._lock:
                self._clinic_zones[clinic_id] = zone
        return zone


def get_state(request: Request) -> AppState:
    return request.app.state.ct


State = Annotated[AppState, Depends(get_state)]

UNAUTHORIZED = HTTPException(401, detail="missing, unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})


def current_key(request: Request, state: State) -> ResolvedKey:
    """The caller's API key from `Authorization: Bearer <key>`; 401 when missing, unknown or revoked."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UNAUTHORIZED
    key = state.resolver.resolve(token.strip())
    if key is None:
        raise UNAUTHORIZED
    request.state.api_key = key
    return key


CurrentKey = Annotated[ResolvedKey, Depends(current_key)]


def context_for(state: AppState, key: ResolvedKey) -> Ctx:
    """The use-case context of a key: its clinic, its role, the clinic's local today."""
    actor = Actor(clinic_id=key.clinic_id, role=key.role, key_id=key.key_id)
    return Ctx(db=state.engine, policies=state.policies, actor=actor, today=local_today(state.clinic_timezone(key.clinic_id)))


def permit(action: str):
    """A dependency that answers 403 unless the caller's role may perform `action`, and gives its Ctx."""

    def dependency(request: Request, state: State, key: CurrentKey) -> Ctx:
        request.state.action = action
        if not allowed(key.role, action):
            raise HTTPException(403, detail=f"the {key.role} role may not {action.replace('_', ' ')}")
        return context_for(state, key)

    return dependency
