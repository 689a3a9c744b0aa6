"""Database fixtures: every test that asks for `db_url` or `engine` runs on SQLite and on PostgreSQL.

Each test gets its own fresh database, migrated with Alembic: on SQLite a copy of a file migrated
once per run, on PostgreSQL `CREATE DATABASE ... TEMPLATE` of a database migrated once per run.
This run's PostgreSQL databases are named `ct_test_<random>_*` and dropped at the end.
PostgreSQL runs when COVERAGE_TRACKER_TEST_POSTGRES_URL is set; otherwise its tests are skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from coverage_tracker.config import get_settings
from coverage_tracker.store.db import create_db_engine, get_engine, normalize_url, write_transaction
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.migrations import upgrade

POSTGRES_ENV = "COVERAGE_TRACKER_TEST_POSTGRES_URL"
REPO_ROOT = Path(__file__).resolve().parents[2]


def render(url: URL) -> str:
    """A URL as a string that still carries its password."""
    return url.render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates this run's PostgreSQL databases (empty or migrated) and drops them all at the end."""

    def __init__(self, server_url: URL) -> None:
        self.server_url = server_url
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.run = f"ct_test_{secrets.token_hex(4)}"
        self.names: list[str] = []
        self._template: str | None = None

    def _create(self, template: str | None) -> str:
        name = f"{self.run}_{len(self.names)}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}{clause}")
        self.names.append(name)
        return name

    def create(self, *, migrated: bool) -> str:
        """A new database's URL: empty, or at the head revision."""
        if migrated and self._template is None:
            self._template = self._create(None)
            upgrade(render(self.server_url.set(database=self._template)), configure_logging=False)
        return render(self.server_url.set(database=self._create(self._template if migrated else None)))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.names):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """This run's PostgreSQL databases; skips when COVERAGE_TRACKER_TEST_POSTGRES_URL is not set."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    databases = PostgresDatabases(normalize_url(url))
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}", configure_logging=False)
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind under test: `sqlite` or `postgresql`."""
    return request.param


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL to a new database without any schema."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_databases").create(migrated=False)
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL to a new database migrated to the head revision, used by this test only."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_databases").create(migrated=True)
    path = tmp_path / "coverage_tracker.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url`, disposed after the test."""
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def configured_db_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`db_url`, also set as COVERAGE_TRACKER_DATABASE_URL for code that reads the settings."""
    monkeypatch.setenv("COVERAGE_TRACKER_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield db_url
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def clinic_id(engine: Engine) -> int:
    """The id of a clinic named "Test Clinic"."""
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, "Test Clinic")
        return clinic.id


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `coverage-tracker ARGS...` as a subprocess in `tmp_path`, on the database URL given."""

    def run(*args: str, db_url: str, module: bool = False) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "coverage_tracker"] if module else [str(Path(sys.executable).with_name("coverage-tracker"))]
        env = {**os.environ, "COVERAGE_TRACKER_DATABASE_URL": db_url}
        return subprocess.run([*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    return run
