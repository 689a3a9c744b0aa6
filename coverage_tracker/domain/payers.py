"""Payer policies as data: the built-in Medicare preset and plans loaded from a TOML file (RULES.md section 5)."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from coverage_tracker.domain.policy import ALL_CODES, BENEFIT_PERIOD_KINDS, MEDICARE, DiagnosisCode, PayerPolicy

PAYER_POLICIES_ENV = "COVERAGE_TRACKER_PAYER_POLICIES"
NONE = "none"

_PAYER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_ICD10_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")
_DIAGNOSIS_KEYS = ("code", "valid_from", "valid_to")


class PolicyBook:
    """An immutable registry of payer policies by name; the Medicare preset is always in it."""

    __slots__ = ("_policies",)
    _policies: Mapping[str, PayerPolicy]

    def __init__(self, policies: Iterable[PayerPolicy] = ()) -> None:
        by_name: dict[str, PayerPolicy] = {MEDICARE.name: MEDICARE}
        for policy in policies:
            if policy is MEDICARE:
                continue
            if policy.name in by_name:
                raise ValueError(f"payer {policy.name!r} is already in the book")
            by_name[policy.name] = policy
        object.__setattr__(self, "_policies", MappingProxyType(by_name))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a PolicyBook cannot be changed")

    def get(self, name: str) -> PayerPolicy | None:
        """The policy named `name`, or None when the book has no such payer."""
        return self._policies.get(name)

    def names(self) -> tuple[str, ...]:
        """The payer names, Medicare first, then in the order they were given."""
        return tuple(self._policies)

    def __contains__(self, name: object) -> bool:
        return name in self._policies

    def __iter__(self) -> Iterator[PayerPolicy]:
        return iter(self._policies.values())

    def __len__(self) -> int:
        return len(self._policies)

    def __repr__(self) -> str:
        return f"PolicyBook({', '.join(self._policies)})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its plans, their unit caps as plain dicts (a scan worker process rebuilds the same book)."""
        return _book_of, (tuple(replace(p, unit_caps=dict(p.unit_caps)) for p in self if p is not MEDICARE),)


def _book_of(policies: Iterable[PayerPolicy]) -> PolicyBook:
    return PolicyBook(replace(p, unit_caps=MappingProxyType(dict(p.unit_caps))) for p in policies)


class PolicyFileError(ValueError):
    """A payer policy file that cannot be used; the message names the file, the payer and the setting."""

    def __init__(self, path: str, detail: str, payer: str | None = None, setting: str | None = None) -> None:
        where = f"{path}: payer '{payer}'" if payer is not None else path
        super().__init__(f"{where}: {detail}")
        self.path = path
        self.payer = payer
        self.setting = setting
        self.detail = detail


class _Unacceptable(Exception):
    """A setting's value is not what it must be; carries the expectation in words."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class _SettingError(Exception):
    """A setting that cannot be used; `detail` says which and why."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(detail)
        self.setting = setting
        self.detail = detail


def default_book() -> PolicyBook:
    """The book with the built-in Medicare preset only."""
    return PolicyBook()


def book_from_env(environ: Mapping[str, str]) -> PolicyBook:
    """The book named by COVERAGE_TRACKER_PAYER_POLICIES in `environ`; Medicare only when it is unset or empty."""
    path = environ.get(PAYER_POLICIES_ENV, "").strip()
    if not path:
        return default_book()
    return load_policy_book(path)


