"""Idempotency-Key over HTTP: a retried write gives the same answer and one event; the key with another body is a 409."""

from __future__ import annotations

import pytest

from tests.integration.api_client import Api, new_mbi, shared_api  # noqa: F401 - `shared_api` is a fixture


@pytest.fixture
def api(shared_api: Api) -> Api:
    return shared_api


def event_count(api: Api, bid: str) -> int:
    return len(api.call("GET", f"/v1/beneficiaries/{bid}/events").json()["events"])


def writes(api: Api, bid: str) -> dict[str, tuple[str, dict | None, dict | None]]:
    """Each write on a beneficiary: its path, a body, and another body."""
    booking = api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(6)}).json()["id"]
    session = api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(-3), "segments": [{"minutes": 20}]}).json()["id"]
    b = f"/v1/beneficiaries/{bid}"
    return {
        "payer_change": (f"{b}/payer-changes", {"payer": "medicare", "effective_date": api.day(0)}, {"payer": "medicare", "effective_date": api.day(-1)}),
        "diagnosis": (f"{b}/diagnoses", {"icd10_code": "M54.50", "onset_date": api.day(-500), "recorded_on": api.day(-1)}, {"icd10_code": "M54.59", "onset_date": api.day(-500), "recorded_on": api.day(-1)}),
        "book": (f"{b}/appointments", {"date": api.day(2)}, {"date": api.day(3)}),
        "cancel": (f"{b}/appointments/{booking}/cancel", {"reason": "cancelled"}, {"reason": "no_show"}),
        "session": (f"{b}/sessions", {"date": api.day(0), "segments": [{"minutes": 20}]}, {"date": api.day(-1), "segments": [{"minutes": 20}]}),
        "void": (f"{b}/sessions/{session}/void", None, None),
        "assessment": (f"{b}/assessments", {"date": api.day(0), "outcome": "improving"}, {"date": api.day(0), "outcome": "regressing"}),
        "abn": (f"{b}/abns", {"signed_on": api.day(0)}, {"signed_on": api.day(-1)}),
    }


@pytest.mark.parametrize("name", ["payer_change", "diagnosis", "book", "cancel", "session", "void", "assessment", "abn"])
def test_a_retried_write_answers_the_same_and_appends_one_event(api: Api, name: str):
    bid = api.eligible()
    path, body, other = writes(api, bid)[name]
    key = {"Idempotency-Key": f"retry-{name}"}
    before = event_count(api, bid)
    first = api.call("POST", path, body, headers=key)
    again = api.call("POST", path, body, headers=key)
    assert first.status_code == again.status_code and first.status_code in (200, 201), first.text
    assert again.json() == first.json()
    assert event_count(api, bid) == before + 1
    if other is not None:
        reused = api.call("POST", path, other, headers=key)
        assert reused.status_code == 409 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_enrolment_answers_the_same_beneficiary(api: Api):
    body = {"mbi": new_mbi(), "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"}
    first = api.call("POST", "/v1/beneficiaries", body, headers={"Idempotency-Key": "enrol-1"})
    again = api.call("POST", "/v1/beneficiaries", body, headers={"Idempotency-Key": "enrol-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(api.call("POST", "/v1/beneficiaries/search", {"mbi": body["mbi"]}).json()["results"]) == 1


def test_the_same_key_on_another_operation_is_a_409(api: Api):
    bid = api.eligible()
    api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(2)}, headers={"Idempotency-Key": "k"})
    reused = api.call("POST", f"/v1/beneficiaries/{bid}/assessments", {"date": api.day(0), "outcome": "improving"}, headers={"Idempotency-Key": "k"})
    assert reused.status_code == 409


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "naïve"])
def test_an_unusable_idempotency_key_is_422(api: Api, key: str):
    bid = api.eligible()
    response = api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(2)}, headers={"Idempotency-Key": key.encode()})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
