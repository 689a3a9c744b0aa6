"""Every status code of the contract: 401, 403 (the role table), 404 across clinics, 422 naming the field, 409; their order.

The tests share one database per module and backend; each makes its own patients.
"""

from __future__ import annotations

import pytest

from tests.integration.api_client import (  # noqa: F401 - `shared_api` is a fixture
    BENEFICIARY_OPERATIONS,
    MBI,
    OPERATION_NAMES,
    OTHER_CLINIC,
    ROLES,
    Api,
    new_mbi,
    operations,
    shared_api,
)


@pytest.fixture
def api(shared_api: Api) -> Api:
    return shared_api

DESIGN_ROLES = {
    "front_desk": {"enrol", "read", "search", "check", "coverage", "book", "cancel"},
    "clinician": {"diagnosis", "session", "void", "assessment", "abn", "time_units"},
    "billing": {"events", "audit", "payer_change", "abn", "time_units"},
}


def expected_to_be_allowed(role: str, name: str) -> bool:
    """DESIGN.md's roles paragraph, written out independently of the code's table."""
    if role == "admin":
        return True
    return name in DESIGN_ROLES["front_desk"] or name in DESIGN_ROLES.get(role, set())


def send(api: Api, name: str, bid: str, *, headers: dict | None = None, role: str = "admin", clinic: str = "Test Clinic"):
    op = operations(api.today)[name]
    url = op.url(bid)
    if headers is not None:
        return api.client.request(op.method, url, json=op.body, headers=headers)
    return api.call(op.method, url, op.body, role=role, clinic=clinic)


@pytest.mark.parametrize("name", OPERATION_NAMES)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer ct_00000000_unknown", "Bearer ", "Basic dXNlcjpwdw==", b"Bearer ct_\xe9_x", "ct_nobearer"]
)
def test_a_missing_or_unknown_key_is_401_on_every_operation(api: Api, name: str, authorization: str | bytes | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = send(api, name, "any-id", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing, unknown or revoked API key"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", OPERATION_NAMES)
def test_the_role_table_of_design_md(api: Api, role: str, name: str):
    bid = api.eligible()
    response = send(api, name, bid, role=role)
    if expected_to_be_allowed(role, name):
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500
    else:
        assert response.status_code == 403
        assert role in response.json()["detail"]


@pytest.mark.parametrize("name", BENEFICIARY_OPERATIONS)
def test_another_clinics_beneficiary_is_404_for_reads_and_writes_alike(api: Api, name: str):
    bid = api.eligible()
    response = send(api, name, bid, clinic=OTHER_CLINIC)
    assert response.status_code == 404
    assert response.json() == {"detail": "beneficiary not found", "code": "NOT_FOUND"}


@pytest.mark.parametrize(
    "bid", ["nope", "00000000-0000-0000-0000-000000000000", "x" * 500, "%00", "%C3%A9", "123", "..%2F..", "a%20b"]
)
def test_an_id_of_any_form_that_the_clinic_lacks_is_404_never_422(api: Api, bid: str):
    for name in ("read", "check", "book", "events"):
        assert send(api, name, bid).status_code == 404


@pytest.mark.parametrize("name", ["cancel", "void"])
def test_an_unknown_appointment_or_session_of_a_known_beneficiary_is_404(api: Api, name: str):
    bid = api.eligible()
    response = send(api, name, bid)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_an_api_key_of_another_clinic_cannot_be_revoked(api: Api):
    other = api.call("POST", "/v1/api-keys", {"role": "front_desk"}, clinic=OTHER_CLINIC).json()
    for key_id in (str(other["id"]), "abc", "²", "9" * 40):
        assert api.call("POST", f"/v1/api-keys/{key_id}/revoke").status_code == 404


def test_checks_run_in_the_order_401_then_404_then_422_then_409(api: Api):
    bid = api.eligible()
    api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(2)})
    malformed = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    unknown_key = {"Authorization": "Bearer ct_00000000_nope"}
    url = "/v1/beneficiaries/{}/appointments"
    assert api.client.post(url.format("missing"), headers={**malformed["headers"], **unknown_key}, content=malformed["content"]).status_code == 401
    assert api.call("POST", url.format("missing"), **malformed).status_code == 404
    response = api.call("POST", url.format(bid), **malformed)
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"
    assert api.call("POST", url.format("missing"), {"date": "2026-02-30"}).status_code == 404
    taken_but_past = api.call("POST", url.format(bid), {"date": api.day(-1)})
    assert taken_but_past.status_code == 422
    assert api.call("POST", url.format(bid), {"date": api.day(2)}).status_code == 409


