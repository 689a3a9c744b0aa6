"""Request and response bodies for administration: API keys and the audit log."""

import datetime as dt

from pydantic import Field

from .schemas import Input, Output, Role, one_line


class NewApiKey(Input):
    """A key for the caller's clinic."""

    role: Role
    label: one_line(100) | None = Field(default=None, examples=["front desk, room 2"])


class ApiKeyInfo(Output):
    """What may be shown about a key: never the key itself."""

    id: int
    role: Role
    prefix: str = Field(description="The key's first characters after `ct_`, to recognise it.")
    label: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class CreatedApiKey(ApiKeyInfo):
    """The new key: `key` is shown this once, only its hash is kept."""

    key: str = Field(examples=["ct_1a2b3c4d_Zx..."])


class ApiKeyList(Output):
    keys: list[ApiKeyInfo]


class AuditEntry(Output):
    """Who did what to which beneficiary, and how it ended (the HTTP status)."""

    id: int
    at: dt.datetime
    api_key_id: int | None
    role: str | None
    action: str = Field(examples=["check"])
    beneficiary_id: str | None
    outcome: str = Field(examples=["200"])


class AuditLog(Output):
    events: list[AuditEntry]
