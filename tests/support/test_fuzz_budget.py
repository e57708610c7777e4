"""The fuzzers' bounds (tests/support/fuzz.py): a time budget in the default suite, a count of
examples under ``-m slow``, and a failure still found, shrunk and reported either way."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import PROBE, budget, deeper


def test_a_budgeted_fuzzer_runs_for_its_budget_then_stops() -> None:
    seen: list[int] = []

    @budget(1.0)
    @given(st.integers())
    def fuzzer(x: int) -> None:
        seen.append(x)
        time.sleep(0.001)  # the cost of one example, not a wait for anything

    start = time.perf_counter()
    fuzzer()
    elapsed = time.perf_counter() - start
    # It stops within the last tenth; a round fills half of what is left, so it overruns by
    # a fraction of the budget at most, never a multiple.
    assert 0.9 <= elapsed < 2.0, elapsed
    assert len(seen) > PROBE, "it stopped after the first round"


def test_a_budgeted_fuzzer_still_finds_shrinks_and_reports_a_failure() -> None:
    @budget(5.0)
    @given(st.integers(min_value=0))
    def fuzzer(x: int) -> None:
        assert x < 1000

    start = time.perf_counter()
    with pytest.raises(AssertionError) as failure:
        fuzzer()
    assert time.perf_counter() - start < 5.0, "a failure must end the run at once"
    assert any("x=1000" in note for note in getattr(failure.value, "__notes__", [])), (
        "the failure was not shrunk to its smallest example"
    )


def test_the_deeper_twin_makes_its_count_of_examples_and_is_slow() -> None:
    seen: list[int] = []

    @budget(0.1)
    @given(st.integers())
    def fuzzer(x: int) -> None:
        seen.append(x)

    twin = deeper(fuzzer, 300)
    assert any(mark.name == "slow" for mark in getattr(twin, "pytestmark", []))
    twin()
    assert len(seen) >= 300


def test_only_a_given_test_can_be_bounded() -> None:
    with pytest.raises(TypeError, match="go on a @given test"):
        budget()(lambda: None)
