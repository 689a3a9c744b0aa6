"""Reading desk form fields: every value arrives as text and is checked here, naming the field when wrong."""

from __future__ import annotations

from datetime import date

from coverage_tracker.services.errors import InvalidInput


def a_date(field: str, raw: str, label: str) -> date:
    """A YYYY-MM-DD date (what a date input sends)."""
    text = raw.strip()
    if not text:
        raise InvalidInput(field, f"{label} is required")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{label} must be a date like 2026-03-02") from None


def optional_date(field: str, raw: str, label: str) -> date | None:
    return a_date(field, raw, label) if raw.strip() else None


def a_number(field: str, raw: str, label: str, lowest: int, highest: int) -> int:
    """A whole number within [lowest, highest]."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(field, f"{label} must be a whole number") from None
    if not lowest <= value <= highest:
        raise InvalidInput(field, f"{label} must be from {lowest} to {highest}")
    return value


def checked(raw: str | None) -> bool:
    """A checkbox: present (any value) means ticked."""
    return raw is not None and raw != ""
