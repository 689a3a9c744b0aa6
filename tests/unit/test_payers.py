"""Payer policies loaded as data: what a file may change, and how a bad file is refused (RULES.md section 5)."""

from datetime import date
from pathlib import Path

import pytest

from coverage_tracker.domain.payers import (
    PAYER_POLICIES_ENV,
    PolicyBook,
    PolicyFileError,
    book_from_env,
    default_book,
    load_policy_book,
)
from coverage_tracker.domain.policy import MEDICARE, DiagnosisCode, PayerPolicy

FULL_PLAN = """
[payers.acme_advantage]
version = "2026-01"
label = "ACME Medicare Advantage"
benefit_period = "plan_year"
plan_year_start_month = 7
initial_sessions = 10
initial_window_days = 120
extension_sessions = 6
annual_cap = 16
extension_requires_kx = false
acupuncture_covered = true
effective_date = 2021-01-01
pain_min_days = 90
dry_needling_with_acupuncture_forbidden_from = 2025-01-01
approaching_initial_threshold = 8
approaching_cap_threshold = 14

[payers.acme_advantage.unit_caps]
97810 = 1
97814 = 4
20560 = 1

[[payers.acme_advantage.diagnosis_codes]]
code = "M54.50"
valid_from = 2021-10-01

[[payers.acme_advantage.diagnosis_codes]]
code = "M54.5"
valid_to = 2021-09-30
"""


def write(tmp_path: Path, text: str, name: str = "payers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def plan(settings: str, name: str = "acme") -> str:
    return f'[payers.{name}]\nversion = "2026-01"\n{settings}\n'


def refusal(tmp_path: Path, text: str) -> PolicyFileError:
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as caught:
        load_policy_book(path)
    return caught.value


def message(tmp_path: Path, text: str) -> str:
    """The refusal's message with the file's directory left out."""
    return str(refusal(tmp_path, text)).replace(f"{tmp_path}/", "")


def test_the_default_book_holds_only_the_medicare_preset():
    book = default_book()
    assert book.names() == ("medicare",)
    assert book.get("medicare") is MEDICARE
    assert "medicare" in book
    assert "acme" not in book
    assert book.get("acme") is None
    assert len(book) == 1
    assert list(book) == [MEDICARE]
    assert repr(book) == "PolicyBook(medicare)"


def test_a_book_always_keeps_medicare_first_and_cannot_be_changed():
    acme = PayerPolicy(name="acme", version="1")
    book = PolicyBook([MEDICARE, acme])
    assert book.names() == ("medicare", "acme")
    with pytest.raises(AttributeError):
        book._policies = {}  # type: ignore[misc]


def test_a_book_refuses_two_payers_with_one_name():
    with pytest.raises(ValueError, match="payer 'medicare' is already in the book"):
        PolicyBook([PayerPolicy(name="medicare", version="other")])


def test_a_plan_file_sets_every_setting_it_names(tmp_path):
    book = load_policy_book(write(tmp_path, FULL_PLAN))
    assert book.names() == ("medicare", "acme_advantage")
    acme = book.get("acme_advantage")
    assert acme == PayerPolicy(
        name="acme_advantage",
        version="2026-01",
        label="ACME Medicare Advantage",
        benefit_period="plan_year",
        plan_year_start_month=7,
        initial_sessions=10,
        initial_window_days=120,
        extension_sessions=6,
        annual_cap=16,
        extension_requires_kx=False,
        acupuncture_covered=True,
        effective_date=date(2021, 1, 1),
        pain_min_days=90,
        dry_needling_with_acupuncture_forbidden_from=date(2025, 1, 1),
        approaching_initial_threshold=8,
        approaching_cap_threshold=14,
        unit_caps={"97810": 1, "97813": 1, "97811": 2, "97814": 4, "20560": 1},
        diagnosis_codes=(
            DiagnosisCode("M54.50", date(2021, 10, 1), None),
            DiagnosisCode("M54.5", None, date(2021, 9, 30)),
        ),
    )


def test_settings_a_plan_leaves_out_are_the_medicare_presets(tmp_path):
    acme = load_policy_book(write(tmp_path, plan("annual_cap = 24"))).get("acme")
    assert acme is not None
    assert acme.annual_cap == 24
    assert (acme.name, acme.label, acme.version) == ("acme", "acme", "2026-01")
    assert acme.initial_window_days == 90
    assert acme.unit_caps == dict(MEDICARE.unit_caps)
    assert acme.diagnosis_codes == MEDICARE.diagnosis_codes
    assert acme.dry_needling_with_acupuncture_forbidden_from == date(2024, 1, 1)


def test_none_turns_off_the_initial_window_and_the_dry_needling_rule(tmp_path):
    text = plan('initial_window_days = "none"\ndry_needling_with_acupuncture_forbidden_from = "none"')
    acme = load_policy_book(write(tmp_path, text)).get("acme")
    assert acme is not None
    assert acme.initial_window_days is None
    assert acme.dry_needling_with_acupuncture_forbidden_from is None


def test_a_plan_without_the_benefit_loads(tmp_path):
    book = load_policy_book(write(tmp_path, plan("acupuncture_covered = false", name="no-acupuncture")))
    assert book.get("no-acupuncture").acupuncture_covered is False


def test_a_file_without_payers_gives_medicare_only(tmp_path):
    assert load_policy_book(write(tmp_path, "")).names() == ("medicare",)
    assert load_policy_book(str(write(tmp_path, "[payers]\n"))).names() == ("medicare",)


def test_the_environment_names_the_file(tmp_path):
    path = write(tmp_path, plan("annual_cap = 24"))
    assert book_from_env({PAYER_POLICIES_ENV: f" {path} "}).names() == ("medicare", "acme")


@pytest.mark.parametrize("environ", [{}, {PAYER_POLICIES_ENV: ""}, {PAYER_POLICIES_ENV: "  "}])
def test_without_a_file_in_the_environment_only_medicare_is_known(environ):
    assert book_from_env(environ).names() == ("medicare",)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyFileError) as caught:
        book_from_env({PAYER_POLICIES_ENV: str(path)})
    assert str(caught.value).startswith(f"{path}: cannot be read:")
    assert caught.value.path == str(path)
    assert caught.value.payer is None


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "payers.toml"
    path.write_bytes(b'[payers.acme]\nversion = "\xff"\n')
    with pytest.raises(PolicyFileError, match="cannot be read"):
        load_policy_book(path)


