"""API keys: shown once, stored as a sha256 hash, found by a short prefix, one clinic and one role each.

A key is 32 random bytes, so a fast hash is enough (no password-style slow hash on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from coverage_tracker.store.tables import ApiKey, Clinic, utcnow

ROLES = ("front_desk", "clinician", "billing", "admin")
KEY_SCHEME = "ct"
KEYS = ApiKey.__table__


class ResolvedKey(NamedTuple):
    """Who a request is: the key's id, its clinic and its role."""

    key_id: int
    clinic_id: int
    role: str


class ApiKeyInfo(NamedTuple):
    """What may be shown about a key: never the key itself."""

    id: int
    clinic_id: int
    clinic_name: str
    role: str
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class UnknownRole(ValueError):
    """A role that is not one of ROLES."""


def hash_key(plain_key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(plain_key.encode()).hexdigest()


def _prefix_of(plain_key: str) -> str | None:
    scheme, _, rest = plain_key.partition("_")
    prefix, _, secret = rest.partition("_")
    return prefix if scheme == KEY_SCHEME and prefix and secret else None


def create_api_key(session: Session, clinic_id: int, role: str, label: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key for the clinic; returns the row and the plain key, which is never stored."""
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(4)
    plain_key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(clinic_id=clinic_id, role=role, prefix=prefix, key_hash=hash_key(plain_key), label=label)
    session.add(row)
    session.flush()
    return row, plain_key


def list_api_keys(session: Session, clinic_id: int | None = None) -> list[ApiKeyInfo]:
    """Every key (of one clinic, when given), oldest first."""
    query = (
        sa.select(
            KEYS.c.id, KEYS.c.clinic_id, Clinic.__table__.c.name, KEYS.c.role, KEYS.c.prefix,
            KEYS.c.label, KEYS.c.created_at, KEYS.c.revoked_at,
        )
        .join(Clinic.__table__, Clinic.__table__.c.id == KEYS.c.clinic_id)
        .order_by(KEYS.c.id)
    )
    if clinic_id is not None:
        query = query.where(KEYS.c.clinic_id == clinic_id)
    return [ApiKeyInfo(*row) for row in session.execute(query)]


def revoke_api_key(session: Session, key_id: int, clinic_id: int | None = None) -> bool:
    """Revoke a key (of that clinic, when given); False when there is no such key. Revoking twice keeps the first time."""
    query = sa.select(KEYS.c.id).where(KEYS.c.id == key_id)
    if clinic_id is not None:
        query = query.where(KEYS.c.clinic_id == clinic_id)
    if session.execute(query).first() is None:
        return False
    session.execute(sa.update(KEYS).where(KEYS.c.id == key_id, KEYS.c.revoked_at.is_(None)).values(revoked_at=utcnow()))
    return True


def lookup_api_key(conn: sa.Connection | Session, plain_key: str) -> ResolvedKey | None:
    """The live key matching `plain_key`, read from the database; None when unknown or revoked."""
    prefix = _prefix_of(plain_key)
    if prefix is None:
        return None
    digest = hash_key(plain_key)
    rows = conn.execute(
        sa.select(KEYS.c.id, KEYS.c.clinic_id, KEYS.c.role, KEYS.c.key_hash).where(
            KEYS.c.prefix == prefix, KEYS.c.revoked_at.is_(None)
        )
    )
    for key_id, clinic_id, role, key_hash in rows:
        if hmac.compare_digest(key_hash, digest):
            return ResolvedKey(key_id, clinic_id, role)
    return None


class ApiKeyResolver:
    """`lookup_api_key` with an in-process cache of known keys.

    A revocation takes effect in every process within `ttl_seconds` (a cached key is trusted
    that long); `forget_all()` makes it immediate in this process. Unknown keys are not cached,
    so a new key works at once.
    """

    def __init__(self, engine: Engine, ttl_seconds: float = 5.0, max_entries: int = 4096) -> None:
        self.engine = engine
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, ResolvedKey]] = {}
        self._lock = threading.Lock()

    def cached(self, plain_key: str) -> ResolvedKey | None:
        """The key as resolved within the last `ttl_seconds`, without asking the database; None otherwise."""
        found = self._cache.get(hash_key(plain_key))
        return found[1] if found is not None and found[0] > time.monotonic() else None

    def resolve(self, plain_key: str) -> ResolvedKey | None:
        """The key's id, clinic and role, or None for a missing, unknown or revoked key."""
        digest = hash_key(plain_key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.engine.connect() as conn:
            resolved = lookup_api_key(conn, plain_key)
        with self._lock:
            if resolved is None:
                self._cache.pop(digest, None)
            else:
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl_seconds, resolved)
        return resolved

    def forget_all(self) -> None:
        """Drop every cached key (after revoking one in this process)."""
        with self._lock:
            self._cache.clear()