def field_of(response) -> str:
    """The field a 422 names: from a business rule, or the last part of a validation error's location."""
    body = response.json()
    if isinstance(body["detail"], str):
        return body["field"]
    return ".".join(str(part) for part in body["detail"][0]["loc"][1:])


@pytest.mark.parametrize(
    ("name", "body", "field", "words"),
    [
        ("enrol", {"mbi": "15G4TE5MK73", "first_name": "A", "last_name": "B", "birth_date": "1950-01-01"}, "mbi", "position 2"),
        ("enrol", {"mbi": "1EG4TE5MK7", "first_name": "A", "last_name": "B", "birth_date": "1950-01-01"}, "mbi", "got 10"),
        ("enrol", {"mbi": MBI, "first_name": "A", "last_name": "B", "birth_date": "1950-01-01", "payer": "acme"}, "payer", "known payers: medicare"),
        ("enrol", {"mbi": MBI, "first_name": " ", "last_name": "B", "birth_date": "1950-01-01"}, "first_name", "printable"),
        ("enrol", {"mbi": MBI, "first_name": "A", "last_name": "B\x00", "birth_date": "1950-01-01"}, "last_name", "control"),
        ("enrol", {"mbi": MBI, "first_name": "A", "last_name": "B", "birth_date": "1950-02-30"}, "birth_date", "day value"),
        ("enrol", {"mbi": MBI, "first_name": "A", "last_name": "B", "birth_date": "01/02/1950"}, "birth_date", "YYYY-MM-DD"),
        ("enrol", {"mbi": MBI, "first_name": "A", "last_name": "B", "birth_date": "1950-01-01", "nickname": "x"}, "nickname", "Extra"),
        ("search", {"mbi": "1EG4TE5MK7O"}, "mbi", "position 11"),
        ("search", {}, "", "mbi or last_name"),
        ("search", {"last_name": "   "}, "", "blank"),
        ("book", {"date": "2026-02-30"}, "date", "day value"),
        ("book", {"date": 20260301}, "date", "YYYY-MM-DD"),
        ("book", {"date": "1999-12-31"}, "date", "before 2000"),
        ("book", {"date": "2099-01-01"}, "date", "two years"),
        ("book", {}, "date", "required"),
        ("check", {"dates": "2026-03-01"}, "dates", "list"),
        ("check", {"dates": []}, "dates", "at least 1"),
        ("check", {"dates": ["2026-03-01"] * 101}, "dates", "at most 100"),
        ("check", {"dates": ["1999-01-01"]}, "dates[0]", "before 2000"),
        ("session", {"date": "2026-01-01"}, "", "lines or segments"),
        ("session", {"date": "2026-01-01", "segments": [{"minutes": 5}]}, "segments", "under 8 minutes"),
        ("session", {"date": "2026-01-01", "segments": [{"minutes": 10**30}]}, "segments.0.minutes", "less than or equal"),
        ("session", {"date": "2026-01-01", "segments": [{"minutes": "20"}]}, "segments.0.minutes", "integer"),
        ("session", {"date": "2026-01-01", "segments": [{"minutes": -3}]}, "segments.0.minutes", "greater than or equal"),
        ("session", {"date": "2026-01-01", "lines": [{"code": "97810", "units": 1}, {"code": "97813", "units": 1}]}, "lines[1]", "TWO_INITIAL_CODES"),
        ("session", {"date": "2026-01-01", "lines": [{"code": "97811", "units": 1}]}, "lines[0]", "ADD_ON_WITHOUT_INITIAL"),
        ("session", {"date": "2026-01-01", "lines": [{"code": "99999", "units": 1}]}, "lines.0.code", "97810"),
        ("assessment", {"date": "2026-01-01", "outcome": "better"}, "outcome", "improving"),
        ("assessment", {"date": "2026-01-01", "outcome": "improving", "note": "x" * 2001}, "note", "2000"),
        ("diagnosis", {"icd10_code": "back pain", "onset_date": "2025-01-01", "recorded_on": "2026-01-01"}, "icd10_code", "ICD-10-CM"),
        ("diagnosis", {"icd10_code": "M54.50", "onset_date": "2026-01-02", "recorded_on": "2026-01-01"}, "onset_date", "on or before"),
        ("diagnosis", {"icd10_code": "M54.50", "onset_date": "2025-01-01", "recorded_on": "2026-01-01", "systemic_cause": "no"}, "systemic_cause", "boolean"),
        ("cancel", {"reason": "sick"}, "reason", "cancelled"),
        ("abn", {"signed_on": "2026-01-10", "valid_until": "2026-01-01"}, "valid_until", "before signed_on"),
        ("payer_change", {"payer": "acme", "effective_date": "2026-01-01"}, "payer", "known payers"),
        ("time_units", {"segments": [{"minutes": 300}]}, "segments.0.minutes", "less than or equal"),
        ("time_units", {"segments": [{"minutes": 20}], "payer": "acme"}, "payer", "known payers"),
        ("create_key", {"role": "owner"}, "role", "front_desk"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_what_is_wrong(api: Api, name: str, body: dict, field: str, words: str):
    bid = api.eligible()
    op = operations(api.today)[name]
    url = op.url(bid, appointment_id=_booking(api, bid) if name == "cancel" else "a")
    response = api.call(op.method, url, body)
    assert response.status_code == 422, response.text
    assert field_of(response) == field
    assert words.lower() in response.text.lower()


def _booking(api: Api, bid: str) -> str:
    return api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(5)}).json()["id"]


def test_a_session_after_today_and_a_booking_before_today_are_422(api: Api):
    bid = api.eligible()
    late = api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(1), "segments": [{"minutes": 20}]})
    early = api.call("POST", f"/v1/beneficiaries/{bid}/appointments", {"date": api.day(-1)})
    assert late.status_code == early.status_code == 422
    assert "after today" in late.json()["detail"] and "before today" in early.json()["detail"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"null", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"dates"', "application/json"),
        (b'{"dates": ["2026-03-01"]}', "text/plain"),
        (b'{"dates": [NaN]}', "application/json"),
        (b"", "application/json"),
    ],
)
def test_a_body_that_is_not_the_json_asked_for_is_422_never_500(api: Api, content: bytes, content_type: str):
    bid = api.eligible()
    response = api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", headers={"Content-Type": content_type}, content=content)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_a_body_over_a_megabyte_is_413(api: Api):
    bid = api.eligible()
    response = api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": ["2026-03-01"], "pad": "x" * 1_100_000})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2026-03-01", "segments": [{"minutes": 1e308}]},
        {"date": "2026-03-01", "segments": [{"minutes": True}]},
        {"date": "2026-03-01", "segments": [[]]},
        {"date": "2026-03-01", "segments": None},
        {"date": None, "lines": [{"code": "97810", "units": 10**100}]},
        {"date": "9999-12-31", "lines": [{"code": "97810", "units": 1}]},
        {"date": "0001-01-01", "lines": [{"code": "97810", "units": 1}]},
        {"date": "2026-03-01T00:00:00", "lines": [{"code": "97810", "units": 1}]},
        {"date": {"$gt": ""}, "lines": {"code": "97810"}},
    ],
)
def test_odd_values_and_types_are_422_never_500(api: Api, body: dict):
    bid = api.eligible()
    assert api.call("POST", f"/v1/beneficiaries/{bid}/sessions", body).status_code == 422


