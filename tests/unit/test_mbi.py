"""Medicare Beneficiary Identifiers: what is accepted, what is refused and how it is shown (RULES.md section 6)."""

import pytest

from coverage_tracker.domain.mbi import InvalidMBI, is_valid_mbi, mask_mbi, mask_mbis_in_text, normalize_mbi

VALID = "1EG4TE5MK73"
LETTER = "a letter other than S, L, O, I, B, Z"
LETTER_OR_DIGIT = "a letter other than S, L, O, I, B, Z or a digit"


def refusal(raw: object) -> InvalidMBI:
    with pytest.raises(InvalidMBI) as caught:
        normalize_mbi(raw)  # type: ignore[arg-type]
    return caught.value


def with_character(position: int, character: str) -> str:
    return VALID[: position - 1] + character + VALID[position:]


@pytest.mark.parametrize(
    "raw",
    [" 1eg4-te5-mk73 ", "1EG4TE5MK73", "1EG4-TE5-MK73", "1-E-G-4-T-E-5-M-K-7-3", "\t1eG4tE5mK73\n", "--1EG4TE5MK73--"],
)
def test_dashes_surrounding_spaces_and_lower_case_are_accepted(raw):
    assert normalize_mbi(raw) == VALID
    assert is_valid_mbi(raw)


def test_letters_or_digits_are_both_accepted_at_positions_three_and_six():
    assert normalize_mbi("1E94T95MK73") == "1E94T95MK73"


@pytest.mark.parametrize(
    ("position", "character", "expected"),
    [
        (1, "0", "a digit 1-9"),
        (1, "A", "a digit 1-9"),
        (2, "5", LETTER),
        (2, "S", LETTER),
        (3, "L", LETTER_OR_DIGIT),
        (4, "A", "a digit"),
        (5, "o", LETTER),
        (6, "I", LETTER_OR_DIGIT),
        (7, "B", "a digit"),
        (8, "Z", LETTER),
        (9, "3", LETTER),
        (10, "K", "a digit"),
        (11, "X", "a digit"),
    ],
)
def test_a_wrong_character_is_refused_naming_its_position_and_what_belongs_there(position, character, expected):
    error = refusal(with_character(position, character))
    assert str(error) == f"position {position} must be {expected}, got {character!r}"
    assert error.position == position
    assert not is_valid_mbi(with_character(position, character))


def test_positions_are_counted_after_removing_dashes_and_surrounding_spaces():
    error = refusal("  1EG4-TS5-MK73 ")
    assert str(error) == f"position 6 must be {LETTER_OR_DIGIT}, got 'S'"


@pytest.mark.parametrize(
    ("raw", "position", "character"),
    [("1EG4 TE5MK73", 5, " "), ("1EG4 TE5MK7", 5, " "), ("1EG4.TE5MK73", 5, "."), ("1EG4_E5MK73", 5, "_")],
)
def test_inner_spaces_and_other_punctuation_are_refused_naming_the_position(raw, position, character):
    error = refusal(raw)
    assert error.position == position
    assert str(error).startswith(f"position {position} must be")
    assert str(error).endswith(f"got {character!r}")


def test_a_non_ascii_digit_or_letter_is_refused():
    assert refusal("1ÉG4TE5MK73").position == 2
    assert refusal("١EG4TE5MK73").position == 1
    assert refusal("1EG4TE5MKß3").position == 10


@pytest.mark.parametrize(("raw", "length"), [("", 0), ("   ", 0), ("1EG4TE5MK7", 10), ("1EG4-TE5-MK733", 12)])
def test_a_wrong_length_is_refused_with_the_length(raw, length):
    error = refusal(raw)
    assert str(error) == f"must be 11 characters, got {length}"
    assert error.position is None


def test_punctuation_past_the_eleventh_character_is_a_wrong_length():
    assert str(refusal("1EG4TE5MK73.")) == "must be 11 characters, got 12"


def test_something_other_than_text_is_refused():
    assert str(refusal(12345678901)) == "must be text, got int"
    assert not is_valid_mbi(None)  # type: ignore[arg-type]


def test_invalid_mbi_is_a_value_error():
    assert issubclass(InvalidMBI, ValueError)


def test_an_mbi_is_shown_as_seven_asterisks_and_its_last_four_characters():
    assert mask_mbi("1EG4TE5MK73") == "*******MK73"
    assert mask_mbi(" 1eg4-te5-mk73 ") == "*******MK73"


def test_mbis_in_free_text_are_masked_in_any_case_with_or_without_dashes():
    text = "enrolled 1EG4TE5MK73; retry for 1eg4-te5-mk73 (mbi=2ac9-d77-ky11)."
    assert mask_mbis_in_text(text) == "enrolled *******MK73; retry for *******MK73 (mbi=*******KY11)."


def test_only_whole_words_that_read_as_an_mbi_are_masked():
    text = "order 1EG4TE5MK73X, id X1EG4TE5MK73, phone 12025550123, typo 1SG4TE5MK73"
    assert mask_mbis_in_text(text) == text


def test_text_without_an_mbi_is_unchanged():
    assert mask_mbis_in_text("session 2024-06-03 covered") == "session 2024-06-03 covered"
