"""What every desk page shares: the route class (CSRF, error pages, headers), the signed-in user, rendering."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from coverage_tracker.api.deps import AppState, context_for
from coverage_tracker.api.permissions import allowed
from coverage_tracker.services.context import Ctx
from coverage_tracker.services.errors import NotFound, ServiceError
from coverage_tracker.store.api_keys import ResolvedKey
from coverage_tracker.store.audit import record_audit
from coverage_tracker.store.db import write_transaction

from . import view
from .session import COOKIE, COOKIE_PATH, DeskSession, Sessions, sessions_of

log = logging.getLogger("coverage_tracker.web")

HERE = Path(__file__).parent
FLASH_COOKIE = "ct_flash"
CSRF_FIELD = "csrf_token"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

templates = Jinja2Templates(directory=HERE / "templates")
view.install(templates.env)


class PageError(Exception):
    """A request the desk answers with an error page (status, title, message)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class SignInRequired(Exception):
    """No live session: go to the sign-in page."""


def _same_origin(request: Request) -> bool:
    """False only when the browser names another origin ("null" and no header say nothing; the token decides)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _check_csrf(request: Request) -> None:
    """Refuse (403) a POST whose form lacks this session's token, or that comes from another origin."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not _same_origin(request) or not sessions_of(request).csrf_ok(desk_session(request), token if isinstance(token, str) else ""):
        raise PageError(403, "Form refused", "This form was missing its security token or has expired. Reload the page and try again.")


class DeskRoute(APIRoute):
    """A page route: checks CSRF on every POST, turns errors into HTML pages and adds security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def desk_handler(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await _check_csrf(request)
                response = await handler(request)
            except SignInRequired:
                response = RedirectResponse("/desk/sign-in", status_code=303)
            except PageError as exc:
                response = error_page(request, exc.status, exc.title, exc.message)
            except NotFound:
                response = error_page(request, 404, "Not found", "This clinic has no such patient or record.")
            except ServiceError as exc:
                response = error_page(request, exc.status, "Not done", exc.message)
            except RequestValidationError:
                response = error_page(request, 404, "Not found", "There is no such page.")
            response.headers.update(SECURITY_HEADERS)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return desk_handler


def desk_router() -> APIRouter:
    """A router for desk pages (kept out of the API's OpenAPI document)."""
    return APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)


def desk_session(request: Request) -> DeskSession | None:
    """The request's session cookie, when valid."""
    if not hasattr(request.state, "desk_session"):
        request.state.desk_session = sessions_of(request).decode(request.cookies.get(COOKIE))
    return request.state.desk_session


@dataclass(frozen=True)
class DeskUser:
    """The signed-in key: its clinic, role and use-case context, and the CSRF token of its forms."""

    key_id: int
    clinic_id: int
    clinic_name: str
    role: str
    ctx: Ctx
    csrf_token: str

    def may(self, action: str) -> bool:
        return allowed(self.role, action)

    def require(self, action: str) -> None:
        """A 403 page unless the key's role may do `action`."""
        if not self.may(action):
            raise PageError(403, "Not allowed", f"A {view.role_name(self.role)} key may not {view.ACTIONS.get(action, action)}.")

    @contextmanager
    def audit(self, action: str, beneficiary_id: str | None = None) -> Iterator[None]:
        """Write an audit row for what the block does to a beneficiary's data, with its outcome."""
        outcome = "200"
        try:
            yield
        except ServiceError as exc:
            outcome = str(exc.status)
            raise
        except Exception:
            outcome = "500"
            raise
        finally:
            try:
                with write_transaction(self.ctx.db) as session:
                    record_audit(
                        session, clinic_id=self.clinic_id, api_key_id=self.key_id, role=self.role,
                        action=action, outcome=outcome, beneficiary_id=beneficiary_id,
                    )
            except Exception:  # noqa: BLE001 - the work above is committed: say so, do not turn it into an error page
                log.exception("audit row not written: key %s, action %s, outcome %s", self.key_id, action, outcome)


def app_state(request: Request) -> AppState:
    return request.app.state.ct


def current_user(request: Request) -> DeskUser:
    """The signed-in desk user, or a redirect to the sign-in page."""
    session = desk_session(request)
    if session is None or not session.signed_in:
        raise SignInRequired
    state = app_state(request)
    sessions: Sessions = sessions_of(request)
    key = sessions.live_key(state.engine, session)
    if key is None:
        raise SignInRequired
    ctx = context_for(state, ResolvedKey(key.id, key.clinic_id, key.role))
    return DeskUser(key.id, key.clinic_id, key.clinic_name, key.role, ctx, sessions.csrf_token(session))


User = Annotated[DeskUser, Depends(current_user)]


def render(request: Request, template: str, user: DeskUser | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from `template`, with the user, the CSRF token and any one-time notice."""
    flash = request.cookies.get(FLASH_COOKIE)
    csrf = user.csrf_token if user else _anonymous_csrf(request)
    response = templates.TemplateResponse(
        request, template, {"user": user, "csrf_token": csrf, "notice": unquote(flash) if flash else None, **context},
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


def _anonymous_csrf(request: Request) -> str:
    session = desk_session(request)
    return sessions_of(request).csrf_token(session) if session else ""


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error page; it shows the header of the signed-in user when there is one."""
    try:
        user: DeskUser | None = current_user(request)
    except SignInRequired:
        user = None
    return render(request, "error.html", user, status_code=status, title=title, message=message)


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    """303 to `url`, carrying a one-time notice (never PHI) to the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        response.set_cookie(FLASH_COOKIE, quote(notice), path=COOKIE_PATH, httponly=True, samesite="strict", max_age=60)
    return response
