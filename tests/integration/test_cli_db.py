"""The command line as a user runs it: migrate, create, list and revoke keys, rebuild projections."""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

import pytest

from coverage_tracker.store.api_keys import lookup_api_key
from coverage_tracker.store.db import create_db_engine
from coverage_tracker.store.migrations import head_revision

RunCli = Callable[..., CompletedProcess[str]]


def test_db_upgrade_migrates_an_empty_database_and_db_current_says_head(run_cli: RunCli, empty_db_url: str) -> None:
    before = run_cli("db", "current", db_url=empty_db_url)
    assert before.returncode == 0 and before.stdout.startswith("(none)")
    upgraded = run_cli("db", "upgrade", db_url=empty_db_url)
    assert upgraded.returncode == 0, upgraded.stderr
    after = run_cli("db", "current", db_url=empty_db_url)
    assert after.stdout.strip() == f"{head_revision()} (head)"
    assert run_cli("db", "upgrade", db_url=empty_db_url).returncode == 0


def test_api_key_create_prints_a_working_key_alone_on_its_last_line(run_cli: RunCli, db_url: str) -> None:
    result = run_cli("api-key", "create", "--clinic", "Riverside Clinic", "--role", "clinician", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "new clinic" in result.stdout
    plain_key = result.stdout.splitlines()[-1]
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        resolved = lookup_api_key(conn, plain_key)
    assert resolved is not None and resolved.role == "clinician"

    second = run_cli("api-key", "create", "--clinic", "Riverside Clinic", "--role", "admin", db_url=db_url, module=True)
    assert second.returncode == 0 and "new clinic" not in second.stdout
    with engine.connect() as conn:
        assert lookup_api_key(conn, second.stdout.splitlines()[-1]).clinic_id == resolved.clinic_id

    listing = run_cli("api-key", "list", "--clinic", "Riverside Clinic", db_url=db_url)
    assert listing.returncode == 0
    assert plain_key not in listing.stdout and plain_key.split("_")[2] not in listing.stdout
    assert plain_key.split("_")[1] in listing.stdout and "clinician" in listing.stdout

    revoked = run_cli("api-key", "revoke", str(resolved.key_id), db_url=db_url)
    assert revoked.returncode == 0, revoked.stderr
    with engine.connect() as conn:
        assert lookup_api_key(conn, plain_key) is None
    engine.dispose()


@pytest.mark.parametrize("args, message", [
    (["api-key", "create", "--clinic", "A", "--role", "nurse"], "nurse"),
    (["api-key", "create", "--clinic", "A"], "--role"),
    (["api-key", "revoke", "4242"], "no API key with id 4242"),
    (["api-key", "revoke", "not-a-number"], "integer"),
    (["api-key", "list", "--clinic", "Nowhere"], "no clinic named 'Nowhere'"),
])
def test_bad_arguments_exit_2_with_a_message(run_cli: RunCli, db_url: str, args: list[str], message: str) -> None:
    result = run_cli(*args, db_url=db_url)
    assert result.returncode == 2
    assert message in result.stderr


def test_commands_on_a_database_without_schema_say_to_migrate(run_cli: RunCli, empty_db_url: str) -> None:
    result = run_cli("api-key", "list", db_url=empty_db_url)
    assert result.returncode == 1
    assert "coverage-tracker db upgrade" in result.stderr


def test_projections_rebuild_reports_the_streams(run_cli: RunCli, db_url: str) -> None:
    result = run_cli("projections", "rebuild", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "Rebuilt 0 beneficiary projections" in result.stdout
