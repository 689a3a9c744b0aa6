"""The `coverage-tracker` command line.

Other modules add commands without touching this file: a module `coverage_tracker/cli_<topic>.py`
imports `app` from here and registers on it (`@app.command()` or `app.add_typer(...)`);
`main()` imports every such module before running.
"""

from __future__ import annotations

import importlib
import pkgutil
from enum import Enum
from typing import Annotated, NoReturn

import typer
from sqlalchemy.engine import Engine

import coverage_tracker
from coverage_tracker.store import api_keys, migrations
from coverage_tracker.store.clinics import find_clinic, get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, read_transaction, write_transaction
from coverage_tracker.store.projections import rebuild_projections

app = typer.Typer(
    name="coverage-tracker",
    no_args_is_help=True,
    add_completion=False,
    help="Tells a clinic, before it books, whether the payer will cover an acupuncture visit.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
api_key_app = typer.Typer(no_args_is_help=True, help="API keys: one clinic and one role each.")
projections_app = typer.Typer(no_args_is_help=True, help="Projections derived from the event log.")
app.add_typer(db_app, name="db")
app.add_typer(api_key_app, name="api-key")
app.add_typer(projections_app, name="projections")

Role = Enum("Role", {role: role for role in api_keys.ROLES}, type=str)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` on stderr and exit with `code` (2: bad arguments)."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def migrated_engine() -> Engine:
    """The configured database's engine; exits 1 with a hint when it was never migrated."""
    engine = create_db_engine()
    if migrations.current_revision(engine) is None:
        fail("the database has no schema yet: run `coverage-tracker db upgrade`", code=1)
    return engine


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the configured database (COVERAGE_TRACKER_DATABASE_URL) to the newest schema."""
    migrations.upgrade(revision=revision)
    typer.echo(f"Database at revision {migrations.current_revision(create_db_engine())}.")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is the newest."""
    current = migrations.current_revision(create_db_engine())
    head = migrations.head_revision()
    state = "head" if current == head else f"behind head {head}"
    typer.echo(f"{current or '(none)'} ({state})")


@api_key_app.command("create")
def api_key_create(
    clinic: Annotated[str, typer.Option(help="Clinic name; created when new.")],
    role: Annotated[Role, typer.Option(help="The key's role.")],
    label: Annotated[str | None, typer.Option(help="A note on who uses the key.")] = None,
) -> None:
    """Create a key and print it alone on the last line: it is shown once, only its hash is kept."""
    if not clinic.strip():
        fail("--clinic must not be empty")
    with write_transaction(migrated_engine()) as session:
        found, created = get_or_create_clinic(session, clinic.strip())
        row, plain_key = api_keys.create_api_key(session, found.id, role.value, label)
        clinic_name, key_id = found.name, row.id
    typer.echo(f"Created {role.value} key {key_id} for clinic {clinic_name!r}{' (new clinic)' if created else ''}.")
    typer.echo("Keep it now: it is not shown again.")
    typer.echo(plain_key)


@api_key_app.command("list")
def api_key_list(clinic: Annotated[str | None, typer.Option(help="Only this clinic's keys.")] = None) -> None:
    """List keys (never the keys themselves): id, clinic, role, prefix, label, created, revoked."""
    with read_transaction(migrated_engine()) as session:
        clinic_id = None
        if clinic is not None:
            found = find_clinic(session, clinic)
            if found is None:
                fail(f"no clinic named {clinic!r}")
            clinic_id = found.id
        keys = api_keys.list_api_keys(session, clinic_id)
    typer.echo("id\tclinic\trole\tprefix\tlabel\tcreated\trevoked")
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        created = key.created_at.isoformat(timespec="seconds")
        typer.echo(f"{key.id}\t{key.clinic_name}\t{key.role}\t{key.prefix}\t{key.label or '-'}\t{created}\t{revoked}")


@api_key_app.command("revoke")
def api_key_revoke(key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The key's id (see `api-key list`).")]) -> None:
    """Revoke a key; API processes stop accepting it within a few seconds (their key cache's TTL)."""
    with write_transaction(migrated_engine()) as session:
        found = api_keys.revoke_api_key(session, key_id)
    if not found:
        fail(f"no API key with id {key_id}")
    typer.echo(f"Revoked key {key_id}.")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Recompute every beneficiary projection from the event log."""
    count = rebuild_projections(migrated_engine())
    typer.echo(f"Rebuilt {count} beneficiary projections.")


def load_command_modules() -> None:
    """Import every `coverage_tracker/cli_*.py` module so that it registers its commands."""
    for module in sorted(pkgutil.iter_modules(coverage_tracker.__path__), key=lambda m: m.name):
        if module.name.startswith("cli_"):
            importlib.import_module(f"coverage_tracker.{module.name}")


def main() -> None:
    """Entry point of the `coverage-tracker` console script."""
    load_command_modules()
    app()
