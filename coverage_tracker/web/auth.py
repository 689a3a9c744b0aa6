"""Signing in with an API key, signing out, and the files the pages load."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import FileResponse, Response

from .pages import HERE, PageError, desk_router, desk_session, redirect, render
from .session import clear_cookie, new_session, sessions_of, set_cookie

router = desk_router()

STATIC = HERE / "static"
STATIC_NAME = re.compile(r"^[a-z0-9-]+\.(css|js|svg|png)$")


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    """The sign-in form; a visitor without a session gets one, so the form can carry a CSRF token."""
    session = desk_session(request)
    if session is None or session.signed_in:
        session = new_session()
        request.state.desk_session = session
    response = render(request, "sign_in.html", None)
    set_cookie(request, response, session)
    return response


@router.post("/sign-in")
def sign_in(request: Request, api_key: Annotated[str, Form()] = "") -> Response:
    """Check the key; on success start a new session (new id) that names the key by id, never holds it."""
    key = request.app.state.ct.resolver.resolve(api_key.strip()) if api_key.strip() else None
    if key is None:
        return render(request, "sign_in.html", None, status_code=401, error="That key is unknown or has been revoked.")
    response = redirect("/desk", "Signed in.")
    set_cookie(request, response, new_session(key.key_id, key.clinic_id))
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    """End the session here and clear the cookie."""
    session = desk_session(request)
    if session is not None:
        sessions_of(request).end(session)
    response = redirect("/desk/sign-in")
    clear_cookie(response)
    return response


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    """A stylesheet, script or image of the pages (no CDN: everything is served from here)."""
    path = STATIC / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise PageError(404, "Not found", "There is no such file.")
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})
