"""`Engine.counters` and `Standing` give the counters of a decision without deciding: the daily alerts read only those."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given

from coverage_tracker.domain.engine import Engine, Standing
from coverage_tracker.domain.history import fold

from .test_properties import POLICIES, PROPERTY, histories_and_dates


@given(histories_and_dates())
@PROPERTY
def test_the_counters_of_a_date_are_those_of_its_decision(case):
    events, dates = case
    h = fold(events)
    for dos in dates:
        assert Engine(h, POLICIES).counters(dos) == Engine(h, POLICIES).decide(dos).counters


@given(histories_and_dates())
@PROPERTY
def test_counters_asked_in_ascending_order_in_one_pass_are_those_asked_one_by_one(case):
    events, dates = case
    h = fold(events)
    standing = Standing(Engine(h, POLICIES))
    assert [standing.before(dos) for dos in dates + dates[-1:]] == [Engine(h, POLICIES).counters(dos) for dos in dates + dates[-1:]]


def test_a_standing_refuses_a_date_before_the_last_one_asked():
    standing = Standing(Engine(fold([])))
    standing.before(date(2026, 3, 2))
    with pytest.raises(ValueError, match="ascending"):
        standing.before(date(2026, 3, 1))
