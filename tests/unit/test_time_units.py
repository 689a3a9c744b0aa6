"""Coding a visit's minutes into 97810-97814 lines, and checking submitted lines (RULES.md section 4)."""

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest

from coverage_tracker.domain.events import ClaimLine, Segment
from coverage_tracker.domain.policy import MEDICARE
from coverage_tracker.domain.time_units import (
    LINE_RULES,
    CodingResult,
    LineProblem,
    NotBillable,
    TimeUnitsError,
    code_segments,
    timed_units,
    validate_lines,
    validate_segments,
)

NO_CAPS = replace(MEDICARE, name="no_caps", unit_caps=MappingProxyType({}))


def plain(minutes: int) -> Segment:
    return Segment(minutes, electrical_stimulation=False)


def stim(minutes: int) -> Segment:
    return Segment(minutes, electrical_stimulation=True)


def billed(result: CodingResult) -> list[tuple[str, int]]:
    return [(line.code, line.units) for line in result.lines]


def rules(problems: list[LineProblem]) -> list[str]:
    return [problem.rule for problem in problems]


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5)],
)
def test_the_midpoint_rule_turns_minutes_into_units(minutes, units):
    assert timed_units(minutes) == units


@pytest.mark.parametrize(
    ("segments", "lines"),
    [
        ([plain(7)], []),
        ([plain(8)], [("97810", 1)]),
        ([plain(22)], [("97810", 1)]),
        ([plain(10), plain(13)], [("97810", 1), ("97811", 1)]),
        ([plain(20), plain(17)], [("97810", 1), ("97811", 1)]),
        ([plain(15), plain(15), plain(8)], [("97810", 1), ("97811", 2)]),
        ([plain(20), plain(20), plain(12)], [("97810", 1), ("97811", 2)]),
    ],
)
def test_minutes_across_enough_insertions_bill_one_initial_unit_and_add_ons(segments, lines):
    assert billed(code_segments(segments, MEDICARE)) == lines
    assert code_segments(segments, MEDICARE).not_billable == ()


def test_seven_minutes_bill_nothing_and_say_nothing_is_unbillable():
    result = code_segments([plain(7)], MEDICARE)
    assert result == CodingResult(lines=(), not_billable=(), total_minutes=7, units=0)
    assert result.billable_units == 0


def test_fifty_three_minutes_over_four_insertions_hit_the_add_on_cap():
    result = code_segments([plain(15), plain(15), plain(15), plain(8)], MEDICARE)
    assert billed(result) == [("97810", 1), ("97811", 2)]
    assert result.not_billable == (NotBillable("97811", 1, "97811: 3 units exceed the payer's cap of 2 per day"),)
    assert (result.total_minutes, result.units, result.billable_units) == (53, 4, 3)


def test_forty_minutes_in_one_segment_bill_one_unit_and_two_without_insertion():
    result = code_segments([plain(40)], MEDICARE)
    assert billed(result) == [("97810", 1)]
    assert result.not_billable == (
        NotBillable(
            "97811", 2, "2 units without a new needle insertion: 40 minutes make 3 units but the visit had 1 insertion"
        ),
    )


def test_a_unit_without_an_insertion_carries_the_last_segments_stimulation_add_on():
    result = code_segments([plain(10), stim(30)], MEDICARE)
    assert billed(result) == [("97810", 1), ("97814", 1)]
    assert result.not_billable == (
        NotBillable(
            "97814", 1, "1 unit without a new needle insertion: 40 minutes make 3 units but the visit had 2 insertions"
        ),
    )


def test_a_third_unit_on_two_insertions_is_unbillable_under_the_last_segments_code():
    result = code_segments([stim(20), plain(20)], MEDICARE)
    assert billed(result) == [("97813", 1), ("97811", 1)]
    assert [(item.code, item.units) for item in result.not_billable] == [("97811", 1)]
    assert "without a new needle insertion" in result.not_billable[0].reason


def test_a_single_stimulated_insertion_of_forty_minutes_leaves_two_97814_units_unbilled():
    result = code_segments([stim(40)], MEDICARE)
    assert billed(result) == [("97813", 1)]
    assert [(item.code, item.units) for item in result.not_billable] == [("97814", 2)]


def test_stimulation_added_later_codes_97810_and_97814_never_97813():
    result = code_segments([plain(15), stim(15)], MEDICARE)
    assert billed(result) == [("97810", 1), ("97814", 1)]


def test_stimulation_from_the_first_insertion_codes_97813():
    result = code_segments([stim(15), plain(15)], MEDICARE)
    assert billed(result) == [("97813", 1), ("97811", 1)]


def test_units_go_to_insertions_in_order_whatever_their_minutes():
    result = code_segments([plain(5), stim(30), plain(1)], MEDICARE)
    assert billed(result) == [("97810", 1), ("97814", 1)]
    assert result.not_billable == ()


