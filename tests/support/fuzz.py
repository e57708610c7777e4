"""Fuzzers bounded in time: a few seconds each in the default suite, far deeper under ``-m slow``.

Hypothesis bounds a run by its number of examples, and an example's cost differs a
hundredfold between fuzzers (a feed parsed in memory; a signed request through a whole
daemon) and from one machine or load to the next. So the default suite bounds each fuzzer in
time instead::

    @budget()            # QUICK_S seconds (the default suite)
    @given(...)
    def test_any_feed_is_read_or_refused(...): ...

    test_ten_thousand_feeds_are_read_or_refused = deeper(test_any_feed_is_read_or_refused)

``budget(seconds)`` runs hypothesis in rounds: a first round of ``PROBE`` examples measures
the rate, then each round is sized to fill half of what is left, until less than a tenth of
``seconds`` is left (at least one round). Each round is a whole hypothesis
run: a failure is shrunk and reported as usual, and the example database replays it first
next time. ``deeper(test, examples)`` is the same fuzzer as a ``slow`` test making
``examples`` examples in one run (default ``DEEP_EXAMPLES``); ``@deep(examples)`` above a
``@given`` is the same for a slow fuzzer written on its own.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

QUICK_S = 4.0  # seconds per fuzzer in the default suite
DEEP_EXAMPLES = 10_000  # examples per fuzzer under -m slow
PROBE = 20  # the first round's examples, to measure the rate
MAX_ROUND = 100_000
LAST_FRACTION = 0.1  # stop once less than this share of the budget is left

#: What every fuzzer runs with: no per-example deadline (a loaded machine is not a bug), no
#: health check about fixtures or slow data (the fuzzers reach real servers on purpose).
BASE = settings(deadline=None, suppress_health_check=list(HealthCheck))

Test = Callable[..., None]


def _given(test: Test) -> Test:
    if not getattr(test, "is_hypothesis_test", False):
        raise TypeError(f"{test.__name__}: @budget and deeper() go on a @given test")
    return test


def _with_examples(test: Test, parent: settings, examples: int) -> None:
    # The settings a @given test runs with are read from this attribute at each call (it is
    # what @settings sets): each round gets its own count.
    test._hypothesis_internal_use_settings = settings(parent, max_examples=examples)  # type: ignore[attr-defined]


def budget(seconds: float = QUICK_S, parent: settings = BASE) -> Callable[[Test], Test]:
    """Run a ``@given`` test for ``seconds`` of examples (see the module docstring)."""

    def wrap(test: Test) -> Test:
        given_test = _given(test)

        @functools.wraps(given_test)
        def run(*args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            examples = PROBE
            while True:
                _with_examples(given_test, parent, examples)
                began = time.perf_counter()
                given_test(*args, **kwargs)
                ended = time.perf_counter()
                left = seconds - (ended - start)
                if left <= seconds * LAST_FRACTION:
                    return
                # Half of what is left: a round slower than the last one measured (a big
                # example, a busy machine) overruns the budget by a fraction of it, at most.
                rate = examples / max(ended - began, 1e-6)
                examples = max(PROBE, min(MAX_ROUND, int(rate * left / 2)))

        run.fuzz_seconds = seconds  # type: ignore[attr-defined]
        run.fuzz_test = given_test  # type: ignore[attr-defined]  # for deeper()
        return run

    return wrap


def deeper(test: Test, examples: int = DEEP_EXAMPLES, parent: settings = BASE) -> Test:
    """The fuzzer ``test`` (a ``@budget`` or plain ``@given`` test) as a slow test of
    ``examples`` examples."""
    given_test = _given(getattr(test, "fuzz_test", test))

    @functools.wraps(given_test)
    def run(*args: Any, **kwargs: Any) -> None:
        _with_examples(given_test, parent, examples)
        given_test(*args, **kwargs)

    run.fuzz_examples = examples  # type: ignore[attr-defined]
    return pytest.mark.slow(run)


def deep(examples: int = DEEP_EXAMPLES, parent: settings = BASE) -> Callable[[Test], Test]:
    """``deeper`` as a decorator, for a slow fuzzer written apart from its quick one."""
    return lambda test: deeper(test, examples, parent)
