"""A policy book crosses to a scan worker process by pickling, and arrives the same book."""

from __future__ import annotations

import pickle

from coverage_tracker.domain.payers import default_book, load_policy_book
from coverage_tracker.domain.policy import MEDICARE


def test_a_pickled_book_is_rebuilt_with_the_same_plans_and_the_medicare_preset(tmp_path):
    plans = tmp_path / "plans.toml"
    plans.write_text('[payers.acme]\nversion = "2026-01"\nannual_cap = 30\nunit_caps = { "97810" = 3 }\n')
    book = load_policy_book(plans)
    rebuilt = pickle.loads(pickle.dumps(book))
    assert rebuilt.names() == ("medicare", "acme") and list(rebuilt) == list(book)
    assert rebuilt.get("medicare") is MEDICARE
    assert rebuilt.get("acme").unit_caps["97810"] == 3
    assert pickle.loads(pickle.dumps(default_book())).names() == ("medicare",)