def load_policy_book(path: str | Path) -> PolicyBook:
    """Read and validate a TOML payer policy file; raise PolicyFileError naming the file, payer and setting."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(shown, f"cannot be read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(shown, f"is not valid TOML: {exc}") from exc
    unknown = sorted(key for key in document if key != "payers")
    if unknown:
        raise PolicyFileError(
            shown, f"unknown top-level {_keys(unknown, ('payers',))}; payer policies go under [payers.<name>]"
        )
    payers = document.get("payers", {})
    if not isinstance(payers, dict):
        raise PolicyFileError(shown, f"payers must be a table of [payers.<name>] tables, got {_show(payers)}")
    return PolicyBook(_payer_policy(shown, name, settings) for name, settings in payers.items())


def _payer_policy(path: str, name: str, settings: Any) -> PayerPolicy:
    def fail(detail: str, setting: str | None = None) -> NoReturn:
        raise PolicyFileError(path, detail, payer=name, setting=setting)

    if name == MEDICARE.name:
        fail("the built-in Medicare preset cannot be redefined; give the plan its own name, e.g. 'medicare_advantage'")
    if not _PAYER_NAME.fullmatch(name):
        fail("a payer name must be lower-case letters, digits, '_' or '-', start with a letter, at most 64 characters")
    if not isinstance(settings, dict):
        fail(f"must be a table of settings, got {_show(settings)}")
    unknown = sorted(key for key in settings if key not in _KNOWN_SETTINGS)
    if unknown:
        fail(f"unknown {_keys(unknown, _KNOWN_SETTINGS)}", unknown[0])
    if "version" not in settings:
        fail('version is required (it names this revision of the policy, e.g. "2026-01")', "version")
    chosen: dict[str, Any] = {}
    try:
        for setting, value in settings.items():
            if setting == "unit_caps":
                chosen[setting] = _unit_caps(value)
            elif setting == "diagnosis_codes":
                chosen[setting] = _diagnosis_codes(value)
            else:
                chosen[setting] = _check(_SETTINGS[setting], setting, value)
    except _SettingError as exc:
        raise PolicyFileError(path, exc.detail, payer=name, setting=exc.setting) from None
    policy = replace(MEDICARE, **{"label": name, **chosen, "name": name})
    for detail, setting in _inconsistencies(policy, chosen):
        fail(detail, setting)
    return policy


def _inconsistencies(policy: PayerPolicy, chosen: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    def shown(setting: str) -> str:
        value = getattr(policy, setting)
        return f"{setting} ({value})" if setting in chosen else f"{setting} ({value}, inherited from medicare)"

    if policy.benefit_period == "plan_year" and "plan_year_start_month" not in chosen:
        yield (
            'plan_year_start_month is required with benefit_period = "plan_year" (a month number from 1 to 12)',
            "plan_year_start_month",
        )
    if policy.benefit_period != "plan_year" and "plan_year_start_month" in chosen:
        yield (
            'plan_year_start_month is only used with benefit_period = "plan_year", '
            f"got benefit_period = {_show(policy.benefit_period)}",
            "plan_year_start_month",
        )
    if policy.initial_sessions > policy.annual_cap:
        yield f"{shown('initial_sessions')} must not exceed {shown('annual_cap')}", "initial_sessions"
    if policy.approaching_initial_threshold > policy.initial_sessions:
        yield (
            f"{shown('approaching_initial_threshold')} must not exceed {shown('initial_sessions')}",
            "approaching_initial_threshold",
        )
    if policy.approaching_cap_threshold > policy.annual_cap:
        yield (
            f"{shown('approaching_cap_threshold')} must not exceed {shown('annual_cap')}",
            "approaching_cap_threshold",
        )


def _unit_caps(value: Any) -> Mapping[str, int]:
    if not isinstance(value, dict):
        raise _SettingError("unit_caps", f"unit_caps must be a table of code = units, got {_show(value)}")
    caps = dict(MEDICARE.unit_caps)
    for code, units in value.items():
        if code not in ALL_CODES:
            raise _SettingError(
                f"unit_caps.{code}", f"unit_caps has an unknown code '{code}'; known: {', '.join(ALL_CODES)}"
            )
        caps[code] = _check(_non_negative_integer, f"unit_caps.{code}", units)
    return MappingProxyType(caps)


def _diagnosis_codes(value: Any) -> tuple[DiagnosisCode, ...]:
    if not isinstance(value, list) or not value:
        raise _SettingError(
            "diagnosis_codes",
            f"diagnosis_codes must be a non-empty array of [[diagnosis_codes]] tables, got {_show(value)}",
        )
    codes: list[DiagnosisCode] = []
    for index, entry in enumerate(value):
        where = f"diagnosis_codes[{index}]"
        if not isinstance(entry, dict):
            raise _SettingError(where, f"{where} must be a table with code, valid_from, valid_to, got {_show(entry)}")
        unknown = sorted(key for key in entry if key not in _DIAGNOSIS_KEYS)
        if unknown:
            raise _SettingError(f"{where}.{unknown[0]}", f"{where} has unknown {_keys(unknown, _DIAGNOSIS_KEYS)}")
        if "code" not in entry:
            raise _SettingError(f"{where}.code", f'{where}.code is required (an ICD-10-CM code like "M54.50")')
        code = _check(_icd10_code, f"{where}.code", entry["code"])
        valid_from = _check(_optional_date, f"{where}.valid_from", entry.get("valid_from"))
        valid_to = _check(_optional_date, f"{where}.valid_to", entry.get("valid_to"))
        if valid_from is not None and valid_to is not None and valid_to < valid_from:
            raise _SettingError(
                f"{where}.valid_to",
                f"{where}.valid_to ({valid_to.isoformat()}) must not be before valid_from ({valid_from.isoformat()})",
            )
        codes.append(DiagnosisCode(code, valid_from, valid_to))
    return tuple(codes)


def _check(parse: Callable[[Any], Any], setting: str, value: Any) -> Any:
    try:
        return parse(value)
    except _Unacceptable as exc:
        raise _SettingError(setting, f"{setting} must be {exc.expected}, got {_show(value)}") from None


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_integer(value: Any) -> int:
    if _is_integer(value) and value >= 1:
        return value
    raise _Unacceptable("a positive integer")


def _non_negative_integer(value: Any) -> int:
    if _is_integer(value) and value >= 0:
        return value
    raise _Unacceptable("a whole number, 0 or more")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Unacceptable("true or false")


def _text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _Unacceptable("a non-empty string")


def _a_date(value: Any) -> date:
    if type(value) is date:
        return value
    if isinstance(value, str):
        raise _Unacceptable("a date written without quotes, like 2024-01-01")
    raise _Unacceptable("a date like 2024-01-01")


def _optional_date(value: Any) -> date | None:
    return None if value is None else _a_date(value)


def _date_or_none(value: Any) -> date | None:
    if value == NONE:
        return None
    try:
        return _a_date(value)
    except _Unacceptable:
        raise _Unacceptable('a date written without quotes, like 2024-01-01, or "none"') from None


def _window(value: Any) -> int | None:
    if value == NONE:
        return None
    try:
        return _positive_integer(value)
    except _Unacceptable:
        raise _Unacceptable('a positive integer or "none"') from None


def _benefit_period(value: Any) -> str:
    if value in BENEFIT_PERIOD_KINDS:
        return value
    raise _Unacceptable("one of " + ", ".join(f'"{kind}"' for kind in BENEFIT_PERIOD_KINDS))


def _month(value: Any) -> int:
    if _is_integer(value) and 1 <= value <= 12:
        return value
    raise _Unacceptable("a month number from 1 to 12")


def _icd10_code(value: Any) -> str:
    if isinstance(value, str) and _ICD10_CODE.fullmatch(value):
        return value
    raise _Unacceptable('an ICD-10-CM code in capitals with its dot, like "M54.50"')


_SETTINGS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "version": _text,
        "label": _text,
        "acupuncture_covered": _boolean,
        "effective_date": _a_date,
        "pain_min_days": _non_negative_integer,
        "benefit_period": _benefit_period,
        "plan_year_start_month": _month,
        "initial_sessions": _positive_integer,
        "initial_window_days": _window,
        "extension_sessions": _non_negative_integer,
        "annual_cap": _positive_integer,
        "extension_requires_kx": _boolean,
        "dry_needling_with_acupuncture_forbidden_from": _date_or_none,
        "approaching_initial_threshold": _non_negative_integer,
        "approaching_cap_threshold": _non_negative_integer,
    }
)
_KNOWN_SETTINGS: tuple[str, ...] = (*_SETTINGS, "unit_caps", "diagnosis_codes")


def _keys(unknown: Iterable[str], known: Iterable[str]) -> str:
    known = tuple(known)
    named = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        named.append(f"'{key}' (did you mean '{close[0]}'?)" if close else f"'{key}'")
    return ("key " if len(named) == 1 else "keys ") + ", ".join(named)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)
