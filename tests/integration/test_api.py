"""Each endpoint of the contract answers its success path over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from coverage_tracker.api.app import create_app
from coverage_tracker.config import Settings
from tests.integration.api_client import MBI, Api, api  # noqa: F401 - `api` is a fixture


def test_enrolling_answers_201_with_the_full_mbi_and_reading_shows_it_again(api: Api):
    response = api.call("POST", "/v1/beneficiaries", {"mbi": " 1eg4-te5-mk73 ", "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"})
    assert response.status_code == 201
    created = response.json()
    assert created["mbi"] == "1EG4TE5MK73" and created["payer"] == "medicare" and created["id"]
    read = api.call("GET", f"/v1/beneficiaries/{created['id']}")
    assert read.status_code == 200 and read.json() == created


def test_search_by_mbi_or_last_name_masks_the_mbi_and_is_empty_when_nothing_matches(api: Api):
    bid = api.enrol(MBI)
    by_mbi = api.call("POST", "/v1/beneficiaries/search", {"mbi": "1eg4te5mk73"}).json()["results"]
    assert [r["id"] for r in by_mbi] == [bid]
    assert by_mbi[0]["mbi_masked"] == "*******MK73" and "mbi" not in by_mbi[0]
    by_name = api.call("POST", "/v1/beneficiaries/search", {"last_name": "PAR", "birth_date": "1950-05-01"}).json()
    assert [r["id"] for r in by_name["results"]] == [bid]
    assert api.call("POST", "/v1/beneficiaries/search", {"last_name": "Zed"}).json() == {"results": []}


def test_a_booking_check_answers_decisions_in_date_order_counting_earlier_dates(api: Api):
    bid = api.eligible()
    response = api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": [api.day(9), api.day(2)]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["date"] for r in results] == [api.day(2), api.day(9)]
    assert [r["status"] for r in results] == ["covered", "covered"]
    assert results[1]["counters"]["period_used"] == 1
    assert set(results[0]) >= {"covered", "reasons", "modifiers", "abn_recommended", "next_covered_date", "counters"}


def test_a_past_date_can_be_checked_for_billing(api: Api):
    bid = api.eligible()
    response = api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": ["2019-06-01"]})
    assert response.status_code == 200
    assert response.json()["results"][0]["reasons"][0]["code"] == "BEFORE_COVERAGE_EFFECTIVE"


def test_booking_answers_201_with_the_decision_and_cancelling_frees_the_date(api: Api):
    bid = api.eligible()
    booked = api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(3)})
    assert booked.status_code == 201
    body = booked.json()
    assert body["date"] == api.day(3) and body["decision"]["status"] == "covered"
    cancelled = api.call("POST", f"/v1/beneficiaries/{bid}/appointments/{body['id']}/cancel", {"reason": "no_show"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "no_show"
    assert api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(3)}).status_code == 201


def test_a_session_from_minutes_fulfils_the_booking_of_its_date_and_can_be_voided(api: Api):
    bid = api.eligible()
    booking = api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(0)}).json()
    segments = [{"minutes": 20}, {"minutes": 15, "electrical_stimulation": True}]
    session = api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(0), "segments": segments})
    assert session.status_code == 201
    body = session.json()
    assert body["lines"] == [{"code": "97810", "units": 1}, {"code": "97814", "units": 1}]
    assert body["fulfilled_appointment_id"] == booking["id"] and body["decision"]["status"] == "covered"
    voided = api.call("POST", f"/v1/beneficiaries/{bid}/sessions/{body['id']}/void")
    assert voided.status_code == 200 and voided.json() == {"id": body["id"], "date": api.day(0), "voided": True}


def test_a_session_from_claim_lines_keeps_its_lines(api: Api):
    bid = api.eligible()
    lines = [{"code": "97813", "units": 1}, {"code": "97814", "units": 2}]
    response = api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(-1), "lines": lines})
    assert response.status_code == 201 and response.json()["lines"] == lines


def test_diagnosis_assessment_abn_and_payer_change_answer_201_and_show_in_the_summary(api: Api):
    bid = api.enrol()
    dx = api.call("POST", f"/v1/beneficiaries/{bid}/diagnoses", {"icd10_code": "m54.51", "onset_date": api.day(-200), "recorded_on": api.day(-10), "surgery_related": False})
    assert dx.status_code == 201 and dx.json()["icd10_code"] == "M54.51" and dx.json()["id"]
    assessment = api.call("POST", f"/v1/beneficiaries/{bid}/assessments", {"date": api.day(0), "outcome": "improving", "note": "walks\nfurther"})
    assert assessment.status_code == 201 and assessment.json()["outcome"] == "improving"
    abn = api.call("POST", f"/v1/beneficiaries/{bid}/abns", {"signed_on": api.day(0)})
    assert abn.status_code == 201 and abn.json()["valid_until"] > api.day(0)
    payer = api.call("POST", f"/v1/beneficiaries/{bid}/payer-changes", {"payer": "medicare", "effective_date": api.day(0)})
    assert payer.status_code == 201 and payer.json() == {
        "id": payer.json()["id"], "beneficiary_id": bid, "payer": "medicare", "effective_date": api.day(0),
    }
    assert payer.json()["id"]
    summary = api.call("GET", f"/v1/beneficiaries/{bid}/coverage").json()
    assert summary["as_of"] == api.day(0) and summary["decision"]["status"] == "covered"
    assert summary["diagnosis"]["icd10_code"] == "M54.51" and summary["latest_assessment"]["note"] == "walks\nfurther"


def test_the_summary_takes_an_as_of_date(api: Api):
    bid = api.eligible()
    summary = api.call("GET", f"/v1/beneficiaries/{bid}/coverage", params={"as_of": "2021-06-01"}).json()
    assert summary["as_of"] == "2021-06-01" and summary["decision"]["date"] == "2021-06-01"


def test_the_event_log_lists_every_fact_in_version_order_with_the_mbi_masked(api: Api):
    bid = api.eligible(MBI)
    response = api.call("GET", f"/v1/beneficiaries/{bid}/events", role="billing")
    assert response.status_code == 200
    events = response.json()["events"]
    assert [(e["version"], e["type"]) for e in events] == [(1, "beneficiary_enrolled"), (2, "diagnosis_recorded")]
    assert events[0]["payload"]["mbi"] == "*******MK73"
    assert "1EG4TE5MK73" not in response.text


def test_the_coding_helper_turns_minutes_into_billable_lines_and_lists_the_rest(api: Api):
    segments = [{"minutes": 15}, {"minutes": 15}, {"minutes": 15}, {"minutes": 15}]
    response = api.call("POST", "/v1/time-units", {"segments": segments}, role="clinician")
    assert response.status_code == 200
    body = response.json()
    assert body["lines"] == [{"code": "97810", "units": 1}, {"code": "97811", "units": 2}]
    assert body["total_minutes"] == 60 and [n["code"] for n in body["not_billable"]] == ["97811"]


def test_an_admin_creates_lists_and_revokes_keys_and_a_revoked_key_is_refused_at_once(api: Api):
    created = api.call("POST", "/v1/api-keys", {"role": "front_desk", "label": "desk 2"})
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("ct_") and new["role"] == "front_desk" and new["revoked_at"] is None
    headers = {"Authorization": f"Bearer {new['key']}"}
    assert api.client.post("/v1/beneficiaries/search", json={"last_name": "x"}, headers=headers).status_code == 200
    listed = api.call("GET", "/v1/api-keys").json()["keys"]
    assert new["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)
    revoked = api.call("POST", f"/v1/api-keys/{new['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.post("/v1/beneficiaries/search", json={"last_name": "x"}, headers=headers).status_code == 401


def test_health_and_readiness(api: Api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_api_documents_itself(api: Api, path: str):
    assert api.client.get(path).status_code == 200


def test_readiness_is_503_on_a_database_without_the_schema(empty_db_url: str):
    with TestClient(create_app(Settings(database_url=empty_db_url))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and "db upgrade" in response.json()["detail"]


@pytest.mark.parametrize("url", ["sqlite:////nonexistent/dir/coverage_tracker.db", "postgresql://postgres@127.0.0.1:1/none"])
def test_readiness_is_503_while_the_database_is_unreachable_and_requests_say_so(url: str):
    with TestClient(create_app(Settings(database_url=url))) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["detail"] == "the database is unreachable"
        response = client.get("/v1/beneficiaries/x", headers={"Authorization": "Bearer ct_00000000_x"})
    assert response.status_code == 503 and "postgres" not in response.text
