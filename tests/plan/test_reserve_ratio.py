"""The autotuned reserve ratio in the planner (issue 17): ``reserves_per_hour × ratio``
reserves an hour on average, the card's number a floor, a fractional rate spread over the
hours so that a small change of the ratio still changes the grid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.plan.test_grid import NOW, PROPERTY, card, plan
from vvtv.plan.grid import HOUR, plan_grid, reserve_count, reserves_in_hour

DAY = NOW + timedelta(hours=24)


def pool(n: int = 400) -> list:
    return [plan(i, ("news", "sport", "art", "science")[i % 4], 900.0, 0.5) for i in range(n)]


def test_a_ratio_of_one_keeps_exactly_the_cards_number_every_hour() -> None:
    for k in range(200):
        assert reserves_in_hour(NOW + k * HOUR, 2) == 2
        assert reserves_in_hour(NOW + k * HOUR, 3, 1.0) == 3


@PROPERTY
@given(
    per_hour=st.integers(0, 10),
    ratio=st.floats(1.0, 3.0),
    first=st.integers(0, 10_000),
    hours=st.integers(1, 168),
)
def test_any_run_of_hours_gets_its_share_of_a_fractional_rate_within_one(
    per_hour: int, ratio: float, first: int, hours: int
) -> None:
    start = NOW + first * HOUR
    counts = [reserves_in_hour(start + k * HOUR, per_hour, ratio) for k in range(hours)]
    assert all(c >= per_hour for c in counts)  # never fewer than the card asks for
    assert abs(sum(counts) - per_hour * ratio * hours) <= 1.0 + 1e-9
    assert reserve_count(start, hours, per_hour, ratio) == sum(counts)


def test_more_ratio_means_more_reserves_on_the_same_pool() -> None:
    c = card(reserves=2)
    base = plan_grid(pool(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    more = plan_grid(
        pool(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=c, reserve_ratio=1.05
    )
    assert [p.plan_id for p in base.scheduled] == [p.plan_id for p in more.scheduled]
    hours = len({p.hour_window for p in base.reserves})
    assert len(base.reserves) == 2 * hours
    assert len(more.reserves) > len(base.reserves)


@pytest.mark.parametrize("ratio", [0.5, 0.999, float("nan"), float("inf"), True])
def test_a_ratio_below_the_cards_number_or_not_a_number_is_refused(ratio: float) -> None:
    with pytest.raises(ValueError, match="reserve_ratio must be a finite number >= 1"):
        plan_grid(
            pool(8),
            now=NOW,
            horizon_end=DAY,
            committed_tail_end=None,
            card=card(),
            reserve_ratio=ratio,
        )
    with pytest.raises(ValueError, match="reserve_ratio"):
        reserves_in_hour(NOW, 2, ratio)
