"""The daily scan over a seeded clinic, its stored alerts, the digest at a real SMTP server, the API and the CLI."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import alerts as daily
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx
from coverage_tracker.store import alerts_store, api_keys
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import write_transaction

SCAN = date(2026, 3, 2)
MBIS = {"Parkes": "1EG4TE5AP24", "Okafor": "2FH5UF6NK85", "Nguyen": "3GJ6VG7PR96"}
FAST = {"backoff": (0.01,)}


def ctx_on(engine, clinic_id: int, today: date) -> Ctx:
    return Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=today)


def enrol(ctx: Ctx, last_name: str, first_name: str = "Rita") -> str:
    return beneficiaries.enrol(ctx, mbi=MBIS[last_name], first_name=first_name, last_name=last_name, birth_date=date(1950, 5, 1))["id"]


def diagnose(ctx: Ctx, bid: str) -> None:
    care.record_diagnosis(ctx, bid, icd10_code="M54.50", onset_date=date(2024, 1, 1), recorded_on=date(2024, 6, 3))


def seed(engine, clinic_id: int) -> dict[str, str]:
    """Three patients whose desk must act on 2026-03-02 (the dates of the comments)."""
    earlier, today = ctx_on(engine, clinic_id, date(2026, 2, 20)), ctx_on(engine, clinic_id, SCAN)
    ids = {name: enrol(today, name) for name in MBIS}
    diagnose(today, ids["Parkes"])
    for week in range(11):  # 11 sessions from 2025-12-15
        care.record_session(today, ids["Parkes"], day=date.fromordinal(date(2025, 12, 15).toordinal() + 7 * week), lines=[{"code": "97810", "units": 1}])
    care.book_appointment(earlier, ids["Parkes"], day=date(2026, 2, 27))  # 12th, passed unresolved
    care.book_appointment(today, ids["Parkes"], day=date(2026, 3, 6))  # 13th: needs an assessment
    care.book_appointment(today, ids["Okafor"], day=date(2026, 3, 5))  # no diagnosis
    diagnose(today, ids["Nguyen"])
    care.record_session(today, ids["Nguyen"], day=date(2026, 2, 2), lines=[{"code": "97810", "units": 1}])
    care.record_assessment(today, ids["Nguyen"], day=date(2026, 2, 25), outcome="not_improving")
    care.book_appointment(today, ids["Nguyen"], day=date(2026, 3, 9))  # treatment must stop
    return ids


def set_recipients(engine, clinic_id: int, *emails: str) -> None:
    daily.set_recipients(engine, clinic_id, list(emails))


class Inbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be started late (to play a server that was down)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def raw(self) -> list[bytes]:
        return [e.original_content or e.content for e in self.inbox.envelopes]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def settings(db_url: str, smtp: SmtpServer) -> Settings:
    return Settings(database_url=db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="alerts@clinic.example")


@pytest.fixture
def seeded(engine, clinic_id) -> dict[str, str]:
    return seed(engine, clinic_id)


def stored_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(alerts_store.ALERTS)).scalar_one()


def by_kind(alerts: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in alerts:
        out.setdefault(a["kind"], []).append(a["patient"])
    return out


def test_the_scan_finds_what_the_desk_must_act_on_and_stores_it_once(engine, clinic_id, seeded, settings, smtp):
    sent: list = []
    (first,) = daily.run_daily(engine, settings, SCAN, send=sent.append, **FAST)
    assert by_kind(first.alerts) == {
        "BOOKED_VISIT_NOT_COVERED": ["R. Nguyen (*******PR96)", "R. Okafor (*******NK85)"],
        "DISCONTINUE_TREATMENT": ["R. Nguyen (*******PR96)"],
        "IMPROVEMENT_ASSESSMENT_NEEDED": ["R. Parkes (*******AP24)"],
        "DIAGNOSIS_MISSING_OR_INELIGIBLE": ["R. Okafor (*******NK85)"],
        "APPOINTMENT_UNRESOLVED": ["R. Parkes (*******AP24)"],
        "APPROACHING_INITIAL_LIMIT": ["R. Parkes (*******AP24)"],
    }
    assert [a["severity"] for a in first.alerts] == ["critical"] * 4 + ["warning"] * 3
    assert all(a["new"] for a in first.alerts) and first.digest == "none (no recipients)" and sent == []
    assert stored_count(engine) == 7
    (again,) = daily.run_daily(engine, settings, SCAN, send=sent.append, **FAST)
    assert stored_count(engine) == 7 and not again.scanned_now and again.alerts == first.alerts


def test_an_alert_is_new_only_the_first_day_it_is_stored(engine, clinic_id, seeded, settings):
    daily.run_daily(engine, settings, SCAN, send=lambda m: None)
    care.book_appointment(ctx_on(engine, clinic_id, SCAN), seeded["Okafor"], day=date(2026, 3, 12))
    (next_day,) = daily.run_daily(engine, settings, date(2026, 3, 3), send=lambda m: None)
    new = {(a["kind"], a["subject"]) for a in next_day.alerts if a["new"] and a["patient"].startswith("R. Okafor")}
    assert new == {("BOOKED_VISIT_NOT_COVERED", "appointment on 2026-03-12"), ("DIAGNOSIS_MISSING_OR_INELIGIBLE", "appointment on 2026-03-12")}
    assert sum(a["new"] for a in next_day.alerts) == 2


def test_the_scan_pages_through_the_clinic_a_few_streams_at_a_time(engine, clinic_id, seeded, monkeypatch):
    ctx = ctx_on(engine, clinic_id, SCAN)
    dormant = beneficiaries.enrol(ctx, mbi="4HK7WH8QT07", first_name="Dora", last_name="Dormant", birth_date=date(1940, 1, 1))["id"]
    diagnose(ctx, dormant)
    care.record_session(ctx, dormant, day=date(2025, 2, 28), lines=[{"code": "97810", "units": 1}])  # more than a year ago
    pages: list[int] = []
    load = alerts_store.load_streams
    monkeypatch.setattr(alerts_store, "load_streams", lambda s, c, ids: pages.append(len(ids)) or load(s, c, ids))
    small = daily.scan_clinic(engine, default_book(), clinic_id, SCAN, 14, page_size=2)
    assert pages == [2, 1]  # the dormant patient is not even loaded
    assert small == daily.scan_clinic(engine, default_book(), clinic_id, SCAN, 14)


def test_the_digest_reaches_a_real_smtp_server_with_masked_mbis_only(engine, clinic_id, seeded, settings, smtp):
    smtp.start()
    set_recipients(engine, clinic_id, "desk@clinic.example", "lead@clinic.example")
    (day,) = daily.run_daily(engine, settings, SCAN, **FAST)
    assert day.digest == "sent"
    (envelope,) = smtp.inbox.envelopes
    assert envelope.rcpt_tos == ["desk@clinic.example", "lead@clinic.example"]
    raw = smtp.raw[0]
    for mbi in MBIS.values():
        assert mbi.encode() not in raw and mbi[-4:].encode() in raw
        assert mbi.lower().encode() not in raw.lower()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Acupuncture coverage alerts - Test Clinic - 2026-03-02 (7 new)"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "7 alerts (7 new): 4 critical, 3 warning." in text
    assert text.index("Critical") < text.index("Warning") and "[NEW] Booked visit not covered - R. Okafor (*******NK85)" in text
    assert "R. Parkes (*******AP24)" in html and "<table" in html
    assert all(mbi not in text + html for mbi in MBIS.values())
    daily.run_daily(engine, settings, SCAN, **FAST)
    assert len(smtp.inbox.envelopes) == 1


def test_smtp_down_then_up_delivers_the_digest_once_at_the_next_attempt(engine, clinic_id, seeded, settings, smtp):
    set_recipients(engine, clinic_id, "desk@clinic.example")
    (down,) = daily.run_daily(engine, settings, SCAN, **FAST)
    assert down.digest == "unsent" and "Connection" in (down.error or "")
    assert daily.unsent(engine, SCAN, [clinic_id]) == 1
    smtp.start()
    (up,) = daily.run_daily(engine, settings, SCAN, **FAST)
    assert up.digest == "sent" and daily.unsent(engine, SCAN, [clinic_id]) == 0
    (later,) = daily.run_daily(engine, settings, SCAN, **FAST)
    assert later.digest == "sent earlier"
    assert len(smtp.inbox.envelopes) == 1
    with engine.connect() as conn:
        attempts = conn.execute(sa.select(alerts_store.OUTBOX.c.attempts)).scalar_one()
    assert attempts == 3  # two failed (one retry after backoff), then sent


def test_a_quiet_day_still_sends_a_digest_that_says_so_and_a_clinic_without_recipients_gets_none(engine, clinic_id, settings, smtp):
    smtp.start()
    with write_transaction(engine) as session:
        other_id = get_or_create_clinic(session, "Quiet Clinic")[0].id
    set_recipients(engine, other_id, "quiet@clinic.example")
    days = daily.run_daily(engine, settings, SCAN, **FAST)
    assert [(d.clinic, d.digest) for d in days] == [("Test Clinic", "none (no recipients)"), ("Quiet Clinic", "sent")]
    (message,) = [email.message_from_bytes(raw, policy=policy.default) for raw in smtp.raw]
    assert message["Subject"] == "Acupuncture coverage alerts - Quiet Clinic - 2026-03-02 (0 new)"
    assert "Nothing to act on today" in message.get_body(("plain",)).get_content()


def test_two_processes_running_the_same_day_send_one_digest(engine, clinic_id, seeded, settings, smtp):
    smtp.start()
    set_recipients(engine, clinic_id, "desk@clinic.example")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            daily.run_daily(engine, settings, SCAN, claim_fleet=True, **FAST)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(smtp.inbox.envelopes) == 1 and stored_count(engine) == 7


def key_for(engine, clinic_id: int, role: str) -> dict[str, str]:
    with write_transaction(engine) as session:
        _, plain = api_keys.create_api_key(session, clinic_id, role)
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def client(engine, settings) -> Iterator[TestClient]:
    from coverage_tracker.api.app import create_app

    with TestClient(create_app(settings, engine)) as c:
        yield c


def test_every_role_reads_the_days_alerts_computed_before_the_scan_and_stored_after(engine, clinic_id, seeded, settings, client):
    desk = key_for(engine, clinic_id, "front_desk")
    live = client.get("/v1/alerts", params={"date": "2026-03-02"}, headers=desk)
    assert live.status_code == 200, live.text
    body = live.json()
    assert body["date"] == "2026-03-02" and body["stored"] is False and len(body["alerts"]) == 7
    assert set(body["alerts"][0]) >= {"kind", "severity", "beneficiary_id", "patient", "subject", "message", "new"}
    daily.run_daily(engine, settings, SCAN, send=lambda m: None)
    stored = client.get("/v1/alerts", params={"date": "2026-03-02"}, headers=desk).json()
    assert stored["stored"] is True and stored["alerts"] == body["alerts"]
    assert "1EG4TE5AP24" not in live.text


@pytest.mark.parametrize("bad", ["2026-02-30", "03/02/2026", "20260302", "1700000000", "1999-12-31"])
def test_a_bad_date_is_a_422_naming_the_field(engine, clinic_id, client, bad):
    response = client.get("/v1/alerts", params={"date": bad}, headers=key_for(engine, clinic_id, "billing"))
    assert response.status_code == 422 and "date" in str(response.json()["detail"])


def test_only_an_admin_sets_the_recipients_and_bad_addresses_are_refused(engine, clinic_id, client):
    body = {"recipients": ["Desk@Clinic.Example", "desk@clinic.example", "lead@clinic.example"]}
    assert client.put("/v1/clinic/recipients", json=body, headers=key_for(engine, clinic_id, "front_desk")).status_code == 403
    admin = key_for(engine, clinic_id, "admin")
    response = client.put("/v1/clinic/recipients", json=body, headers=admin)
    assert response.status_code == 200 and response.json() == {"recipients": ["Desk@clinic.example", "lead@clinic.example"]}
    refused = client.put("/v1/clinic/recipients", json={"recipients": ["desk@clinic.example", "not an address"]}, headers=admin)
    assert refused.status_code == 422 and "recipients[1]" in refused.json()["detail"]
    assert client.put("/v1/clinic/recipients", content=b"{not json", headers={**admin, "Content-Type": "application/json"}).status_code == 422
    assert client.put("/v1/clinic/recipients", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 401
    assert client.get("/v1/alerts").status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_cli_sets_recipients_prints_a_dry_run_and_exits_1_while_a_digest_is_unsent(engine, db_url, clinic_id, seeded, run_cli):
    result = run_cli("clinic", "set-recipients", "--clinic", "Test Clinic", "desk@clinic.example", db_url=db_url)
    assert result.returncode == 0, result.stderr
    dry = run_cli("alerts", "run", "--date", "2026-03-02", "--dry-run", db_url=db_url)
    assert dry.returncode == 0, dry.stderr
    assert "Subject: Acupuncture coverage alerts - Test Clinic - 2026-03-02 (7 new)" in dry.stdout
    assert "R. Okafor (*******NK85)" in dry.stdout and "2FH5UF6NK85" not in dry.stdout
    assert stored_count(engine) == 0
    unsent = run_cli("alerts", "run", "--date", "2026-03-02", db_url=db_url)  # no SMTP host configured
    assert unsent.returncode == 1 and "digest unsent: SMTP is not configured" in unsent.stdout
    assert run_cli("alerts", "run", "--date", "2026-13-01", db_url=db_url).returncode == 2


def test_the_in_process_scheduler_catches_up_the_day_at_start_up_and_stops(engine, clinic_id, seeded, settings, smtp):
    from coverage_tracker.scheduler import start_in_process_scheduler

    smtp.start()
    set_recipients(engine, clinic_id, "desk@clinic.example")
    stop = start_in_process_scheduler(settings.model_copy(update={"alert_time": "00:00"}), engine)
    try:
        deadline = time.monotonic() + 30
        while not smtp.inbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop()
    assert len(smtp.inbox.envelopes) == 1


def test_a_clinic_whose_scan_fails_does_not_hold_back_the_others_and_is_retried(engine, clinic_id, seeded, settings, smtp, monkeypatch):
    smtp.start()
    with write_transaction(engine) as session:
        other_id = get_or_create_clinic(session, "Quiet Clinic")[0].id
    set_recipients(engine, clinic_id, "desk@clinic.example")
    set_recipients(engine, other_id, "quiet@clinic.example")
    scan = daily.scan_clinic

    def broken(engine, policies, cid, *args):
        if cid == clinic_id:
            raise ValueError("bad payload for 1EG4TE5AP24")
        return scan(engine, policies, cid, *args)

    monkeypatch.setattr(daily, "scan_clinic", broken)
    failed, quiet = daily.run_daily(engine, settings, SCAN, claim_fleet=True, **FAST)
    assert failed.scan_failed and "*******AP24" in failed.scan_error and "1EG4TE5AP24" not in failed.scan_error
    assert quiet.digest == "sent" and len(smtp.inbox.envelopes) == 1
    monkeypatch.setattr(daily, "scan_clinic", scan)
    retried, quiet = daily.run_daily(engine, settings, SCAN, claim_fleet=True, **FAST)
    assert retried.digest == "sent" and quiet.digest == "sent earlier" and len(smtp.inbox.envelopes) == 2
