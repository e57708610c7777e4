"""RefusalLimiter: at most N refusals written down per kind and minute, the rest counted."""

from __future__ import annotations

import pytest

from vvtv.web.refusals import RefusalLimiter


def test_the_first_n_of_a_minute_pass_then_only_counted() -> None:
    limiter = RefusalLimiter(per_minute=3)
    verdicts = [limiter.admit("bad_token", 120.0 + i) for i in range(10)]
    assert verdicts == [0, 0, 0] + [None] * 7
    # The next minute: written down again, saying how many were left out.
    assert limiter.admit("bad_token", 180.0) == 7
    assert limiter.admit("bad_token", 181.0) == 0


def test_kinds_do_not_share_an_allowance() -> None:
    limiter = RefusalLimiter(per_minute=1)
    assert limiter.admit("bad_token", 0.0) == 0
    assert limiter.admit("bad_token", 1.0) is None
    assert limiter.admit("replayed", 2.0) == 0


def test_a_clock_going_back_opens_a_fresh_minute_rather_than_crashing() -> None:
    limiter = RefusalLimiter(per_minute=1)
    assert limiter.admit("k", 600.0) == 0
    assert limiter.admit("k", 10.0) == 0


@pytest.mark.parametrize("per_minute", [0, -1])
def test_the_allowance_must_be_positive(per_minute: int) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RefusalLimiter(per_minute)
