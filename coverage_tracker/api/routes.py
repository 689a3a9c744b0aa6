"""What every route of the contract shares: the route class that keeps the order of answers, and routers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.routing import APIRoute

MAX_BODY_BYTES = 1_000_000


class ContractRoute(APIRoute):
    """An APIRoute that reports a malformed JSON body only after 401, 403 and 404, as the contract orders them.

    FastAPI parses the JSON body before it solves dependencies; here a body that is not JSON is
    handed on as absent (so the dependencies run first) and the 422 handler says what was wrong.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def contract_handler(request: Request) -> Response:
            if _declared_length(request) > MAX_BODY_BYTES:
                raise HTTPException(413, detail=f"the body must be at most {MAX_BODY_BYTES} bytes")
            if _is_json(request):
                body = await request.body()
                if len(body) > MAX_BODY_BYTES:
                    raise HTTPException(413, detail=f"the body must be at most {MAX_BODY_BYTES} bytes")
                if body:
                    try:
                        await request.json()
                    except (ValueError, RecursionError) as exc:
                        request.state.json_error = _json_error(exc)
                        request._json = None  # Starlette's parsed-body cache: FastAPI then sees no body.
            return await handler(request)

        return contract_handler


def _declared_length(request: Request) -> int:
    value = request.headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else 0


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _json_error(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "the body is not valid JSON: nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "the body is not valid JSON: it is not UTF-8 text"
    message = getattr(exc, "msg", None) or "cannot be parsed"
    position = getattr(exc, "pos", None)
    return f"the body is not valid JSON: {message}" + (f" (at character {position})" if position is not None else "")


def contract_router(prefix: str, tag: str) -> APIRouter:
    """A router whose routes keep the contract's order of answers."""
    return APIRouter(prefix=prefix, tags=[tag], route_class=ContractRoute)