@pytest.mark.parametrize("query", ["as_of=2026-02-30", "as_of=yesterday", "as_of=1999-01-01", "as_of=9999-12-31", "as_of=%00"])
def test_a_bad_as_of_date_is_422(api: Api, query: str):
    bid = api.eligible()
    response = api.call("GET", f"/v1/beneficiaries/{bid}/coverage?{query}")
    assert response.status_code == 422 and field_of(response) == "as_of"


@pytest.mark.parametrize("query", ["from=2026-02-30", "from=1999-01-01", "to=9999-12-31", "beneficiary_id=%00", "limit=0", "limit=x"])
def test_a_bad_audit_filter_is_422(api: Api, query: str):
    assert api.call("GET", f"/v1/audit-events?{query}").status_code == 422


def test_an_mbi_enrolled_twice_in_a_clinic_is_409_but_another_clinic_may_enrol_it(api: Api):
    mbi = new_mbi()
    api.enrol(mbi)
    again = api.call("POST", "/v1/beneficiaries", {"mbi": mbi.lower(), "first_name": "R", "last_name": "P", "birth_date": "1950-01-01"})
    assert again.status_code == 409 and again.json()["code"] == "MBI_ALREADY_ENROLLED"
    assert api.enrol(mbi, clinic=OTHER_CLINIC)


