"""The front-desk pages through the app (no browser): session, CSRF, clinics, roles, PHI, and each form."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from coverage_tracker.api.app import create_app
from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import default_book
from coverage_tracker.services import beneficiaries, care
from coverage_tracker.services.context import Actor, Ctx, local_today
from coverage_tracker.store.api_keys import create_api_key, revoke_api_key
from coverage_tracker.store.audit import query_audit
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import read_transaction, write_transaction

MBI = "1EG4-TE5-MK73"
TODAY = local_today("America/New_York")
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class Desk:
    """A browser stand-in: keeps cookies, reads the CSRF token of the last page, posts forms with it."""

    def __init__(self, app) -> None:
        self.client = TestClient(app, follow_redirects=True)
        self.page = ""

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        self.page = response.text
        return response

    def post(self, url: str, data: dict | None = None, *, token: bool = True, **kwargs):
        form = dict(data or {})
        if token:
            form["csrf_token"] = CSRF.search(self.page).group(1)
        response = self.client.post(url, data=form, **kwargs)
        self.page = response.text
        return response

    def sign_in(self, key: str):
        self.get("/desk/sign-in")
        return self.post("/desk/sign-in", {"api_key": key})


def make_key(engine, clinic: str, role: str) -> tuple[int, str, int]:
    with write_transaction(engine) as session:
        found, _ = get_or_create_clinic(session, clinic)
        row, plain = create_api_key(session, found.id, role)
        return found.id, plain, row.id


@pytest.fixture
def app(engine, db_url):
    return create_app(Settings(database_url=db_url), engine)


@pytest.fixture
def keys(engine) -> dict[str, tuple[int, str, int]]:
    return {
        "clinician": make_key(engine, "Test Clinic", "clinician"),
        "front_desk": make_key(engine, "Test Clinic", "front_desk"),
        "other": make_key(engine, "Other Clinic", "admin"),
    }


@pytest.fixture
def patient(engine, keys) -> str:
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=keys["clinician"][0], role="admin"), today=TODAY)
    bid = beneficiaries.enrol(ctx, mbi=MBI, first_name="Rita", last_name="Parkes", birth_date=date(1950, 5, 1))["id"]
    care.record_diagnosis(ctx, bid, icd10_code="M54.50", onset_date=TODAY - timedelta(days=200), recorded_on=TODAY - timedelta(days=1))
    return bid


@pytest.fixture
def desk(app, keys) -> Desk:
    """Signed in with the clinician key of Test Clinic."""
    signed = Desk(app)
    assert signed.sign_in(keys["clinician"][1]).url.path == "/desk"
    return signed


def plan_query(weeks: int = 7) -> str:
    days = "&".join(f"days={d}" for d in (TODAY.weekday(), (TODAY.weekday() + 3) % 7))
    return f"start={TODAY.isoformat()}&weeks={weeks}&{days}"


def test_pages_need_a_session_and_a_wrong_key_is_refused(app, keys):
    visitor = Desk(app)
    assert visitor.get("/desk").url.path == "/desk/sign-in"
    refused = visitor.post("/desk/sign-in", {"api_key": "ct_nope_nope"})
    assert refused.status_code == 401 and "unknown or has been revoked" in refused.text


def test_the_session_cookie_is_httponly_strict_and_never_holds_the_key(app, keys):
    visitor = Desk(app)
    visitor.get("/desk/sign-in")
    response = visitor.client.post(
        "/desk/sign-in", data={"api_key": keys["clinician"][1], "csrf_token": CSRF.search(visitor.page).group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/desk" in header
    value = visitor.client.cookies["ct_desk"]
    payload = value.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert keys["clinician"][1] not in value and keys["clinician"][1] not in decoded
    assert keys["clinician"][1].split("_")[1] not in decoded


def test_a_tampered_cookie_signs_out_and_sign_out_ends_the_session(app, desk: Desk):
    cookie = desk.client.cookies["ct_desk"]
    body, signature = cookie.split(".")
    tampered = TestClient(app, cookies={"ct_desk": f"{body}.{signature[:-2]}AA"})
    assert tampered.get("/desk").url.path == "/desk/sign-in"
    desk.get("/desk")
    desk.post("/desk/sign-out")
    replay = TestClient(app, cookies={"ct_desk": cookie})
    assert replay.get("/desk").url.path == "/desk/sign-in"


def test_a_revoked_key_ends_its_sessions(app, engine, desk: Desk, keys):
    with write_transaction(engine) as session:
        revoke_api_key(session, keys["clinician"][2])
    app.state.desk_sessions._keys.clear()
    app.state.ct.resolver.forget_all()
    assert desk.get("/desk").url.path == "/desk/sign-in"


def test_a_form_without_its_token_or_from_another_origin_is_refused(app, desk: Desk, patient: str):
    desk.get(f"/desk/patients/{patient}/assessment")
    form = {"date": TODAY.isoformat(), "outcome": "improving"}
    missing = desk.post(f"/desk/patients/{patient}/assessment", form, token=False)
    assert missing.status_code == 403 and "Form refused" in missing.text
    desk.get(f"/desk/patients/{patient}/assessment")
    wrong = desk.post(f"/desk/patients/{patient}/assessment", {**form, "csrf_token": "x" * 43}, token=False)
    assert wrong.status_code == 403
    desk.get(f"/desk/patients/{patient}/assessment")
    elsewhere = desk.post(f"/desk/patients/{patient}/assessment", form, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    another_session = Desk(app)
    another_session.get("/desk/sign-in")
    stolen = CSRF.search(another_session.page).group(1)
    assert desk.post(f"/desk/patients/{patient}/assessment", {**form, "csrf_token": stolen}, token=False).status_code == 403
    assert "Improving" not in desk.get(f"/desk/patients/{patient}").text


def test_find_by_mbi_posts_it_and_shows_it_masked(desk: Desk, patient: str):
    desk.get("/desk")
    found = desk.post("/desk/find", {"mbi": "1eg4-te5-mk73"})
    assert found.status_code == 200 and f"/desk/patients/{patient}" in found.text
    assert "*******MK73" in found.text and "1EG4TE5MK73" not in found.text and "MK73" not in str(found.url)
    card = desk.get(f"/desk/patients/{patient}")
    assert "*******MK73" in card.text and "1EG4TE5MK73" not in card.text
    by_name = desk.post("/desk/find", {"last_name": "par"})
    assert "Parkes, Rita" in by_name.text
    bad = desk.post("/desk/find", {"mbi": "1SG4TE5MK73"})
    assert bad.status_code == 422 and "position 2" in bad.text


def test_enrol_names_what_is_wrong_and_refuses_an_mbi_twice(desk: Desk, patient: str):
    desk.get("/desk/enrol")
    form = {"mbi": "1EG4TE5MK7", "first_name": "Tom", "last_name": "Okafor", "birth_date": "1951-02-03", "payer": "medicare"}
    invalid = desk.post("/desk/enrol", form)
    assert invalid.status_code == 422 and "must be 11 characters, got 10" in invalid.text
    twice = desk.post("/desk/enrol", {**form, "mbi": MBI})
    assert twice.status_code == 409 and "already enrolled" in twice.text
    created = desk.post("/desk/enrol", {**form, "mbi": "2EG4TE5MK73"})
    assert created.url.path.startswith("/desk/patients/") and "Enrolled Tom Okafor." in created.text


def test_another_clinics_key_gets_404_for_every_page_of_the_patient(app, keys, patient: str):
    other = Desk(app)
    other.sign_in(keys["other"][1])
    for page in ("", "/plan", "/diagnosis", "/assessment", "/session", f"/plan?{plan_query()}"):
        response = other.get(f"/desk/patients/{patient}{page}")
        assert response.status_code == 404, page
        assert "Parkes" not in response.text
    other.get("/desk")
    booked = other.post(f"/desk/patients/{patient}/appointments", {"dates": [TODAY.isoformat()], "plan_token": "abc"})
    assert booked.status_code == 404
    assert "0 patients found" in other.post("/desk/find", {"mbi": MBI}).text


def test_the_planner_judges_14_dates_and_books_them_once_however_often_sent(desk: Desk, patient: str):
    strip = desk.get(f"/desk/patients/{patient}/plan?{plan_query()}")
    assert "14 dates: 12 covered, 2 need an assessment" in strip.text
    assert strip.text.count('name="dates"') == 14
    dates = re.findall(r'name="dates" value="([0-9-]+)"', strip.text)
    token = re.search(r'name="plan_token" value="([0-9a-f]+)"', strip.text).group(1)
    form = {"dates": dates, "plan_token": token, "plan_query": plan_query()}
    booked = desk.post(f"/desk/patients/{patient}/appointments", form)
    assert "Booked 14 dates: 12 covered, 2 need an assessment." in booked.text
    desk.get(f"/desk/patients/{patient}/plan?{plan_query()}")
    desk.post(f"/desk/patients/{patient}/appointments", form)
    card = desk.get(f"/desk/patients/{patient}")
    assert "Booked appointments (14)" in card.text and card.text.count("badge-needs") == 2
    assert "12 of 12 in this course" in card.text and "12 of 20 this period" in card.text
    again = desk.get(f"/desk/patients/{patient}/plan?{plan_query()}")
    assert again.text.count("Cannot book: already taken") == 14


def test_a_bad_plan_names_the_field(desk: Desk, patient: str):
    no_days = desk.get(f"/desk/patients/{patient}/plan?start={TODAY.isoformat()}&weeks=4")
    assert no_days.status_code == 422 and "choose at least one weekday" in no_days.text
    too_long = desk.get(f"/desk/patients/{patient}/plan?{plan_query(weeks=27)}")
    assert too_long.status_code == 422 and "Number of weeks must be from 1 to 26" in too_long.text
    far_away = desk.get(f"/desk/patients/{patient}/plan?start=9999-12-31&days=0&weeks=1")
    assert far_away.status_code == 422 and "more than two years ahead" in far_away.text


def test_cancel_frees_the_place_and_a_no_show_is_offered_from_the_day_itself(desk: Desk, patient: str, engine, keys):
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=keys["clinician"][0], role="admin"), today=TODAY)
    first = care.book_appointment(ctx, patient, day=TODAY)["id"]
    later = care.book_appointment(ctx, patient, day=TODAY + timedelta(days=3))["id"]
    card = desk.get(f"/desk/patients/{patient}")
    assert card.text.count('value="no_show"') == 1
    marked = desk.post(f"/desk/patients/{patient}/appointments/{first}/cancel", {"reason": "no_show"})
    assert "marked as a no-show" in marked.text
    cancelled = desk.post(f"/desk/patients/{patient}/appointments/{later}/cancel", {"reason": "cancelled"})
    assert "cancelled" in cancelled.text and "Booked appointments (0)" in cancelled.text
    twice = desk.post(f"/desk/patients/{patient}/appointments/{later}/cancel", {"reason": "cancelled"})
    assert "Not changed: the appointment on" in twice.text


def test_an_improving_assessment_turns_the_extension_dates_covered(desk: Desk, patient: str):
    desk.get(f"/desk/patients/{patient}/assessment")
    done = desk.post(f"/desk/patients/{patient}/assessment", {"date": TODAY.isoformat(), "outcome": "improving"})
    assert "recorded: improving" in done.text and "Improving" in done.text
    assert "14 dates: 14 covered" in desk.get(f"/desk/patients/{patient}/plan?{plan_query()}").text
    desk.get(f"/desk/patients/{patient}/assessment")
    future = desk.post(f"/desk/patients/{patient}/assessment", {"date": (TODAY + timedelta(days=1)).isoformat(), "outcome": "improving"})
    assert future.status_code == 422 and "cannot be dated after today" in future.text


def test_a_diagnosis_with_pain_under_12_weeks_shows_on_the_card(desk: Desk, patient: str):
    desk.get(f"/desk/patients/{patient}/diagnosis")
    form = {"icd10_code": "m54.50", "onset_date": (TODAY - timedelta(days=30)).isoformat(), "recorded_on": TODAY.isoformat()}
    card = desk.post(f"/desk/patients/{patient}/diagnosis", form)
    assert "Diagnosis M54.50 recorded." in card.text and "4 weeks (30 days)" in card.text
    assert "Not covered" in card.text and "12 weeks" in card.text


def test_a_session_from_minutes_shows_its_lines_before_it_is_saved(desk: Desk, patient: str):
    desk.get(f"/desk/patients/{patient}/session")
    form = {"date": TODAY.isoformat(), "minutes": ["20", "15", "", ""], "estim": ["1"]}
    preview = desk.post(f"/desk/patients/{patient}/session", {**form, "step": "preview"})
    assert "97810 &times; 1" in preview.text and "97814 &times; 1" in preview.text and "Save the session" in preview.text
    assert "Recent sessions" not in preview.text
    saved = desk.post(f"/desk/patients/{patient}/session", {**form, "step": "save"})
    assert "recorded (97810 x1, 97814 x1): covered." in saved.text
    desk.get(f"/desk/patients/{patient}/session")
    short = desk.post(f"/desk/patients/{patient}/session", {"date": TODAY.isoformat(), "minutes": ["5"], "step": "preview"})
    assert "Nothing billable" in short.text and "Save the session" not in short.text


def test_a_front_desk_key_may_book_but_not_record_care(app, keys, patient: str):
    front = Desk(app)
    front.sign_in(keys["front_desk"][1])
    card = front.get(f"/desk/patients/{patient}")
    assert "Plan visits" in card.text and ">Assessment<" not in card.text
    refused = front.get(f"/desk/patients/{patient}/assessment")
    assert refused.status_code == 403 and "A front desk key may not record an assessment." in refused.text


def test_reading_a_card_is_audited_with_the_key(engine, desk: Desk, patient: str, keys):
    desk.get(f"/desk/patients/{patient}")
    with read_transaction(engine) as session:
        rows = [(r.action, r.outcome, r.api_key_id) for r in query_audit(session, keys["clinician"][0], beneficiary_id=patient)]
    assert rows == [("read", "200", keys["clinician"][2])]


def test_pages_are_not_cached_and_forbid_inline_script(desk: Desk):
    page = desk.get("/desk")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert desk.get("/desk/static/desk.css").status_code == 200
    assert desk.get("/desk/static/..%2Fpages.py").status_code == 404


def test_todays_alerts_list_the_clinics_patients(desk: Desk, patient: str, engine, keys):
    ctx = Ctx(db=engine, policies=default_book(), actor=Actor(clinic_id=keys["clinician"][0], role="admin"), today=TODAY)
    for day in (TODAY + timedelta(days=7 * w + offset) for w in range(7) for offset in (0, 3)):
        care.book_appointment(ctx, patient, day=day)
    page = desk.get("/desk/alerts")
    assert page.status_code == 200 and "R. Parkes (*******MK73)" in page.text
    assert f"/desk/patients/{patient}" in page.text
