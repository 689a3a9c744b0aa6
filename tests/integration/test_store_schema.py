"""The schema is built by the migrations, matches the models, and holds the event log append-only."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine, make_url

from coverage_tracker.domain.events import BeneficiaryEnrolled
from coverage_tracker.store import event_store
from coverage_tracker.store.beneficiaries import add_beneficiary
from coverage_tracker.store.db import create_db_engine, normalize_url, write_transaction
from coverage_tracker.store.migrations import alembic_config, current_revision, head_revision, is_at_head, upgrade
from coverage_tracker.store.tables import metadata

TABLES = {
    "clinics", "beneficiaries", "events", "beneficiary_projection", "api_keys",
    "audit_events", "job_runs", "alerts", "outbox",
}


def test_migrations_build_every_table_on_an_empty_database(empty_db_url: str) -> None:
    engine = create_db_engine(empty_db_url)
    assert current_revision(engine) is None
    upgrade(empty_db_url, configure_logging=False)
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    assert is_at_head(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_autogenerate_finds_no_difference_between_models_and_migrations(db_url: str) -> None:
    command.check(alembic_config(db_url, configure_logging=False))


def test_downgrade_to_nothing_and_upgrade_again(db_url: str) -> None:
    config = alembic_config(db_url, configure_logging=False)
    command.downgrade(config, "base")
    engine = create_db_engine(db_url)
    assert not TABLES & set(sa.inspect(engine).get_table_names())
    command.upgrade(config, "head")
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_constraints_follow_the_naming_convention(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    uniques = {c["name"] for c in inspector.get_unique_constraints("events")}
    assert {"uq_events_beneficiary_id_version", "uq_events_clinic_id_idempotency_key"} <= uniques
    assert metadata.naming_convention["uq"] == "uq_%(table_name)s_%(column_0_N_name)s"


def test_the_database_refuses_to_update_or_delete_an_event(engine: Engine, clinic_id: int) -> None:
    event = BeneficiaryEnrolled("1EG4TE5MK73", "Ada", "Lovelace", date(1950, 1, 2), "medicare", date(2024, 1, 2))
    with write_transaction(engine) as session:
        add_beneficiary(session, clinic_id, beneficiary_id="b1", mbi=event.mbi, first_name="Ada",
                        last_name="Lovelace", birth_date=event.birth_date, payer="medicare")
        event_store.append(session, clinic_id, "b1", 0, [event], recorded_by=None)
    for statement in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        assert event_store.load_stream(conn, clinic_id, "b1") == ([event], 1)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_write_transactions_take_the_write_lock_at_begin(engine: Engine) -> None:
    other = sqlite3.connect(make_url(str(engine.url)).database, timeout=0, isolation_level=None)
    with write_transaction(engine):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO api_keys (clinic_id, role, prefix, key_hash, created_at)"
                             " VALUES (999, 'admin', 'p', 'h', CURRENT_TIMESTAMP)"))


def test_a_postgresql_url_without_a_driver_uses_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