def test_add_ons_are_listed_in_the_order_they_first_appear():
    result = code_segments([plain(15), stim(15), plain(15), stim(15)], NO_CAPS)
    assert billed(result) == [("97810", 1), ("97814", 2), ("97811", 1)]


def test_without_a_payer_cap_every_add_on_unit_is_billable():
    result = code_segments([plain(15)] * 5, NO_CAPS)
    assert billed(result) == [("97810", 1), ("97811", 4)]
    assert result.not_billable == ()


def test_a_payer_capping_the_initial_code_at_zero_leaves_nothing_billable():
    no_initial = replace(MEDICARE, name="strict", unit_caps=MappingProxyType({"97810": 0}))
    result = code_segments([plain(15), plain(15)], no_initial)
    assert result.lines == ()
    assert result.not_billable == (
        NotBillable("97810", 1, "97810: 1 unit exceeds the payer's cap of 0 per day"),
        NotBillable("97811", 1, "97811: an add-on needs a billable initial code on the same day"),
    )


def test_a_coding_answer_always_passes_the_claim_line_rules():
    for segments in ([plain(40)], [stim(8), stim(60), plain(60)], [plain(15)] * 6):
        lines = code_segments(segments, MEDICARE).lines
        assert validate_lines(lines, date(2024, 6, 1), MEDICARE) == []


def test_a_visit_without_segments_is_refused():
    with pytest.raises(TimeUnitsError) as caught:
        code_segments([], MEDICARE)
    assert caught.value.field == "segments"
    assert "at least one segment" in caught.value.message


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (0, "must be at least 1 minute, got 0"),
        (-5, "must be at least 1 minute, got -5"),
        (241, "must be at most 240 minutes for one insertion, got 241"),
        (12.5, "must be a whole number of minutes, got 12.5"),
        (True, "must be a whole number of minutes, got True"),
    ],
)
def test_a_segment_with_impossible_minutes_is_refused_naming_it(minutes, expected):
    with pytest.raises(TimeUnitsError) as caught:
        validate_segments([plain(10), plain(10), Segment(minutes)])
    assert caught.value.field == "segments[2].minutes"
    assert caught.value.message == expected
    assert str(caught.value) == f"segments[2].minutes: {expected}"


def test_a_segment_whose_stimulation_is_not_true_or_false_is_refused():
    with pytest.raises(TimeUnitsError) as caught:
        validate_segments([Segment(10, "yes")])  # type: ignore[arg-type]
    assert caught.value.field == "segments[0].electrical_stimulation"
    assert caught.value.message == "must be true or false, got 'yes'"


def test_a_visit_over_eight_hours_of_contact_is_refused():
    validate_segments([plain(240), plain(240)])
    with pytest.raises(TimeUnitsError) as caught:
        validate_segments([plain(240), plain(240), plain(1)])
    assert caught.value.field == "segments"
    assert caught.value.message == "total contact minutes must be at most 480 for one visit, got 481"


def test_time_units_errors_are_value_errors():
    assert issubclass(TimeUnitsError, ValueError)


DOS = date(2024, 6, 3)


def test_a_well_formed_claim_passes():
    lines = [ClaimLine("97813", 1), ClaimLine("97814", 2), ClaimLine("97811", 1)]
    assert validate_lines(lines, DOS, MEDICARE) == []


def test_an_empty_claim_is_refused():
    assert validate_lines([], DOS, MEDICARE) == [
        LineProblem(None, "", "NO_LINES", "lines: a session needs at least one claim line, got none")
    ]


def test_an_unknown_code_is_named_with_its_line():
    problems = validate_lines([ClaimLine("97810", 1), ClaimLine("99213", 1)], DOS, MEDICARE)
    assert problems == [
        LineProblem(
            1,
            "99213",
            "UNKNOWN_CODE",
            "lines[1]: '99213' is not an acupuncture or dry-needling code; "
            "use one of 97810, 97811, 97813, 97814, 20560, 20561",
        )
    ]


@pytest.mark.parametrize("units", [0, -1, 9, 2.0, True])
def test_units_below_one_or_absurd_are_refused(units):
    problems = validate_lines([ClaimLine("97810", 1), ClaimLine("97811", units)], DOS, MEDICARE)
    assert rules(problems) == ["BAD_UNITS"]
    assert problems[0].index == 1
    assert problems[0].message == f"lines[1]: 97811 units must be a whole number from 1 to 8, got {units!r}"


def test_the_same_code_twice_is_refused_naming_both_lines():
    problems = validate_lines([ClaimLine("97810", 1), ClaimLine("97811", 1), ClaimLine("97811", 1)], DOS, MEDICARE)
    assert problems == [
        LineProblem(
            2, "97811", "DUPLICATE_CODE", "lines[2]: 97811 is already on lines[1]; put all its units on one line"
        )
    ]


