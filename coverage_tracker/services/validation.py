"""Checks of client input that the domain does not make: date ranges, names, codes, payers."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from coverage_tracker.domain.mbi import InvalidMBI, normalize_mbi
from coverage_tracker.domain.payers import PolicyBook

from .errors import InvalidInput

EARLIEST = date(2000, 1, 1)
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


@lru_cache(maxsize=16)
def latest_service_date(today: date) -> date:
    """Two years after today (29 February gives 28 February)."""
    return today + relativedelta(years=2)


def service_date(field: str, value: date, today: date) -> date:
    """A date of service, assessment or signature: from 2000 through two years after today."""
    if value < EARLIEST:
        raise InvalidInput(field, f"{value.isoformat()} is before 2000-01-01")
    latest = latest_service_date(today)
    if value > latest:
        raise InvalidInput(field, f"{value.isoformat()} is more than two years ahead (latest {latest.isoformat()})")
    return value


def not_after_today(field: str, value: date, today: date, what: str) -> date:
    """A date that must not be in the clinic's future."""
    service_date(field, value, today)
    if value > today:
        raise InvalidInput(field, f"{what} cannot be dated after today ({today.isoformat()}), got {value.isoformat()}")
    return value


def birth_date(value: date, today: date) -> date:
    """A plausible date of birth."""
    if value < date(1880, 1, 1) or value > today:
        raise InvalidInput("birth_date", f"{value.isoformat()} is not a plausible date of birth")
    return value


def mbi(raw: str, field: str = "mbi") -> str:
    """The normalised MBI; the message names the wrong position."""
    try:
        return normalize_mbi(raw)
    except InvalidMBI as exc:
        raise InvalidInput(field, str(exc)) from exc


def name(field: str, value: str) -> str:
    """A person's name: trimmed, 1-100 characters, no control characters."""
    value = value.strip()
    if not value or len(value) > 100 or any(ord(ch) < 32 for ch in value):
        raise InvalidInput(field, "must be 1-100 printable characters")
    return value


def payer(policies: PolicyBook, value: str, field: str = "payer") -> str:
    """A payer the service has a policy for."""
    if value not in policies:
        raise InvalidInput(field, f"unknown payer {value!r}; known payers: {', '.join(policies.names())}")
    return value


def icd10(value: str) -> str:
    """An ICD-10-CM code in its dotted form (M54.50)."""
    code = value.strip().upper()
    if not ICD10.match(code):
        raise InvalidInput("icd10_code", f"{value!r} is not an ICD-10-CM code (like M54.50)")
    return code
