"""The audit trail over HTTP: every request with a valid key leaves a row, whatever its outcome, and billing can read it."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.api_client import CLINIC, OTHER_CLINIC, Api, api  # noqa: F401 - `api` is a fixture


def audit_rows(api: Api, role: str = "billing", clinic: str = CLINIC, **params: str) -> list[dict]:
    response = api.call("GET", "/v1/audit-events", role=role, clinic=clinic, params=params)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_reads_and_writes_of_a_beneficiary_leave_rows_with_their_outcomes(api: Api):
    bid = api.eligible()
    api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": [api.day(1)]}, role="front_desk")
    api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": ["2026-02-30"]}, role="front_desk")
    api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(0), "segments": [{"minutes": 20}]}, role="front_desk")
    api.call("GET", f"/v1/beneficiaries/{bid}", clinic=OTHER_CLINIC)
    rows = audit_rows(api, beneficiary_id=bid)
    seen = [(r["action"], r["role"], r["outcome"]) for r in rows]
    assert seen == [
        ("enrol", "admin", "201"),
        ("record_diagnosis", "admin", "201"),
        ("check", "front_desk", "200"),
        ("check", "front_desk", "422"),
        ("record_session", "front_desk", "403"),
    ]
    assert all(r["api_key_id"] and r["at"] for r in rows)


def test_a_request_for_an_unknown_id_is_audited_with_the_id_as_sent_in_the_callers_clinic(api: Api):
    api.call("GET", "/v1/beneficiaries/no-such-id", role="front_desk")
    api.call("GET", "/v1/beneficiaries/bad%00id", role="front_desk")
    rows = audit_rows(api)
    assert [(r["action"], r["beneficiary_id"], r["outcome"]) for r in rows] == [("read", "no-such-id", "404"), ("read", "bad?id", "404")]


def test_an_mbi_sent_where_an_id_belongs_is_stored_masked(api: Api):
    api.call("GET", "/v1/beneficiaries/1EG4-TE5-MK73", role="front_desk")
    api.call("POST", "/v1/beneficiaries/1eg4te5mk73/booking-checks", {"dates": [api.day(1)]}, role="front_desk")
    rows = audit_rows(api)
    assert [r["beneficiary_id"] for r in rows] == ["*******MK73", "*******MK73"]
    assert "TE5" not in str(rows).upper()


def test_a_request_without_a_valid_key_leaves_no_row(api: Api):
    api.client.get("/v1/beneficiaries/x", headers={"Authorization": "Bearer ct_00000000_nope"})
    assert audit_rows(api) == []


def test_each_clinic_sees_only_its_own_rows(api: Api):
    api.eligible(clinic=OTHER_CLINIC)
    assert audit_rows(api) == []
    assert [r["action"] for r in audit_rows(api, role="admin", clinic=OTHER_CLINIC)] == ["enrol", "record_diagnosis"]


def test_the_audit_log_filters_by_date_range_in_the_clinics_days(api: Api):
    api.eligible()
    today, tomorrow, yesterday = api.day(0), api.day(1), api.day(-1)
    assert len(audit_rows(api, **{"from": today, "to": today})) == 2
    assert audit_rows(api, **{"from": tomorrow}) == []
    assert audit_rows(api, to=yesterday) == []
    response = api.call("GET", "/v1/audit-events", role="billing", params={"from": today, "to": yesterday})
    assert response.status_code == 422 and response.json()["field"] == "to"


def test_the_audit_log_is_for_billing_and_admin_only(api: Api):
    assert api.call("GET", "/v1/audit-events", role="front_desk").status_code == 403
    assert api.call("GET", "/v1/audit-events", role="clinician").status_code == 403
    assert api.call("GET", "/v1/audit-events", role="admin").status_code == 200


def test_the_audit_log_limit_keeps_the_oldest_rows(api: Api):
    for _ in range(3):
        api.call("GET", "/v1/api-keys")
    rows = audit_rows(api, limit="2")
    assert [r["action"] for r in rows] == ["list_api_keys", "list_api_keys"] and rows[0]["id"] < rows[1]["id"]
    assert rows[0]["at"] <= (api.today + timedelta(days=1)).isoformat()
