"""Run the Alembic migrations (`alembic.ini` and `migrations/` at the repository root)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from coverage_tracker.store.db import normalize_url

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config(url: str | None = None, *, configure_logging: bool = True) -> Config:
    """Alembic's config for `url` (default: `COVERAGE_TRACKER_DATABASE_URL` or its default)."""
    if not ALEMBIC_INI.is_file():
        raise RuntimeError(f"alembic.ini not found at {ALEMBIC_INI}: run from a source checkout")
    config = Config(str(ALEMBIC_INI))
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_url(url).render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["configure_logging"] = configure_logging
    return config


def upgrade(url: str | None = None, revision: str = "head", *, configure_logging: bool = True) -> None:
    """Migrate the database at `url` to `revision`."""
    command.upgrade(alembic_config(url, configure_logging=configure_logging), revision)


def head_revision() -> str | None:
    """The newest revision in `migrations/`."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    """True when the database is migrated to the newest revision."""
    return current_revision(engine) == head_revision()
