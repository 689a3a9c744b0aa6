"""API keys resolve to their clinic and role, are stored only as a hash, and stop working when revoked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coverage_tracker.store import api_keys
from coverage_tracker.store.api_keys import ApiKeyResolver, ResolvedKey, UnknownRole, lookup_api_key
from coverage_tracker.store.audit import query_audit, record_audit
from coverage_tracker.store.clinics import get_or_create_clinic
from coverage_tracker.store.db import read_transaction, write_transaction
from coverage_tracker.store.tables import ApiKey


def create(engine: Engine, clinic_id: int, role: str = "front_desk") -> tuple[int, str]:
    with write_transaction(engine) as session:
        row, plain_key = api_keys.create_api_key(session, clinic_id, role, label="desk 1")
        return row.id, plain_key


def test_a_new_key_resolves_to_its_clinic_and_role_and_only_its_hash_is_stored(engine: Engine, clinic_id: int) -> None:
    key_id, plain_key = create(engine, clinic_id, "billing")
    assert plain_key.startswith("ct_") and len(plain_key) > 40
    with engine.connect() as conn:
        assert lookup_api_key(conn, plain_key) == ResolvedKey(key_id, clinic_id, "billing")
        stored = conn.execute(sa.select(ApiKey.__table__)).one()._mapping
    assert plain_key not in {str(value) for value in stored.values()}
    assert stored["key_hash"] == api_keys.hash_key(plain_key)


@pytest.mark.parametrize("mangle", [
    lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
    lambda k: k.replace("ct_", "xx_", 1),
    lambda k: k.split("_")[0] + "_" + k.split("_")[1],
    lambda k: "",
    lambda k: "Bearer " + k,
])
def test_a_wrong_or_malformed_key_resolves_to_nothing(engine: Engine, clinic_id: int, mangle) -> None:
    _, plain_key = create(engine, clinic_id)
    with engine.connect() as conn:
        assert lookup_api_key(conn, mangle(plain_key)) is None


def test_an_unknown_role_is_refused(engine: Engine, clinic_id: int) -> None:
    with pytest.raises(UnknownRole), write_transaction(engine) as session:
        api_keys.create_api_key(session, clinic_id, "nurse")


def test_listing_shows_prefixes_never_keys_and_filters_by_clinic(engine: Engine, clinic_id: int) -> None:
    create(engine, clinic_id)
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    create(engine, other.id, "admin")
    with read_transaction(engine) as session:
        everything = api_keys.list_api_keys(session)
        mine = api_keys.list_api_keys(session, clinic_id)
    assert [k.clinic_name for k in everything] == ["Test Clinic", "Other Clinic"]
    assert [(k.clinic_id, k.role, k.label) for k in mine] == [(clinic_id, "front_desk", "desk 1")]
    assert not hasattr(mine[0], "key_hash")


def test_a_revoked_key_stops_resolving_within_the_cache_ttl(engine: Engine, clinic_id: int) -> None:
    key_id, plain_key = create(engine, clinic_id)
    resolver = ApiKeyResolver(engine, ttl_seconds=0.3)
    assert resolver.resolve(plain_key) == ResolvedKey(key_id, clinic_id, "front_desk")
    with write_transaction(engine) as session:
        assert api_keys.revoke_api_key(session, key_id)
    assert resolver.resolve(plain_key) is not None
    time.sleep(0.35)
    assert resolver.resolve(plain_key) is None
    with write_transaction(engine) as session:
        assert not api_keys.revoke_api_key(session, key_id + 100)
        assert api_keys.revoke_api_key(session, key_id)


def test_forgetting_the_cache_makes_a_revocation_immediate(engine: Engine, clinic_id: int) -> None:
    key_id, plain_key = create(engine, clinic_id)
    resolver = ApiKeyResolver(engine, ttl_seconds=60)
    assert resolver.resolve(plain_key) is not None
    with write_transaction(engine) as session:
        api_keys.revoke_api_key(session, key_id)
    resolver.forget_all()
    assert resolver.resolve(plain_key) is None


def test_an_admin_revokes_only_keys_of_their_own_clinic(engine: Engine, clinic_id: int) -> None:
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    key_id, plain_key = create(engine, other.id)
    with write_transaction(engine) as session:
        assert not api_keys.revoke_api_key(session, key_id, clinic_id=clinic_id)
    with engine.connect() as conn:
        assert lookup_api_key(conn, plain_key) is not None


def test_audit_rows_are_found_by_clinic_beneficiary_and_time_range(engine: Engine, clinic_id: int) -> None:
    key_id, _ = create(engine, clinic_id)
    with write_transaction(engine) as session:
        other, _ = get_or_create_clinic(session, "Other Clinic")
    base = datetime(2024, 3, 1, 12, tzinfo=UTC)
    with write_transaction(engine) as session:
        for hour, beneficiary_id in enumerate(["b1", "b2", "b1", None]):
            record_audit(session, clinic_id=clinic_id, api_key_id=key_id, role="front_desk", action="booking_check",
                         outcome="200", beneficiary_id=beneficiary_id, at=base + timedelta(hours=hour))
        record_audit(session, clinic_id=other.id, api_key_id=None, role=None, action="read", outcome="404",
                     beneficiary_id="b1", at=base)
    with read_transaction(engine) as session:
        assert len(query_audit(session, clinic_id)) == 4
        rows = query_audit(session, clinic_id, beneficiary_id="b1")
        assert [row.at for row in rows] == [base, base + timedelta(hours=2)]
        assert rows[0].at.tzinfo is not None
        window = query_audit(session, clinic_id, since=base + timedelta(hours=1), until=base + timedelta(hours=3))
        assert [row.beneficiary_id for row in window] == ["b2", "b1"]
        assert [row.outcome for row in query_audit(session, other.id)] == ["404"]
