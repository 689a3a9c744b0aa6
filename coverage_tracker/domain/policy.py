"""Payer policies: every figure of RULES.md is a setting here, with the Medicare preset built in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal, Mapping

BenefitPeriodKind = Literal["eleven_full_months", "calendar_year", "rolling_365_days", "plan_year"]
BENEFIT_PERIOD_KINDS: tuple[str, ...] = ("eleven_full_months", "calendar_year", "rolling_365_days", "plan_year")

ACUPUNCTURE_CODES = ("97810", "97811", "97813", "97814")
DRY_NEEDLING_CODES = ("20560", "20561")
INITIAL_CODES = ("97810", "97813")
ADD_ON_CODES = ("97811", "97814")
ALL_CODES = ACUPUNCTURE_CODES + DRY_NEEDLING_CODES


@dataclass(frozen=True, slots=True)
class DiagnosisCode:
    """An ICD-10-CM code the payer accepts, for DOS from `valid_from` through `valid_to` (inclusive)."""

    code: str
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, dos: date) -> bool:
        return (self.valid_from is None or dos >= self.valid_from) and (self.valid_to is None or dos <= self.valid_to)


MEDICARE_DIAGNOSIS_CODES = (
    DiagnosisCode("M54.5", None, date(2021, 9, 30)),
    DiagnosisCode("M54.50", date(2021, 10, 1), None),
    DiagnosisCode("M54.51", date(2021, 10, 1), None),
    DiagnosisCode("M54.59", date(2021, 10, 1), None),
)

MEDICARE_UNIT_CAPS: Mapping[str, int] = MappingProxyType({"97810": 1, "97813": 1, "97811": 2, "97814": 2})


@dataclass(frozen=True, slots=True)
class PayerPolicy:
    """One payer's acupuncture policy; the defaults are the Medicare preset (NCD 30.3.3)."""

    name: str
    version: str
    acupuncture_covered: bool = True
    effective_date: date = date(2020, 1, 21)
    diagnosis_codes: tuple[DiagnosisCode, ...] = MEDICARE_DIAGNOSIS_CODES
    pain_min_days: int = 84
    benefit_period: BenefitPeriodKind = "eleven_full_months"
    plan_year_start_month: int = 1
    initial_sessions: int = 12
    initial_window_days: int | None = 90
    extension_sessions: int = 8
    annual_cap: int = 20
    extension_requires_kx: bool = True
    unit_caps: Mapping[str, int] = field(default_factory=lambda: MEDICARE_UNIT_CAPS)
    dry_needling_with_acupuncture_forbidden_from: date | None = date(2024, 1, 1)
    approaching_initial_threshold: int = 10
    approaching_cap_threshold: int = 18
    label: str = ""

    def accepts_code(self, code: str, dos: date) -> bool:
        """True when `code` is on this payer's diagnosis list for `dos`."""
        return any(c.code == code and c.valid_on(dos) for c in self.diagnosis_codes)

    def code_boundaries(self) -> list[date]:
        """Dates on which the diagnosis list changes (for jumping to the next covered date)."""
        out: list[date] = []
        for c in self.diagnosis_codes:
            if c.valid_from is not None:
                out.append(c.valid_from)
            if c.valid_to is not None and c.valid_to < date.max:
                out.append(date.fromordinal(c.valid_to.toordinal() + 1))
        return out


MEDICARE = PayerPolicy(name="medicare", version="ncd-30.3.3/2020-01-21", label="Medicare (NCD 30.3.3)")
