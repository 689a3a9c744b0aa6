"""The FastAPI application factory: shared state, error mapping, routers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from coverage_tracker import web
from coverage_tracker.config import Settings, get_settings
from coverage_tracker.domain.payers import PolicyBook, default_book, load_policy_book
from coverage_tracker.services.errors import ServiceError
from coverage_tracker.store.api_keys import ApiKeyResolver
from coverage_tracker.store.db import create_db_engine

from . import alerts_routes
from .deps import AppState

log = logging.getLogger("coverage_tracker.api")


def load_policies(settings: Settings) -> PolicyBook:
    """The payer policies: Medicare, plus the TOML file named by COVERAGE_TRACKER_PAYER_POLICIES."""
    return load_policy_book(settings.payer_policies) if settings.payer_policies else default_book()


def _field_errors(errors: list[dict]) -> list[dict]:
    # FastAPI echoes the offending input; an MBI or a name must never come back in an error body.
    return [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    """Business errors -> 404/409/422 with `{detail, code}`; validation errors without the input echoed."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        request.state.outcome = str(exc.status)
        body: dict = {"detail": exc.message}
        if exc.code:
            body["code"] = exc.code
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        request.state.outcome = "422"
        return JSONResponse({"detail": _field_errors(list(exc.errors()))}, status_code=422)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """A new application on the configured (or given) database."""
    settings = settings or get_settings()
    engine = engine or create_db_engine(settings.database_url)
    app = FastAPI(
        title="coverage_tracker",
        version="0.1.0",
        description="Will Medicare (or another payer) pay for this acupuncture visit? Ask before booking.",
    )
    app.state.ct = AppState(settings=settings, engine=engine, policies=load_policies(settings), resolver=ApiKeyResolver(engine))
    install_error_handlers(app)
    app.include_router(alerts_routes.router)
    app.include_router(web.router)
    return app
