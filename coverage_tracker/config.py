"""Settings read from the environment (prefix `COVERAGE_TRACKER_`)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the shell needs to run; the domain never reads this."""

    model_config = SettingsConfigDict(env_prefix="COVERAGE_TRACKER_", extra="ignore")

    database_url: str = "sqlite:///coverage_tracker.db"
    timezone: str = "America/New_York"
    payer_policies: Path | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "coverage-tracker@localhost"
    alert_time: str = "06:30"
    alert_lookahead_days: int = 14
    history_cache_size: int = Field(default=2048, ge=0)
    scan_workers: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests call `get_settings.cache_clear()`."""
    return Settings()
