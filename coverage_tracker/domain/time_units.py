"""Time units: contact minutes and needle insertions coded as 97810-97814 lines (RULES.md section 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from coverage_tracker.domain.events import ClaimLine, Segment
from coverage_tracker.domain.policy import (
    ACUPUNCTURE_CODES,
    ADD_ON_CODES,
    ALL_CODES,
    DRY_NEEDLING_CODES,
    INITIAL_CODES,
    PayerPolicy,
)

ACUPUNCTURE_INITIAL = "97810"
ACUPUNCTURE_ADD_ON = "97811"
ELECTROACUPUNCTURE_INITIAL = "97813"
ELECTROACUPUNCTURE_ADD_ON = "97814"

UNIT_MINUTES = 15
MIDPOINT_MINUTES = 8
MAX_SEGMENT_MINUTES = 240
MAX_VISIT_MINUTES = 480
MAX_LINE_UNITS = 8

NO_LINES = "NO_LINES"
UNKNOWN_CODE = "UNKNOWN_CODE"
BAD_UNITS = "BAD_UNITS"
DUPLICATE_CODE = "DUPLICATE_CODE"
TWO_INITIAL_CODES = "TWO_INITIAL_CODES"
ADD_ON_WITHOUT_INITIAL = "ADD_ON_WITHOUT_INITIAL"
UNITS_OVER_CAP = "UNITS_OVER_CAP"
DRY_NEEDLING_WITH_ACUPUNCTURE = "DRY_NEEDLING_WITH_ACUPUNCTURE"
LINE_RULES: tuple[str, ...] = (
    NO_LINES,
    UNKNOWN_CODE,
    BAD_UNITS,
    DUPLICATE_CODE,
    TWO_INITIAL_CODES,
    ADD_ON_WITHOUT_INITIAL,
    UNITS_OVER_CAP,
    DRY_NEEDLING_WITH_ACUPUNCTURE,
)


class TimeUnitsError(ValueError):
    """Segments that cannot describe a visit; `field` names the offending input (`segments[2].minutes`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class NotBillable:
    """Units the minutes support that cannot be billed, with the reason in words."""

    code: str
    units: int
    reason: str


@dataclass(frozen=True, slots=True)
class CodingResult:
    """The coded visit: billable `lines`, `not_billable` units, and the midpoint-rule `units` of `total_minutes`."""

    lines: tuple[ClaimLine, ...]
    not_billable: tuple[NotBillable, ...]
    total_minutes: int
    units: int

    @property
    def billable_units(self) -> int:
        """Units on the billable lines."""
        return sum(line.units for line in self.lines)


@dataclass(frozen=True, slots=True)
class LineProblem:
    """One broken rule in submitted claim lines; `index` is the line's position, None for the list itself."""

    index: int | None
    code: str
    rule: str
    message: str


def timed_units(minutes: int) -> int:
    """15-minute units under the midpoint rule: under 8 minutes none, 8-22 one, 23-37 two, ..."""
    if minutes < MIDPOINT_MINUTES:
        return 0
    return (minutes + UNIT_MINUTES - MIDPOINT_MINUTES) // UNIT_MINUTES


def validate_segments(segments: Sequence[Segment]) -> None:
    """Raise TimeUnitsError naming the field when the segments cannot describe a visit."""
    if not segments:
        raise TimeUnitsError("segments", "a visit needs at least one segment (one needle insertion), got none")
    total = 0
    for index, segment in enumerate(segments):
        field = f"segments[{index}].minutes"
        minutes = segment.minutes
        if not _is_whole_number(minutes):
            raise TimeUnitsError(field, f"must be a whole number of minutes, got {minutes!r}")
        if minutes < 1:
            raise TimeUnitsError(field, f"must be at least 1 minute, got {minutes}")
        if minutes > MAX_SEGMENT_MINUTES:
            raise TimeUnitsError(
                field, f"must be at most {MAX_SEGMENT_MINUTES} minutes for one insertion, got {minutes}"
            )
        if not isinstance(segment.electrical_stimulation, bool):
            raise TimeUnitsError(
                f"segments[{index}].electrical_stimulation",
                f"must be true or false, got {segment.electrical_stimulation!r}",
            )
        total += minutes
    if total > MAX_VISIT_MINUTES:
        raise TimeUnitsError(
            "segments", f"total contact minutes must be at most {MAX_VISIT_MINUTES} for one visit, got {total}"
        )


def code_segments(segments: Sequence[Segment], policy: PayerPolicy) -> CodingResult:
    """Code a visit's segments into billable claim lines under the payer's unit caps."""
    validate_segments(segments)
    total_minutes = sum(segment.minutes for segment in segments)
    units = timed_units(total_minutes)
    coded: dict[str, int] = {}
    for position, segment in enumerate(segments[:units]):
        code = _unit_code(segment, initial=position == 0)
        coded[code] = coded.get(code, 0) + 1
    not_billable: list[NotBillable] = []
    without_insertion = units - len(segments)
    if without_insertion > 0:
        not_billable.append(
            NotBillable(
                _unit_code(segments[-1], initial=False),
                without_insertion,
                f"{_units(without_insertion)} without a new needle insertion: {total_minutes} minutes make "
                f"{_units(units)} but the visit had {_count(len(segments), 'insertion')}",
            )
        )
    lines: list[ClaimLine] = []
    for code, count in coded.items():
        cap = policy.unit_caps.get(code)
        if cap is not None and count > cap:
            not_billable.append(
                NotBillable(
                    code,
                    count - cap,
                    f"{code}: {_units(count)} {'exceeds' if count == 1 else 'exceed'} the payer's cap of {cap} per day",
                )
            )
            count = cap
        if count > 0:
            lines.append(ClaimLine(code, count))
    if lines and not any(line.code in INITIAL_CODES for line in lines):
        not_billable.extend(
            NotBillable(line.code, line.units, f"{line.code}: an add-on needs a billable initial code on the same day")
            for line in lines
        )
        lines = []
    return CodingResult(tuple(lines), tuple(not_billable), total_minutes, units)


def validate_lines(lines: Sequence[ClaimLine], dos: date, policy: PayerPolicy) -> list[LineProblem]:
    """Every rule of RULES.md section 4 that submitted claim lines break, in line order; empty when they are fine."""
    if not lines:
        return [LineProblem(None, "", NO_LINES, "lines: a session needs at least one claim line, got none")]
    problems: list[LineProblem] = []
    first_line_of: dict[str, int] = {}
    good_units: dict[int, int] = {}
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        code = line.code
        if code not in ALL_CODES:
            problems.append(
                LineProblem(
                    index,
                    str(code),
                    UNKNOWN_CODE,
                    f"{where}: {code!r} is not an acupuncture or dry-needling code; use one of {', '.join(ALL_CODES)}",
                )
            )
            continue
        if code in first_line_of:
            problems.append(
                LineProblem(
                    index,
                    code,
                    DUPLICATE_CODE,
                    f"{where}: {code} is already on lines[{first_line_of[code]}]; put all its units on one line",
                )
            )
            continue
        first_line_of[code] = index
        if _is_whole_number(line.units) and 1 <= line.units <= MAX_LINE_UNITS:
            good_units[index] = line.units
        else:
            problems.append(
                LineProblem(
                    index,
                    code,
                    BAD_UNITS,
                    f"{where}: {code} units must be a whole number from 1 to {MAX_LINE_UNITS}, got {line.units!r}",
                )
            )
    problems.extend(_initial_code_problems(first_line_of, good_units))
    problems.extend(_cap_problems(first_line_of, good_units, policy))
    problems.extend(_dry_needling_problems(first_line_of, dos, policy))
    problems.sort(key=lambda problem: -1 if problem.index is None else problem.index)
    return problems


def _initial_code_problems(first_line_of: dict[str, int], good_units: dict[int, int]) -> list[LineProblem]:
    problems: list[LineProblem] = []
    initial = sorted((index, code) for code, index in first_line_of.items() if code in INITIAL_CODES)
    if initial:
        first_index, first_code = initial[0]
        for index, code in initial[1:]:
            problems.append(
                LineProblem(
                    index,
                    code,
                    TWO_INITIAL_CODES,
                    f"lines[{index}]: {code} is a second initial code (lines[{first_index}] is {first_code}); "
                    "only one initial code per day",
                )
            )
        for index, code in initial:
            units = good_units.get(index, 1)
            if units > 1:
                add_on = ELECTROACUPUNCTURE_ADD_ON if code == ELECTROACUPUNCTURE_INITIAL else ACUPUNCTURE_ADD_ON
                problems.append(
                    LineProblem(
                        index,
                        code,
                        TWO_INITIAL_CODES,
                        f"lines[{index}]: {code} has {units} units; the initial code is one unit per day, "
                        f"bill further units with a new insertion as {add_on}",
                    )
                )
    else:
        for code, index in first_line_of.items():
            if code in ADD_ON_CODES:
                problems.append(
                    LineProblem(
                        index,
                        code,
                        ADD_ON_WITHOUT_INITIAL,
                        f"lines[{index}]: add-on {code} needs an initial code "
                        f"({' or '.join(INITIAL_CODES)}) on the same day",
                    )
                )
    return problems


def _cap_problems(first_line_of: dict[str, int], good_units: dict[int, int], policy: PayerPolicy) -> list[LineProblem]:
    problems: list[LineProblem] = []
    for code, index in first_line_of.items():
        cap = policy.unit_caps.get(code)
        units = good_units.get(index)
        if cap is not None and units is not None and units > cap:
            problems.append(
                LineProblem(
                    index,
                    code,
                    UNITS_OVER_CAP,
                    f"lines[{index}]: {code} has {units} units, over the payer's cap of {cap} per day ({policy.name})",
                )
            )
    return problems


def _dry_needling_problems(first_line_of: dict[str, int], dos: date, policy: PayerPolicy) -> list[LineProblem]:
    forbidden_from = policy.dry_needling_with_acupuncture_forbidden_from
    if forbidden_from is None or dos < forbidden_from:
        return []
    acupuncture = [code for code in first_line_of if code in ACUPUNCTURE_CODES]
    if not acupuncture:
        return []
    return [
        LineProblem(
            index,
            code,
            DRY_NEEDLING_WITH_ACUPUNCTURE,
            f"lines[{index}]: dry needling {code} may not be billed on the same day as {', '.join(acupuncture)}: "
            f"{policy.name} forbids it from {forbidden_from.isoformat()} (date of service {dos.isoformat()})",
        )
        for code, index in first_line_of.items()
        if code in DRY_NEEDLING_CODES
    ]


def _unit_code(segment: Segment, *, initial: bool) -> str:
    if initial:
        return ELECTROACUPUNCTURE_INITIAL if segment.electrical_stimulation else ACUPUNCTURE_INITIAL
    return ELECTROACUPUNCTURE_ADD_ON if segment.electrical_stimulation else ACUPUNCTURE_ADD_ON


def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _units(number: int) -> str:
    return _count(number, "unit")
