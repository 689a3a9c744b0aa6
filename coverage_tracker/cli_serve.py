"""`coverage-tracker serve` and `coverage-tracker demo seed|serve`: the HTTP API on the configured database."""

from __future__ import annotations

import copy
from typing import Annotated

import typer
import uvicorn

from coverage_tracker import demo
from coverage_tracker.services.context import load_policies
from coverage_tracker.cli import app, fail, migrated_engine
from coverage_tracker.config import get_settings
from coverage_tracker.scheduler import start_in_process_scheduler
from coverage_tracker.services.context import local_today
from coverage_tracker.store import migrations
from coverage_tracker.store.db import create_db_engine

APP_FACTORY = "coverage_tracker.api.app:create_app"
demo_app = typer.Typer(no_args_is_help=True, help="A demo clinic to try the API on.")
app.add_typer(demo_app, name="demo")

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")]
Workers = Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each with its own connection pool).")]
NoScheduler = Annotated[bool, typer.Option("--no-scheduler", help="Do not run the daily alerts in this process.")]
AccessLog = Annotated[
    bool, typer.Option("--access-log/--no-access-log", help="Log one line per request (the audit trail records /v1 calls either way).")
]


def log_config() -> dict:
    """uvicorn's logging, with the access log showing paths without their query strings."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"paths_only": {"()": "coverage_tracker.api.log_masking.PathsOnly"}}
    config["handlers"]["access"]["filters"] = ["paths_only"]
    return config


def run_server(host: str, port: int, workers: int, no_scheduler: bool, access_log: bool = True) -> None:
    """Serve the API with uvicorn (one app per worker process); the daily alerts run once, in this process."""
    settings = get_settings()
    stop = None if no_scheduler else start_in_process_scheduler(settings, create_db_engine(settings.database_url))
    try:
        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_config=log_config(), access_log=access_log)
    finally:
        if stop is not None:
            stop()


@app.command()
def serve(
    host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1, no_scheduler: NoScheduler = False, access_log: AccessLog = True
) -> None:
    """Serve the HTTP API on the configured database (COVERAGE_TRACKER_DATABASE_URL), migrated beforehand."""
    engine = migrated_engine()
    if not migrations.is_at_head(engine):
        fail("the database is behind the newest schema: run `coverage-tracker db upgrade`", code=1)
    engine.dispose()
    run_server(host, port, workers, no_scheduler, access_log)


@demo_app.command("seed")
def demo_seed() -> None:
    """Migrate, seed the demo clinic when the database is empty, and print fresh demo keys."""
    prepare_demo()


@demo_app.command("serve")
def demo_serve(host: Host = "127.0.0.1", port: Port = 8000, no_scheduler: NoScheduler = False) -> None:
    """What `make run` does: migrate, seed the demo clinic when the database is empty, print keys and the URL, serve."""
    if prepare_demo():
        typer.echo(f"Serving on http://{host}:{port} (API docs: http://{host}:{port}/docs). Ctrl-C stops.")
    run_server(host, port, 1, no_scheduler)


def prepare_demo() -> bool:
    """Migrate and seed when empty; print the demo keys and patients. False when the database holds other clinics."""
    settings = get_settings()
    migrations.upgrade(settings.database_url, configure_logging=False)
    engine = create_db_engine(settings.database_url)
    try:
        if demo.database_is_empty(engine):
            today = local_today(settings.timezone)
            patients = demo.seed(engine, load_policies(settings), today)
            typer.echo(f"Seeded {demo.CLINIC!r} with {len(patients)} patients, dated relative to {today.isoformat()}.")
        keys = demo.issue_keys(engine)
        if keys is None:
            typer.echo("The database already holds clinics and no demo clinic: not seeding. Create a key with")
            typer.echo("  coverage-tracker api-key create --clinic NAME --role front_desk")
            return False
        _print_demo(keys, demo.demo_patients(engine))
        return True
    finally:
        engine.dispose()


def _print_demo(keys: demo.DemoKeys, patients: list[tuple[demo.Patient, str]]) -> None:
    typer.echo("")
    typer.echo(f"{'patient':<18} {'state':<52} id")
    for patient, beneficiary_id in patients:
        typer.echo(f"{patient.first_name + ' ' + patient.last_name:<18} {patient.state:<52} {beneficiary_id}")
    typer.echo("")
    typer.echo("Demo keys (new on every start; the previous demo keys are revoked):")
    for role, key in keys.keys.items():
        typer.echo(f"  {role:<11} {key}")
    typer.echo("")