def test_invalid_toml_is_refused_naming_the_file_and_the_line(tmp_path):
    text = '[payers.acme]\nversion = "2026-01"\ninitial_sessions = twelve\n'
    assert message(tmp_path, text).startswith("payers.toml: is not valid TOML: ")
    assert "line 3" in message(tmp_path, text)


def test_an_unknown_top_level_key_is_refused(tmp_path):
    assert message(tmp_path, plan("annual_cap = 24", name="x").replace("[payers.x]", "[payer.x]")) == (
        "payers.toml: unknown top-level key 'payer' (did you mean 'payers'?); payer policies go under [payers.<name>]"
    )


def test_payers_that_is_not_a_table_is_refused(tmp_path):
    assert message(tmp_path, "payers = 3\n") == "payers.toml: payers must be a table of [payers.<name>] tables, got 3"


def test_a_payer_that_is_not_a_table_is_refused(tmp_path):
    assert message(tmp_path, "[payers]\nacme = 3\n") == "payers.toml: payer 'acme': must be a table of settings, got 3"


def test_the_builtin_medicare_preset_cannot_be_redefined(tmp_path):
    error = refusal(tmp_path, plan("annual_cap = 40", name="medicare"))
    assert error.payer == "medicare"
    assert "the built-in Medicare preset cannot be redefined" in str(error)


@pytest.mark.parametrize("name", ['"ACME"', '"acme plan"', '"9lives"', '""'])
def test_a_payer_name_must_be_lower_case_letters_digits_and_dashes(tmp_path, name):
    error = refusal(tmp_path, plan("", name=name))
    assert "a payer name must be lower-case letters" in str(error)


def test_a_plan_without_a_version_is_refused(tmp_path):
    error = refusal(tmp_path, "[payers.acme]\nannual_cap = 24\n")
    assert str(error).endswith(
        "payer 'acme': version is required (it names this revision of the policy, e.g. \"2026-01\")"
    )
    assert error.setting == "version"


def test_unknown_settings_are_refused_naming_them(tmp_path):
    error = refusal(tmp_path, plan("initial_sesions = 12\nfavourite_colour = 'blue'"))
    assert str(error).endswith(
        "payer 'acme': unknown keys 'favourite_colour', 'initial_sesions' (did you mean 'initial_sessions'?)"
    )
    assert error.setting == "favourite_colour"


