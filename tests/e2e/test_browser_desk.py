"""The front desk in a real browser: Debian's chromium driven by Playwright against a served app on SQLite.

Screenshots (1366x768) go to a temporary folder; set COVERAGE_TRACKER_SCREENSHOTS=1 to refresh
docs/screenshots/ instead.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import uvicorn

from coverage_tracker.api.app import create_app
from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.store.api_keys import create_api_key
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import create_db_engine, write_transaction
from coverage_tracker.store.migrations import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 768}
REPO_ROOT = Path(__file__).resolve().parents[2]
MBI = "1EG4-TE5-MK73"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"),
]


@dataclass
class Served:
    """A running app: its address, a clinician key of the patient's clinic, a key of another clinic, the patient."""

    url: str
    clinician_key: str
    other_clinic_key: str
    beneficiary_id: str
    today: date


def _key(engine, clinic_name: str, role: str) -> tuple[int, str]:
    with write_transaction(engine) as session:
        clinic, _ = get_or_create_clinic(session, clinic_name)
        return clinic.id, create_api_key(session, clinic.id, role, "browser test")[1]


def _patients_with_alerts(ctx: Ctx) -> None:
    """Two more patients, so that today's alerts have something to say."""
    today = ctx.today
    nearly = beneficiaries.enrol(ctx, mbi="2EG4TE5MK74", first_name="Tomas", last_name="Okafor", birth_date=date(1948, 9, 14))["id"]
    care.record_diagnosis(ctx, nearly, icd10_code="M54.59", onset_date=today - timedelta(days=300), recorded_on=today - timedelta(days=90))
    for week in range(11):
        care.record_session(ctx, nearly, day=today - timedelta(days=84 - 7 * week), segments=[{"minutes": 25}])
    for days_ahead in (1, 4):
        care.book_appointment(ctx, nearly, day=today + timedelta(days=days_ahead))
    stopped = beneficiaries.enrol(ctx, mbi="3EG4TE5MK75", first_name="Lena", last_name="Marsh", birth_date=date(1955, 1, 30))["id"]
    care.record_diagnosis(ctx, stopped, icd10_code="M54.50", onset_date=today - timedelta(days=400), recorded_on=today - timedelta(days=40))
    for days_ago in (35, 28, 21):
        care.record_session(ctx, stopped, day=today - timedelta(days=days_ago), segments=[{"minutes": 30}])
    care.record_assessment(ctx, stopped, day=today - timedelta(days=2), outcome="not_improving")
    care.book_appointment(ctx, stopped, day=today + timedelta(days=2))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app served by uvicorn on a free 127.0.0.1 port over a migrated SQLite file, with one eligible patient."""
    url = f"sqlite:///{tmp_path_factory.mktemp('desk') / 'desk.db'}"
    upgrade(url, configure_logging=False)
    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    clinic_id, clinician_key = _key(engine, "Riverside Acupuncture", "clinician")
    _, other_key = _key(engine, "Other Clinic", "front_desk")
    today = local_today(settings.timezone)
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=clinic_id, role="admin"), today=today)
    patient = beneficiaries.enrol(ctx, mbi=MBI, first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))
    care.record_diagnosis(
        ctx, patient["id"], icd10_code="M54.50", onset_date=today - timedelta(days=200), recorded_on=today - timedelta(days=3)
    )
    _patients_with_alerts(ctx)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", clinician_key, other_key, patient["id"], today)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/screenshots/ when COVERAGE_TRACKER_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("COVERAGE_TRACKER_SCREENSHOTS") == "1":
        folder = REPO_ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")


def signed_in_page(browser, served: Served, key: str):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{served.url}/desk")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/desk")
    return page


def tab(page, name: str):
    """A tab of the patient pages."""
    return page.get_by_role("navigation", name="Patient").get_by_role("link", name=name, exact=True)


def test_a_clinician_plans_books_assesses_and_records_a_session(browser, served: Served, shots: Path):
    page = browser.new_context(viewport=VIEWPORT).new_page()

    page.goto(f"{served.url}/desk")
    assert page.url.endswith("/desk/sign-in")
    page.keyboard.type(served.clinician_key)
    page.screenshot(path=shots / "sign-in.png")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{served.url}/desk")

    page.get_by_label("Medicare Beneficiary Identifier").fill(MBI.lower())
    page.get_by_role("button", name="Find by MBI").click()
    page.get_by_role("link", name="Parkes, Rita").click()
    page.wait_for_url(f"**/desk/patients/{served.beneficiary_id}")
    assert "*******MK73" in page.content() and "1EG4TE5MK73" not in page.content()

    tab(page, "Plan visits").click()
    page.get_by_label("First day").fill(served.today.isoformat())
    for weekday in (served.today.weekday(), (served.today.weekday() + 3) % 7):
        page.locator(f"input[name=days][value='{weekday}']").check()
    page.get_by_label("Weeks").fill("7")
    page.get_by_role("button", name="Show the dates").click()
    strip = page.locator("ol.strip > li")
    assert strip.count() == 14
    assert strip.locator(".badge-covered").count() == 12
    assert strip.locator(".badge-needs").count() == 2
    assert "Needs assessment" in strip.nth(13).inner_text()
    page.screenshot(path=shots / "planner.png")
    assert served.beneficiary_id in page.url and "MK73" not in page.url

    page.get_by_role("button", name="Book the 14 chosen dates").click()
    page.wait_for_url(f"**/desk/patients/{served.beneficiary_id}#appointments")
    assert "Booked 14 dates: 12 covered, 2 need an assessment." in page.get_by_role("status").first.inner_text()
    appointments = page.locator("#appointments tbody tr")
    assert appointments.count() == 14
    assert appointments.locator(".badge-needs").count() == 2

    tab(page, "Assessment").click()
    page.get_by_label("Improving", exact=True).check()
    page.get_by_role("button", name="Record the assessment").click()
    page.wait_for_url(f"**/desk/patients/{served.beneficiary_id}")
    assert appointments.locator(".badge-covered").count() == 14
    assert appointments.locator(".badge-needs").count() == 0
    assert "14 of 20 this period" in page.content()

    tab(page, "Session").click()
    page.get_by_label("Contact minutes of set 1").fill("20")
    page.get_by_label("Contact minutes of set 2").fill("15")
    page.get_by_label("Set 2 used electrical stimulation").check()
    page.get_by_role("button", name="Show the billing lines").click()
    lines = page.locator(".coded").inner_text()
    assert "97810 × 1" in lines and "97814 × 1" in lines
    page.get_by_role("button", name="Save the session").click()
    page.wait_for_url(f"**/desk/patients/{served.beneficiary_id}")
    assert "97810 x1, 97814 x1" in page.get_by_role("status").first.inner_text()
    assert appointments.count() == 13
    page.screenshot(path=shots / "coverage-card.png")

    page.get_by_role("link", name="Today's alerts").click()
    alerts = page.locator("ul.alerts").inner_text()
    assert "L. Marsh (*******MK75)" in alerts and "T. Okafor (*******MK74)" in alerts
    page.screenshot(path=shots / "alerts.png")
    page.get_by_role("link", name="L. Marsh (*******MK75)").first.click()
    assert page.locator("#visit-title").is_visible()


def test_a_form_posted_without_its_csrf_token_is_refused(browser, served: Served):
    page = signed_in_page(browser, served, served.clinician_key)
    page.goto(f"{served.url}/desk/patients/{served.beneficiary_id}/assessment")
    page.locator("form.stack input[name=csrf_token]").evaluate("input => input.remove()")
    page.get_by_label("Not improving").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Record the assessment").click()
    assert answer.value.status == 403
    assert "Form refused" in page.locator("h1").inner_text()
    page.goto(f"{served.url}/desk/patients/{served.beneficiary_id}")
    assert "Not improving" not in page.content()


def test_a_key_of_another_clinic_cannot_open_the_patient(browser, served: Served):
    page = signed_in_page(browser, served, served.other_clinic_key)
    answer = page.goto(f"{served.url}/desk/patients/{served.beneficiary_id}")
    assert answer.status == 404
    assert "Parkes" not in page.content() and "MK73" not in page.content()
    page.goto(f"{served.url}/desk")
    page.get_by_label("Medicare Beneficiary Identifier").fill(MBI)
    page.get_by_role("button", name="Find by MBI").click()
    assert "0 patients found" in page.locator("#results-title").inner_text()
