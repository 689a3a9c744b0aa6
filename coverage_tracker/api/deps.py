"""Request dependencies: the app's shared state, the caller's key, its role check and its use-case context."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Header, HTTPException, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from coverage_tracker.config import Settings
from coverage_tracker.domain.history import History
from coverage_tracker.domain.payers import PolicyBook
from coverage_tracker.services import commands
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.services.errors import NotFound
from coverage_tracker.store import event_store
from coverage_tracker.store.api_keys import ApiKeyResolver, ResolvedKey
from coverage_tracker.store.clinics import get_clinic
from coverage_tracker.store.db import raw_reads, read_transaction

from .permissions import allowed

if TYPE_CHECKING:
    from .audit import AuditWriter

MAX_ID_LENGTH = 64
KNOWN_BENEFICIARIES_MAX = 100_000


@dataclass
class AppState:
    """What every request shares: settings, the database engine, payer policies, the key resolver."""

    settings: Settings
    engine: Engine
    policies: PolicyBook
    resolver: ApiKeyResolver
    audit: AuditWriter | None = None
    head_revision: str | None = None
    _clinic_zones: dict[int, str] = field(default_factory=dict)
    _known_beneficiaries: set[tuple[int, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _read_executor: ThreadPoolExecutor | None = None

    def read_executor(self) -> ThreadPoolExecutor:
        """The threads of the hot reads: as many as connections are kept for them.

        asyncio's executor hands work over in about a third of anyio's to_thread cost (measured:
        10 against 31 us a call with 32 calls in flight), which the booking check pays on every call.
        """
        if self._read_executor is None:
            with self._lock:
                if self._read_executor is None:
                    self._read_executor = ThreadPoolExecutor(raw_reads(self.engine).keep, thread_name_prefix="hot-reads")
        return self._read_executor

    def close(self) -> None:
        """Let the hot-read threads end (at shutdown; a later request starts new ones)."""
        with self._lock:
            executor, self._read_executor = self._read_executor, None
        if executor is not None:
            executor.shutdown(wait=False)

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

    def beneficiary_exists(self, clinic_id: int, beneficiary_id: str) -> bool:
        """True when the clinic has this beneficiary; a yes is cached, since beneficiaries are never removed."""
        if (clinic_id, beneficiary_id) in self._known_beneficiaries:
            return True
        if not is_plausible_id(beneficiary_id):
            return False
        found = event_store.stream_exists(raw_reads(self.engine), clinic_id, beneficiary_id)
        if found:
            with self._lock:
                if len(self._known_beneficiaries) >= KNOWN_BENEFICIARIES_MAX:
                    self._known_beneficiaries.clear()
                self._known_beneficiaries.add((clinic_id, beneficiary_id))
        return found


def is_plausible_id(value: str) -> bool:
    """True for a printable id of at most 64 characters; anything else cannot be ours (a 404 without a query)."""
    return 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


async def get_state(request: Request) -> AppState:
    """The application's shared state."""
    return request.app.state.ct


State = Annotated[AppState, Depends(get_state)]

BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ct_...`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def authenticate(request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None) -> ResolvedKey:
    """The caller's API key from `Authorization: Bearer <key>`; 401 when missing, unknown or revoked."""
    token = credentials.credentials.strip() if credentials else ""
    key = state.resolver.resolve(token) if token and token.isascii() else None
    if key is None:
        raise HTTPException(401, detail="missing, unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.api_key = key
    return key


def current_key(request: Request, state: State, credentials: Credentials) -> ResolvedKey:
    """The caller's API key (see `authenticate`)."""
    return authenticate(request, state, credentials)


CurrentKey = Annotated[ResolvedKey, Depends(current_key)]


def context_for(state: AppState, key: ResolvedKey, zone: str | None = None) -> Ctx:
    """The use-case context of a key: its clinic, its role, the clinic's local today (in `zone` when known)."""
    actor = Actor(clinic_id=key.clinic_id, role=key.role, key_id=key.key_id)
    return Ctx(db=state.engine, policies=state.policies, actor=actor, today=local_today(zone or state.clinic_timezone(key.clinic_id)))


def require_role(key: ResolvedKey, action: str) -> None:
    """403 unless the key's role may perform `action`."""
    if not allowed(key.role, action):
        raise HTTPException(403, detail=f"the {key.role} role may not {action.replace('_', ' ')}")


def authorise(request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None, action: str) -> Ctx:
    """401 without a live key, 403 unless its role may perform `action`; else the use-case context."""
    key = authenticate(request, state, credentials)
    require_role(key, action)
    return context_for(state, key)


def permit(action: str):
    """A dependency that answers 401/403 unless the caller may perform `action`, and gives its Ctx."""

    def dependency(request: Request, state: State, credentials: Credentials) -> Ctx:
        return authorise(request, state, credentials, action)

    return dependency


BeneficiaryId = Annotated[str, Path(description="The beneficiary's id, as answered by enrolment.", examples=["0b7e3c52-8a55-4a39-9b6e-1f0d1c3a2b4c"])]
Child = Literal["appointment", "session"]


def permit_on_beneficiary(action: str, child: Child | None = None):
    """Like `permit`, then 404 unless the clinic has the beneficiary (and the appointment or session) in the path.

    It runs before the body is validated, so the order of answers is 401, 403, 404, then 422.
    """

    def check(request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None, beneficiary_id: str) -> Ctx:
        ctx = authorise(request, state, credentials, action)
        if not state.beneficiary_exists(ctx.clinic_id, beneficiary_id):
            raise NotFound("beneficiary not found", code="NOT_FOUND")
        if child is not None:
            _require_child(ctx, beneficiary_id, child, request.path_params[f"{child}_id"])
        return ctx

    async def dependency(request: Request, state: State, credentials: Credentials, beneficiary_id: BeneficiaryId) -> Ctx:
        # From memory when the key, the beneficiary and the clinic's zone are all known (no database:
        # it runs on the event loop), else in a read thread. The route itself runs in a thread anyway.
        request.state.beneficiary_id = beneficiary_id
        if child is None:
            ctx = _from_memory(request, state, credentials, action, beneficiary_id)
            if ctx is not None:
                return ctx
        return await asyncio.get_running_loop().run_in_executor(
            state.read_executor(), check, request, state, credentials, beneficiary_id
        )

    return dependency


def _from_memory(
    request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None, action: str, beneficiary_id: str
) -> Ctx | None:
    """The caller's Ctx when every fact it takes is held in memory (else None: ask the database); 403 as `authorise`."""
    token = credentials.credentials.strip() if credentials else ""
    key = state.resolver.cached(token) if token and token.isascii() else None
    if key is None or (key.clinic_id, beneficiary_id) not in state._known_beneficiaries:
        return None
    zone = state._clinic_zones.get(key.clinic_id)
    if zone is None:
        return None
    request.state.api_key = key
    require_role(key, action)
    return context_for(state, key, zone)


def _require_child(ctx: Ctx, beneficiary_id: str, child: Child, child_id: str) -> None:
    history = commands.read_history(ctx, beneficiary_id)
    found = history.appointments if child == "appointment" else history.sessions
    if child_id not in found:
        raise NotFound(f"{child} not found", code="NOT_FOUND")


@dataclass(frozen=True, slots=True)
class Loaded:
    """The caller's Ctx and the beneficiary's folded history, read before the body is validated."""

    ctx: Ctx
    history: History


def permit_with_history(action: str):
    """Like `permit_on_beneficiary`, reading the beneficiary's history in the same step (its stream answers the 404).

    The key, the role and the stream are resolved in one call on the state's read threads (the
    database read never runs on the event loop); the order of answers stays 401, 403, 404, then 422.
    The booking check runs this on every call: it takes the request alone, since each sub-dependency
    FastAPI solves costs more than the work it does (the route declares the bearer scheme for the docs).
    """

    def load(request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None, beneficiary_id: str) -> Loaded:
        ctx = authorise(request, state, credentials, action)
        if not is_plausible_id(beneficiary_id):
            raise NotFound("beneficiary not found", code="NOT_FOUND")
        return Loaded(ctx, commands.read_history(ctx, beneficiary_id))

    async def dependency(request: Request) -> Loaded:
        state: AppState = request.app.state.ct
        beneficiary_id = request.path_params["beneficiary_id"]
        request.state.beneficiary_id = beneficiary_id
        credentials = await BEARER(request)
        return await asyncio.get_running_loop().run_in_executor(
            state.read_executor(), load, request, state, credentials, beneficiary_id
        )

    return dependency


BEARER_SECURITY = {"security": [{"HTTPBearer": []}]}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any printable ASCII token: the same key and body give the same answer and one event.",
    ),
]


def may(action: str) -> Any:
    """A route parameter type: the caller's Ctx, when its role may perform `action`."""
    return Annotated[Ctx, Depends(permit(action))]


def may_with_history(action: str) -> Any:
    """A route parameter type: the caller's Ctx and the beneficiary's history, when it may perform `action` on it."""
    return Annotated[Loaded, Depends(permit_with_history(action))]


def may_on_beneficiary(action: str, child: Child | None = None) -> Any:
    """A route parameter type: the caller's Ctx, when it may perform `action` on the beneficiary in the path."""
    return Annotated[Ctx, Depends(permit_on_beneficiary(action, child))]
