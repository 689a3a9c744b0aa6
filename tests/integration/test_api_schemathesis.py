"""Schemathesis over /openapi.json: every operation, with an admin key, answers no 5xx and nothing its schema does not describe.

SQLite only, through the ASGI app; 40 generated requests per operation (valid and invalid ones)
keep it near half a minute. Path ids are swapped for a real patient's three times in four, so that
the success paths are reached too.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import schemathesis
from schemathesis import GenerationMode
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coverage_tracker.api.app import create_app
from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.store.api_keys import create_api_key
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]
EXAMPLES_PER_OPERATION = 40


@dataclass
class Target:
    """The app under test, an admin key, and ids that exist in its clinic."""

    app: FastAPI
    key: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Target:
    path = tmp_path_factory.mktemp("schemathesis") / "coverage_tracker.db"
    shutil.copyfile(sqlite_template, path)
    settings_ = Settings(database_url=f"sqlite:///{path}")
    engine = create_db_engine(settings_.database_url)
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, "Fuzzed Clinic")
        key = create_api_key(session, clinic.id, "admin", "schemathesis")[1]
        clinic_id = clinic.id
    today = local_today(settings_.timezone)
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=today)
    bid = beneficiaries.enrol(ctx, mbi="1EG4TE5MK73", first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))["id"]
    care.record_diagnosis(ctx, bid, icd10_code="M54.50", onset_date=today - timedelta(days=400), recorded_on=today - timedelta(days=300))
    appointment = care.book_appointment(ctx, bid, day=today + timedelta(days=400))["id"]
    session_id = care.record_session(ctx, bid, day=today - timedelta(days=30), lines=[{"code": "97810", "units": 1}])["id"]
    ids = {"beneficiary_id": bid, "appointment_id": appointment, "session_id": session_id}
    return Target(create_app(settings_, engine), key, ids)


def operation_labels() -> list[str]:
    """`METHOD /path` of every operation in the app's OpenAPI document."""
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    return [f"{method.upper()} {path}" for path, operations in spec["paths"].items() for method in operations]


@pytest.fixture(scope="module")
def api_schema(target: Target):
    return schemathesis.openapi.from_asgi("/openapi.json", target.app)


@pytest.mark.parametrize("label", operation_labels())
def test_no_operation_answers_a_5xx_or_anything_its_schema_does_not_describe(api_schema, target: Target, label: str):
    operation = api_schema.find_operation_by_label(label)
    turns = itertools.count()
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case) -> None:
        if case.path_parameters and next(turns) % 4:
            case.path_parameters = {name: target.ids.get(name, value) for name, value in case.path_parameters.items()}
        case.call_and_validate(headers={"Authorization": f"Bearer {target.key}"}, checks=CHECKS)

    fuzz()
