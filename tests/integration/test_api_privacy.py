"""MBIs stay private over HTTP: full only on enrolment and a read by id, masked in every log record, never in an error body."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from coverage_tracker.api.log_masking import PathsOnly, install_mbi_masking
from coverage_tracker.services import coverage
from tests.integration.api_client import MBI, Api, api  # noqa: F401 - `api` is a fixture

FULL = "1EG4TE5MK73"


def test_only_enrolment_and_a_read_by_id_show_the_full_mbi(api: Api):
    enrolled = api.call("POST", "/v1/beneficiaries", {"mbi": MBI, "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"})
    bid = enrolled.json()["id"]
    assert FULL in enrolled.text and FULL in api.call("GET", f"/v1/beneficiaries/{bid}").text
    api.call("POST", f"/v1/beneficiaries/{bid}/diagnoses", {"icd10_code": "M54.50", "onset_date": api.day(-400), "recorded_on": api.day(-300)})
    others = [
        api.call("POST", "/v1/beneficiaries/search", {"mbi": MBI}),
        api.call("POST", "/v1/beneficiaries/search", {"last_name": "park"}),
        api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(1)}),
        api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": [api.day(2)]}),
        api.call("GET", f"/v1/beneficiaries/{bid}/coverage"),
        api.call("GET", f"/v1/beneficiaries/{bid}/events"),
        api.call("GET", "/v1/audit-events"),
        api.call("POST", "/v1/beneficiaries", {"mbi": MBI, "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"}),
    ]
    for response in others:
        assert response.status_code < 500
        assert FULL not in response.text and "1EG4-TE5-MK73" not in response.text


def test_no_full_mbi_reaches_a_log_record_during_requests(api: Api, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    api.call("POST", "/v1/beneficiaries", {"mbi": MBI, "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"})
    api.call("POST", "/v1/beneficiaries", {"mbi": MBI, "first_name": "Rita", "last_name": "Parkes", "birth_date": "1950-05-01"})
    api.call("POST", "/v1/beneficiaries/search", {"mbi": "1eg4-te5-mk73"})
    logging.getLogger("coverage_tracker.api").warning("looked up %s for %s", "1eg4-te5-mk73", {"mbi": FULL})
    assert caplog.records
    assert FULL not in caplog.text.upper().replace("-", "")
    assert "*******MK73" in caplog.text


def test_an_exception_logged_with_an_mbi_in_it_is_masked_in_the_traceback(caplog: pytest.LogCaptureFixture):
    install_mbi_masking()
    try:
        raise ValueError(f"duplicate key ({FULL})")
    except ValueError:
        logging.getLogger("coverage_tracker.test").exception("insert failed for %s", FULL)
    record = caplog.records[-1]
    assert FULL not in record.getMessage() and FULL not in (record.exc_text or "")
    assert FULL not in logging.Formatter().format(record)


def test_the_access_log_shows_paths_without_query_strings():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/v1/x/coverage?as_of=2026-01-01", "1.1", 200), None)
    PathsOnly().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "GET /v1/x/coverage HTTP/1.1" 200'


def test_a_server_error_answers_without_a_trace_or_input(api: Api, monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError(f"bug near {FULL}")

    monkeypatch.setattr(coverage, "check_dates", broken)
    bid = api.eligible()
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.post(f"/v1/beneficiaries/{bid}/booking-checks", json={"dates": [api.day(1)]}, headers=api.auth())
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    api.flush_audit()
    rows = api.call("GET", "/v1/audit-events", params={"beneficiary_id": bid}).json()["events"]
    assert rows[-1]["action"] == "check" and rows[-1]["outcome"] == "500"
