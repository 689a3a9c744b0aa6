"""Who is asking, for which clinic, on which local day: what every use case is given by the shell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from coverage_tracker.config import Settings
from coverage_tracker.domain.payers import PolicyBook, default_book, load_policy_book

ROLES = ("front_desk", "clinician", "billing", "admin")


@dataclass(frozen=True, slots=True)
class Actor:
    """The API key (or CLI user) acting: its clinic and role."""

    clinic_id: int
    role: str
    key_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ctx:
    """The database, the payer policies, the actor and the clinic's local today."""

    db: Engine
    policies: PolicyBook
    actor: Actor
    today: date

    @property
    def clinic_id(self) -> int:
        return self.actor.clinic_id


def local_today(timezone: str, now: datetime | None = None) -> date:
    """The calendar date in `timezone` at `now` (default: the current instant)."""
    zone = ZoneInfo(timezone)
    return (now.astimezone(zone) if now else datetime.now(zone)).date()


def load_policies(settings: Settings) -> PolicyBook:
    """The payer policies: Medicare, plus the TOML file named by COVERAGE_TRACKER_PAYER_POLICIES."""
    return load_policy_book(settings.payer_policies) if settings.payer_policies else default_book()
