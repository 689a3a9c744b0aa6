"""`Engine.counters` gives the counters of a decision without deciding: the daily alerts read only those."""

from __future__ import annotations

from hypothesis import given

from coverage_tracker.domain.engine import Engine
from coverage_tracker.domain.history import fold

from .test_properties import POLICIES, PROPERTY, histories_and_dates


@given(histories_and_dates())
@PROPERTY
def test_the_counters_of_a_date_are_those_of_its_decision(case):
    events, dates = case
    h = fold(events)
    for dos in dates:
        assert Engine(h, POLICIES).counters(dos) == Engine(h, POLICIES).decide(dos).counters
