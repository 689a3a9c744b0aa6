"""Medicare Beneficiary Identifiers: normalising, checking and masking (RULES.md section 6)."""

from __future__ import annotations

import re

MBI_LENGTH = 11
MASK = "*******"

_LETTERS = frozenset("ACDEFGHJKMNPQRTUVWXY")
_DIGITS = frozenset("0123456789")
_FIRST_DIGITS = frozenset("123456789")
_LETTER = (_LETTERS, "a letter other than S, L, O, I, B, Z")
_DIGIT = (_DIGITS, "a digit")
_LETTER_OR_DIGIT = (_LETTERS | _DIGITS, "a letter other than S, L, O, I, B, Z or a digit")
_POSITIONS: tuple[tuple[frozenset[str], str], ...] = (
    (_FIRST_DIGITS, "a digit 1-9"),
    _LETTER,
    _LETTER_OR_DIGIT,
    _DIGIT,
    _LETTER,
    _LETTER_OR_DIGIT,
    _DIGIT,
    _LETTER,
    _LETTER,
    _DIGIT,
    _DIGIT,
)
_MBI_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])"
    + "-*".join("[" + "".join(sorted(allowed)) + "]" for allowed, _ in _POSITIONS)
    + r"(?![0-9A-Za-z])",
    re.IGNORECASE | re.ASCII,
)


class InvalidMBI(ValueError):
    """Input that is not an MBI; `position` (1-based, dashes removed) is the first wrong character, if any."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def normalize_mbi(raw: str) -> str:
    """The MBI upper case without dashes or surrounding spaces; raise InvalidMBI naming what is wrong."""
    if not isinstance(raw, str):
        raise InvalidMBI(f"must be text, got {type(raw).__name__}")
    compact = raw.strip().replace("-", "")
    if len(compact) != MBI_LENGTH:
        for position, character in enumerate(compact[:MBI_LENGTH], start=1):
            if not (character.isascii() and character.isalnum()):
                raise _wrong_character(position, character)
        raise InvalidMBI(f"must be {MBI_LENGTH} characters, got {len(compact)}")
    for position, character in enumerate(compact, start=1):
        allowed, _ = _POSITIONS[position - 1]
        if not character.isascii() or character.upper() not in allowed:
            raise _wrong_character(position, character)
    return compact.upper()


def is_valid_mbi(raw: str) -> bool:
    """True when `raw` normalises to an MBI."""
    try:
        normalize_mbi(raw)
    except InvalidMBI:
        return False
    return True


def mask_mbi(mbi: str) -> str:
    """Seven asterisks and the last four characters (`*******MK73`), as shown to people."""
    return MASK + mbi.strip().replace("-", "").upper()[-4:]


def mask_mbis_in_text(text: str) -> str:
    """`text` with every whole word that reads as an MBI (any case, dashes or not) masked."""
    return _MBI_IN_TEXT.sub(lambda match: mask_mbi(match.group(0)), text)


def _wrong_character(position: int, character: str) -> InvalidMBI:
    _, expected = _POSITIONS[position - 1]
    return InvalidMBI(f"position {position} must be {expected}, got {character!r}", position)
