"""Pure supervision rules: backoff bounds, restart intensity, declaration errors."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisors import Backoff, ChildSpec, Restart, RestartIntensity, Strategy, Supervisor
from supervisors.testing import Probe, Recording


@given(
    base=st.floats(0.001, 2.0),
    cap=st.floats(0.0, 30.0),
    attempt=st.integers(0, 200),
    seed=st.integers(0, 2**32),
)
def test_backoff_delay_is_full_jitter_below_the_capped_exponential(
    base: float, cap: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base=base, cap=cap)
    delay = backoff.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= min(cap, base * 2**attempt)


def test_backoff_ceiling_doubles_then_stays_at_the_cap() -> None:
    backoff = Backoff(base=0.05, cap=1.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_backoff_delays_spread_over_the_whole_range() -> None:
    rng = random.Random(7)
    delays = [Backoff(base=1.0, cap=1.0).delay(0, rng) for _ in range(2000)]
    assert min(delays) < 0.05 and max(delays) > 0.95  # full jitter, not "ceiling ± a bit"


def test_disabled_backoff_never_waits() -> None:
    assert Backoff(enabled=False).delay(10) == 0.0


@pytest.mark.parametrize("field", ["base", "cap", "reset_after"])
def test_negative_backoff_parameters_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(**{field: -1.0})


def _reference_escalation(times: list[float], limit: int, window: float) -> int | None:
    """1-based index of the restart that is one too many: >= limit others less than T before."""
    for k, t in enumerate(times):
        if sum(1 for u in times[:k] if t - u < window) >= limit:
            return k + 1
    return None


@given(
    limit=st.integers(0, 4),
    window=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 5.0]), max_size=12),
)
def test_intensity_refuses_exactly_the_restart_past_r_inside_t(
    limit: int, window: float, gaps: list[float]
) -> None:
    times, t = [], 0.0
    for gap in gaps:
        t += gap
        times.append(t)
    intensity = RestartIntensity(limit, window)
    refused = next((k + 1 for k, t in enumerate(times) if not intensity.allow(t)), None)
    assert refused == _reference_escalation(times, limit, window)


def test_intensity_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        RestartIntensity(-1, 5.0)
    with pytest.raises(ValueError, match="within_seconds"):
        RestartIntensity(3, 0.0)


def test_child_spec_refuses_bad_fields_naming_them() -> None:
    with pytest.raises(ValueError, match="name"):
        ChildSpec("", lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="factory"):
        ChildSpec("a", factory="not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ChildSpec("a", lambda: None, restart="permanent")  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="shutdown_timeout"):
        ChildSpec("a", lambda: None, shutdown_timeout=0)  # type: ignore[arg-type, return-value]


def test_supervisor_refuses_duplicate_children_and_wrong_types() -> None:
    rec = Recording()
    spec = ChildSpec("a", lambda: Probe(rec))
    with pytest.raises(ValueError, match=r"duplicate child names \['a'\]"):
        Supervisor("root", [spec, spec])
    with pytest.raises(TypeError, match=r"children\[0\]"):
        Supervisor("root", ["a"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="strategy"):
        Supervisor("root", [spec], strategy="one_for_one")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        Supervisor("", [spec])
    with pytest.raises(ValueError, match="max_restarts"):
        Supervisor("root", [spec], max_restarts=-1)


def test_restart_and_strategy_values_are_the_erlang_names() -> None:
    assert [r.value for r in Restart] == ["permanent", "transient", "temporary"]
    assert [s.value for s in Strategy] == ["one_for_one", "one_for_all", "rest_for_one"]
