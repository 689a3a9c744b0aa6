"""The HTTP API under test: a TestClient on a migrated database (SQLite and PostgreSQL), keys by role, the contract's operations.

Test modules import the fixtures from here: `api` (a fresh database per test) and `shared_api`
(one database per module, for the large matrices; each test makes its own patients).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from coverage_tracker.api.app import create_app
from coverage_tracker.config import Settings, get_settings
from coverage_tracker.services.context import local_today
from coverage_tracker.store.api_keys import create_api_key
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction

MBI = "1EG4-TE5-MK73"
CLINIC = "Test Clinic"
OTHER_CLINIC = "Other Clinic"
ROLES = ("front_desk", "clinician", "billing", "admin")


_serials = itertools.count(1)


def new_mbi() -> str:
    """A valid MBI not used before in this run."""
    d = f"{next(_serials):06d}"
    return f"9E{d[0]}{d[1]}T{d[2]}{d[3]}MK{d[4]}{d[5]}"


class Api:
    """A client of the app with helpers to make keys and patients."""

    def __init__(self, client: TestClient, engine: Engine, settings: Settings) -> None:
        self.client = client
        self.engine = engine
        self.today = local_today(settings.timezone)
        self._keys: dict[tuple[str, str], str] = {}

    def key(self, role: str = "admin", clinic: str = CLINIC) -> str:
        """A key of `role` in `clinic` (one per role and clinic)."""
        if (role, clinic) not in self._keys:
            with write_transaction(self.engine) as session:
                found, _ = get_or_create_clinic(session, clinic)
                self._keys[role, clinic] = create_api_key(session, found.id, role, "test")[1]
        return self._keys[role, clinic]

    def auth(self, role: str = "admin", clinic: str = CLINIC) -> dict[str, str]:
        """The Authorization header of `key(role, clinic)`."""
        return {"Authorization": f"Bearer {self.key(role, clinic)}"}

    def day(self, offset: int) -> str:
        """Today plus `offset` days, as the API writes dates."""
        return (self.today + timedelta(days=offset)).isoformat()

    def call(self, method: str, path: str, body: Any = None, role: str = "admin", clinic: str = CLINIC, **kwargs: Any):
        """One request with `role`'s key of `clinic`."""
        headers = {**self.auth(role, clinic), **kwargs.pop("headers", {})}
        return self.client.request(method, path, json=body, headers=headers, **kwargs)

    def enrol(self, mbi: str | None = None, last_name: str = "Parkes", clinic: str = CLINIC) -> str:
        """Enrol a patient in `clinic`; its id."""
        body = {"mbi": mbi or new_mbi(), "first_name": "Rita", "last_name": last_name, "birth_date": "1950-05-01"}
        response = self.call("POST", "/v1/beneficiaries", body, clinic=clinic)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def eligible(self, mbi: str | None = None, clinic: str = CLINIC) -> str:
        """An enrolled patient with a qualifying diagnosis: the next sessions are covered."""
        bid = self.enrol(mbi, clinic=clinic)
        body = {"icd10_code": "M54.50", "onset_date": self.day(-400), "recorded_on": self.day(-300)}
        assert self.call("POST", f"/v1/beneficiaries/{bid}/diagnoses", body, clinic=clinic).status_code == 201
        return bid

    def flush_audit(self) -> None:
        """Wait until the audit rows of the requests made so far are written."""
        self.client.app.state.ct.audit.flush()


@pytest.fixture
def api(configured_db_url: str, engine: Engine) -> Iterator[Api]:
    """The app on a fresh migrated database (runs on SQLite and PostgreSQL)."""
    settings = get_settings()
    with TestClient(create_app(settings, engine)) as client:
        yield Api(client, engine, settings)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app on one migrated database for the whole module (SQLite and PostgreSQL)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_databases").create(migrated=True)
    else:
        path = tmp_path_factory.mktemp("shared-api") / "coverage_tracker.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    with TestClient(create_app(settings, engine)) as client:
        yield Api(client, engine, settings)
    engine.dispose()


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, with a body that is valid for a fresh eligible patient."""

    name: str
    method: str
    path: str
    action: str
    body: Any = None
    on_beneficiary: bool = True
    writes: bool = False

    def url(self, beneficiary_id: str, appointment_id: str = "a", session_id: str = "s") -> str:
        return self.path.format(bid=beneficiary_id, aid=appointment_id, sid=session_id)


def operations(today: date) -> dict[str, Operation]:
    """Every /v1 operation of the contract by name, its permission action and a valid body."""
    day = lambda offset: (today + timedelta(days=offset)).isoformat()  # noqa: E731
    b = "/v1/beneficiaries/{bid}"
    ops = [
        Operation("enrol", "POST", "/v1/beneficiaries", "enrol",
                  {"mbi": "2EG4TE5MK73", "first_name": "Al", "last_name": "Bo", "birth_date": "1950-01-01"},
                  on_beneficiary=False, writes=True),
        Operation("search", "POST", "/v1/beneficiaries/search", "search", {"last_name": "Par"}, on_beneficiary=False),
        Operation("read", "GET", b, "read"),
        Operation("payer_change", "POST", b + "/payer-changes", "payer_change",
                  {"payer": "medicare", "effective_date": day(0)}, writes=True),
        Operation("diagnosis", "POST", b + "/diagnoses", "diagnosis",
                  {"icd10_code": "M54.50", "onset_date": day(-500), "recorded_on": day(-1)}, writes=True),
        Operation("book", "POST", b + "/appointments", "book", {"date": day(1)}, writes=True),
        Operation("cancel", "POST", b + "/appointments/{aid}/cancel", "cancel", {"reason": "no_show"}, writes=True),
        Operation("session", "POST", b + "/sessions", "session",
                  {"date": day(0), "lines": [{"code": "97810", "units": 1}]}, writes=True),
        Operation("void", "POST", b + "/sessions/{sid}/void", "void", writes=True),
        Operation("assessment", "POST", b + "/assessments", "assessment", {"date": day(0), "outcome": "improving"}, writes=True),
        Operation("abn", "POST", b + "/abns", "abn", {"signed_on": day(0)}, writes=True),
        Operation("check", "POST", b + "/booking-checks", "check", {"dates": [day(3), day(1)]}),
        Operation("coverage", "GET", b + "/coverage", "check"),
        Operation("events", "GET", b + "/events", "events"),
        Operation("time_units", "POST", "/v1/time-units", "time_units", {"segments": [{"minutes": 20}]}, on_beneficiary=False),
        Operation("audit", "GET", "/v1/audit-events", "audit", on_beneficiary=False),
        Operation("list_keys", "GET", "/v1/api-keys", "api_keys", on_beneficiary=False),
        Operation("create_key", "POST", "/v1/api-keys", "api_keys", {"role": "front_desk"}, on_beneficiary=False, writes=True),
        Operation("revoke_key", "POST", "/v1/api-keys/999999/revoke", "api_keys", on_beneficiary=False, writes=True),
    ]
    return {op.name: op for op in ops}


OPERATION_NAMES = tuple(operations(date(2026, 1, 1)))
BENEFICIARY_OPERATIONS = tuple(name for name, op in operations(date(2026, 1, 1)).items() if op.on_beneficiary)