@pytest.mark.parametrize(
    ("setting", "detail"),
    [
        ("initial_window_days = -3", 'initial_window_days must be a positive integer or "none", got -3'),
        ("initial_window_days = 0", 'initial_window_days must be a positive integer or "none", got 0'),
        ('initial_window_days = "never"', 'initial_window_days must be a positive integer or "none", got "never"'),
        ("initial_sessions = 0", "initial_sessions must be a positive integer, got 0"),
        ("initial_sessions = 12.0", "initial_sessions must be a positive integer, got 12.0"),
        ("initial_sessions = true", "initial_sessions must be a positive integer, got true"),
        ('annual_cap = "20"', 'annual_cap must be a positive integer, got "20"'),
        ("extension_sessions = -1", "extension_sessions must be a whole number, 0 or more, got -1"),
        ("pain_min_days = -84", "pain_min_days must be a whole number, 0 or more, got -84"),
        ("approaching_cap_threshold = -2", "approaching_cap_threshold must be a whole number, 0 or more, got -2"),
        ('extension_requires_kx = "yes"', 'extension_requires_kx must be true or false, got "yes"'),
        ("acupuncture_covered = 1", "acupuncture_covered must be true or false, got 1"),
        ('label = ""', 'label must be a non-empty string, got ""'),
        (
            'effective_date = "2020-01-21"',
            'effective_date must be a date written without quotes, like 2024-01-01, got "2020-01-21"',
        ),
        ("effective_date = 2020", "effective_date must be a date like 2024-01-01, got 2020"),
        (
            "effective_date = 2020-01-21T08:00:00",
            "effective_date must be a date like 2024-01-01, got 2020-01-21T08:00:00",
        ),
        (
            'dry_needling_with_acupuncture_forbidden_from = "2024-01-01"',
            "dry_needling_with_acupuncture_forbidden_from must be a date written without quotes, "
            'like 2024-01-01, or "none", got "2024-01-01"',
        ),
        (
            'benefit_period = "fiscal_year"',
            'benefit_period must be one of "eleven_full_months", "calendar_year", "rolling_365_days", "plan_year", '
            'got "fiscal_year"',
        ),
        ("unit_caps = 3", "unit_caps must be a table of code = units, got 3"),
        ("unit_caps = { 97811 = -1 }", "unit_caps.97811 must be a whole number, 0 or more, got -1"),
        (
            "unit_caps = { 99213 = 1 }",
            "unit_caps has an unknown code '99213'; known: 97810, 97811, 97813, 97814, 20560, 20561",
        ),
        (
            "diagnosis_codes = []",
            "diagnosis_codes must be a non-empty array of [[diagnosis_codes]] tables, got an array",
        ),
        (
            "diagnosis_codes = { code = 'M54.50' }",
            "diagnosis_codes must be a non-empty array of [[diagnosis_codes]] tables, got a table",
        ),
        (
            'diagnosis_codes = ["M54.50"]',
            'diagnosis_codes[0] must be a table with code, valid_from, valid_to, got "M54.50"',
        ),
        (
            "diagnosis_codes = [{ valid_from = 2021-10-01 }]",
            'diagnosis_codes[0].code is required (an ICD-10-CM code like "M54.50")',
        ),
        (
            "diagnosis_codes = [{ code = 'M54.50', valid_form = 2021-10-01 }]",
            "diagnosis_codes[0] has unknown key 'valid_form' (did you mean 'valid_from'?)",
        ),
        (
            "diagnosis_codes = [{ code = 'M54.50' }, { code = 'm54.51' }]",
            'diagnosis_codes[1].code must be an ICD-10-CM code in capitals with its dot, like "M54.50", got "m54.51"',
        ),
        (
            "diagnosis_codes = [{ code = 'M54.50', valid_from = '2021-10-01' }]",
            'diagnosis_codes[0].valid_from must be a date written without quotes, like 2024-01-01, got "2021-10-01"',
        ),
        (
            "diagnosis_codes = [{ code = 'M54.50', valid_from = 2021-10-01, valid_to = 2021-09-30 }]",
            "diagnosis_codes[0].valid_to (2021-09-30) must not be before valid_from (2021-10-01)",
        ),
    ],
)
def test_a_setting_of_the_wrong_kind_is_refused_naming_file_payer_and_setting(tmp_path, setting, detail):
    assert message(tmp_path, plan(setting)) == f"payers.toml: payer 'acme': {detail}"


@pytest.mark.parametrize("month", [0, 13, '"july"'])
def test_a_plan_year_needs_a_start_month_from_one_to_twelve(tmp_path, month):
    text = plan(f'benefit_period = "plan_year"\nplan_year_start_month = {month}')
    assert "plan_year_start_month must be a month number from 1 to 12" in message(tmp_path, text)


def test_a_plan_year_without_a_start_month_is_refused(tmp_path):
    error = refusal(tmp_path, plan('benefit_period = "plan_year"'))
    assert error.setting == "plan_year_start_month"
    assert str(error).endswith(
        'plan_year_start_month is required with benefit_period = "plan_year" (a month number from 1 to 12)'
    )


def test_a_start_month_without_a_plan_year_is_refused(tmp_path):
    text = plan('benefit_period = "calendar_year"\nplan_year_start_month = 7')
    assert message(tmp_path, text).endswith(
        'plan_year_start_month is only used with benefit_period = "plan_year", got benefit_period = "calendar_year"'
    )


def test_more_initial_sessions_than_the_annual_cap_are_refused(tmp_path):
    text = plan("initial_sessions = 24\napproaching_initial_threshold = 20")
    assert message(tmp_path, text).endswith(
        "initial_sessions (24) must not exceed annual_cap (20, inherited from medicare)"
    )


def test_an_inherited_threshold_above_a_smaller_course_is_refused(tmp_path):
    text = plan("initial_sessions = 6\nannual_cap = 12")
    error = refusal(tmp_path, text)
    assert error.setting == "approaching_initial_threshold"
    assert str(error).endswith(
        "approaching_initial_threshold (10, inherited from medicare) must not exceed initial_sessions (6)"
    )


def test_a_cap_threshold_above_the_annual_cap_is_refused(tmp_path):
    text = plan("annual_cap = 16\napproaching_cap_threshold = 17")
    assert message(tmp_path, text).endswith("approaching_cap_threshold (17) must not exceed annual_cap (16)")


def test_policy_file_errors_are_value_errors():
    assert issubclass(PolicyFileError, ValueError)