def test_97810_and_97813_on_one_day_are_two_initial_codes():
    problems = validate_lines([ClaimLine("97813", 1), ClaimLine("97810", 1)], DOS, MEDICARE)
    assert problems == [
        LineProblem(
            1,
            "97810",
            "TWO_INITIAL_CODES",
            "lines[1]: 97810 is a second initial code (lines[0] is 97813); only one initial code per day",
        )
    ]


@pytest.mark.parametrize(("code", "add_on"), [("97810", "97811"), ("97813", "97814")])
def test_two_units_of_an_initial_code_are_two_initial_codes(code, add_on):
    problems = validate_lines([ClaimLine(code, 2)], DOS, NO_CAPS)
    assert problems == [
        LineProblem(
            0,
            code,
            "TWO_INITIAL_CODES",
            f"lines[0]: {code} has 2 units; the initial code is one unit per day, "
            f"bill further units with a new insertion as {add_on}",
        )
    ]


def test_two_units_of_an_initial_code_are_also_over_the_medicare_cap():
    assert rules(validate_lines([ClaimLine("97810", 2)], DOS, MEDICARE)) == ["TWO_INITIAL_CODES", "UNITS_OVER_CAP"]


def test_an_initial_code_with_bad_units_does_not_also_count_as_two():
    assert rules(validate_lines([ClaimLine("97810", 0), ClaimLine("97811", 1)], DOS, MEDICARE)) == ["BAD_UNITS"]


@pytest.mark.parametrize("add_on", ["97811", "97814"])
def test_an_add_on_alone_needs_an_initial_code(add_on):
    problems = validate_lines([ClaimLine(add_on, 1)], DOS, MEDICARE)
    assert problems == [
        LineProblem(
            0,
            add_on,
            "ADD_ON_WITHOUT_INITIAL",
            f"lines[0]: add-on {add_on} needs an initial code (97810 or 97813) on the same day",
        )
    ]


def test_dry_needling_alone_needs_no_initial_code():
    assert validate_lines([ClaimLine("20560", 1)], DOS, MEDICARE) == []


def test_units_over_the_payer_cap_are_refused_with_the_figures():
    problems = validate_lines([ClaimLine("97810", 1), ClaimLine("97814", 3)], DOS, MEDICARE)
    assert problems == [
        LineProblem(
            1, "97814", "UNITS_OVER_CAP", "lines[1]: 97814 has 3 units, over the payer's cap of 2 per day (medicare)"
        )
    ]


def test_units_at_the_payer_cap_pass():
    assert validate_lines([ClaimLine("97810", 1), ClaimLine("97811", 2), ClaimLine("97814", 2)], DOS, MEDICARE) == []


def test_dry_needling_with_acupuncture_passes_on_the_last_day_before_medicare_forbids_it():
    lines = [ClaimLine("97810", 1), ClaimLine("20561", 1)]
    assert validate_lines(lines, date(2023, 12, 31), MEDICARE) == []


def test_dry_needling_with_acupuncture_is_refused_from_the_day_medicare_forbids_it():
    lines = [ClaimLine("97810", 1), ClaimLine("97811", 1), ClaimLine("20560", 1), ClaimLine("20561", 1)]
    problems = validate_lines(lines, date(2024, 1, 1), MEDICARE)
    assert rules(problems) == ["DRY_NEEDLING_WITH_ACUPUNCTURE"] * 2
    assert [problem.index for problem in problems] == [2, 3]
    assert problems[0].message == (
        "lines[2]: dry needling 20560 may not be billed on the same day as 97810, 97811: "
        "medicare forbids it from 2024-01-01 (date of service 2024-01-01)"
    )


def test_a_payer_that_allows_dry_needling_with_acupuncture_accepts_them_together():
    allows = replace(MEDICARE, name="allows", dry_needling_with_acupuncture_forbidden_from=None)
    assert validate_lines([ClaimLine("97813", 1), ClaimLine("20560", 1)], date(2025, 1, 1), allows) == []


def test_every_problem_is_listed_in_line_order():
    lines = [
        ClaimLine("97814", 3),
        ClaimLine("20560", 1),
        ClaimLine("97814", 1),
        ClaimLine("G0283", 1),
    ]
    problems = validate_lines(lines, DOS, MEDICARE)
    assert [(problem.index, problem.rule) for problem in problems] == [
        (0, "ADD_ON_WITHOUT_INITIAL"),
        (0, "UNITS_OVER_CAP"),
        (1, "DRY_NEEDLING_WITH_ACUPUNCTURE"),
        (2, "DUPLICATE_CODE"),
        (3, "UNKNOWN_CODE"),
    ]
    assert set(rules(problems)) <= set(LINE_RULES)
