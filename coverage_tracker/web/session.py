"""The desk's sign-in session: a signed, HttpOnly, SameSite=Strict cookie naming the API key by id, and its CSRF token.

The cookie never holds the API key: it holds a random session id, the key's id and clinic, and the
time of sign-in, signed with HMAC-SHA256. Every request re-checks that the key is still live (a
revoked key ends its sessions within KEY_RECHECK_SECONDS). The CSRF token of a form is an HMAC of the
session id, so it needs no storage and changes at every sign-in. The signing secret is
COVERAGE_TRACKER_SESSION_SECRET; when it is not set, a random one is made when this module is first
imported and put in the environment, so the worker processes that `serve --workers N` starts share
it (a restart signs everyone out; set it to keep sessions across restarts or hosts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response

from coverage_tracker.store.api_keys import ApiKeyInfo, list_api_keys
from coverage_tracker.store.db import read_transaction

COOKIE = "ct_desk"
COOKIE_PATH = "/desk"
SECRET_ENV = "COVERAGE_TRACKER_SESSION_SECRET"
SESSION_SECONDS = 12 * 3600
KEY_RECHECK_SECONDS = 5.0

log = logging.getLogger("coverage_tracker.web")

os.environ.setdefault(SECRET_ENV, secrets.token_urlsafe(48))


@dataclass(frozen=True, slots=True)
class DeskSession:
    """What the cookie says: the session id and, once signed in, the key's id and clinic."""

    sid: str
    key_id: int | None
    clinic_id: int | None
    issued_at: int

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None


@dataclass
class Sessions:
    """One app's signing secret, its cache of live keys and the sessions signed out in this process."""

    secret: bytes
    _keys: dict[int, tuple[float, ApiKeyInfo | None]] = field(default_factory=dict)
    _ended: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.secret, payload, hashlib.sha256).digest())

    def encode(self, session: DeskSession) -> str:
        payload = json.dumps([session.sid, session.key_id, session.clinic_id, session.issued_at], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode(self, value: str | None, now: float | None = None) -> DeskSession | None:
        """The session in a cookie value; None when unsigned, tampered with, expired or signed out."""
        if not value or value.count(".") != 1:
            return None
        body, signature = value.split(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(self._sign(payload), signature):
                return None
            sid, key_id, clinic_id, issued_at = json.loads(payload)
        except (ValueError, TypeError):
            return None
        now = time.time() if now is None else now
        if not isinstance(issued_at, int) or not 0 <= now - issued_at < SESSION_SECONDS or sid in self._ended:
            return None
        return DeskSession(str(sid), key_id, clinic_id, issued_at)

    def csrf_token(self, session: DeskSession) -> str:
        """The token every form of this session carries."""
        return self._sign(f"csrf:{session.sid}".encode())

    def csrf_ok(self, session: DeskSession | None, token: str) -> bool:
        return session is not None and bool(token) and hmac.compare_digest(self.csrf_token(session), token)

    def end(self, session: DeskSession) -> None:
        """Refuse this session id from now on in this process (the browser's cookie is cleared too)."""
        now = time.time()
        with self._lock:
            self._ended = {sid: at for sid, at in self._ended.items() if now - at < SESSION_SECONDS}
            self._ended[session.sid] = now

    def live_key(self, engine: Any, session: DeskSession) -> ApiKeyInfo | None:
        """The session's key when it is still live and of the session's clinic, re-read every few seconds."""
        if session.key_id is None or session.clinic_id is None:
            return None
        now = time.monotonic()
        cached = self._keys.get(session.key_id)
        if cached is None or cached[0] <= now:
            with read_transaction(engine) as db:
                found = next((k for k in list_api_keys(db, session.clinic_id) if k.id == session.key_id), None)
            cached = (now + KEY_RECHECK_SECONDS, found)
            with self._lock:
                self._keys[session.key_id] = cached
        key = cached[1]
        return key if key is not None and key.revoked_at is None and key.clinic_id == session.clinic_id else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_creation_lock = threading.Lock()


def sessions_of(request: Request) -> Sessions:
    """The app's Sessions, made at its first desk request."""
    state = request.app.state
    with _creation_lock:
        found = getattr(state, "desk_sessions", None)
        if found is None:
            secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(48)
            if len(secret) < 32:
                log.warning("%s is shorter than 32 characters: sessions are easier to forge", SECRET_ENV)
            found = Sessions(secret.encode())
            state.desk_sessions = found
    return found


def new_session(key_id: int | None = None, clinic_id: int | None = None) -> DeskSession:
    """A fresh session id (a new one at every sign-in, so a planted id is worth nothing)."""
    return DeskSession(secrets.token_hex(16), key_id, clinic_id, int(time.time()))


def set_cookie(request: Request, response: Response, session: DeskSession) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to /desk."""
    response.set_cookie(
        COOKIE,
        sessions_of(request).encode(session),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