@pytest.mark.parametrize("second", ["book", "session"])
def test_a_second_booking_or_session_on_a_date_is_409(api: Api, second: str):
    bid = api.eligible()
    api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(0), "segments": [{"minutes": 20}]})
    path, body = {
        "book": ("appointments", {"date": api.day(0)}),
        "session": ("sessions", {"date": api.day(0), "lines": [{"code": "97810", "units": 1}]}),
    }[second]
    response = api.call("POST", f"/v1/beneficiaries/{bid}/{path}", body)
    assert response.status_code == 409 and response.json()["code"] == "SESSION_ALREADY_ON_DATE"


def test_cancelling_twice_and_voiding_twice_are_409(api: Api):
    bid = api.eligible()
    booking = _booking(api, bid)
    api.call("POST", f"/v1/beneficiaries/{bid}/appointments/{booking}/cancel", {"reason": "cancelled"})
    assert api.call("POST", f"/v1/beneficiaries/{bid}/appointments/{booking}/cancel", {"reason": "cancelled"}).status_code == 409
    session = api.call("POST", f"/v1/beneficiaries/{bid}/sessions", {"date": api.day(0), "segments": [{"minutes": 20}]}).json()
    api.call("POST", f"/v1/beneficiaries/{bid}/sessions/{session['id']}/void")
    assert api.call("POST", f"/v1/beneficiaries/{bid}/sessions/{session['id']}/void").status_code == 409


def test_an_error_body_never_echoes_the_input(api: Api):
    bid = api.eligible()
    mbi_like = "1EG4TE5MK7"
    responses = [
        api.call("POST", "/v1/beneficiaries", {"mbi": mbi_like, "first_name": "Zebulon", "last_name": 7, "birth_date": "x"}),
        api.call("POST", "/v1/beneficiaries/search", {"mbi": "9AA9AA9AA9AA9", "last_name": "Zebulon"}),
        api.call("POST", f"/v1/beneficiaries/{bid}/booking-checks", {"dates": ["Zebulon"]}),
        api.call("POST", f"/v1/beneficiaries/{bid}/assessments", {"date": api.day(0), "outcome": "improving", "note": "Zebulon\x00"}),
    ]
    for response in responses:
        assert response.status_code == 422
        assert "Zebulon" not in response.text and mbi_like not in response.text and "9AA9AA9AA9AA9" not in response.text
        assert "Traceback" not in response.text and "input" not in response.json()["detail"][0]
