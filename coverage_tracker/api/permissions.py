"""Which role may do what: DESIGN.md's roles paragraph as a table."""

from __future__ import annotations

ALL_ROLES = frozenset({"front_desk", "clinician", "billing", "admin"})

PERMISSIONS: dict[str, frozenset[str]] = {
    **{action: ALL_ROLES for action in ("enrol", "read", "search", "check", "book", "cancel", "alerts")},
    **{action: frozenset({"clinician", "admin"}) for action in ("diagnosis", "session", "void", "assessment")},
    **{action: frozenset({"clinician", "billing", "admin"}) for action in ("abn", "time_units")},
    **{action: frozenset({"billing", "admin"}) for action in ("events", "audit", "payer_change")},
    **{action: frozenset({"admin"}) for action in ("api_keys", "clinic_settings")},
}


def allowed(role: str, action: str) -> bool:
    """True when `role` may perform `action`."""
    return role in PERMISSIONS[action]
