"""The alert rules of SPEC §5 plus vvtv's own, as pure functions of one measurement."""

from __future__ import annotations

import attrs
import pytest

from vvtv.core.model import Severity
from vvtv.notify.alerts import (
    RULES,
    AlertInputs,
    AlertThresholds,
    RestartWindow,
    evaluate,
    restart_totals,
)

HEALTHY = AlertInputs(
    buffer_minutes=60.0,
    buffer_critical_minutes=20.0,
    qa_pass_rate=0.95,
    fallback_rate=0.05,
    fallback_rate_baseline=0.05,
    discovery_failures_24h=0,
    emergency_active=False,
    last_segment_age_s=3.0,
    segment_target_s=6.0,
    actor_restarts={"buffer": 1},
    cloud_failing=False,
)


def fire(**changes: object) -> dict[str, tuple[Severity, str]]:
    import attrs

    return evaluate(attrs.evolve(HEALTHY, **changes), AlertThresholds())


def test_a_healthy_channel_fires_nothing() -> None:
    assert evaluate(HEALTHY) == {}


def test_nothing_fires_on_values_not_measured_yet() -> None:
    assert evaluate(AlertInputs()) == {}


def test_every_rule_has_a_unique_code_a_severity_and_a_non_negative_for_time() -> None:
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes)) == 11
    assert {
        "BUFFER_CRITICAL",
        "QA_PASS_RATE_LOW",
        "FALLBACK_RATE_HIGH",
        "FALLBACK_RATE_GROWING",
        "DISCOVERY_DOMAIN_FAILURE",
        "EMERGENCY_ACTIVE",
        "STREAM_STALE",
        "ACTOR_RESTART_STORM",
        "CLOUD_SYNC_FAILING",
        "EDGE_LAGGING",
        "OUTPUT_DOWN",
    } == set(codes)
    assert all(r.for_s >= 0 for r in RULES)


def test_buffer_critical_uses_the_owner_card_threshold_not_20() -> None:
    assert "BUFFER_CRITICAL" not in fire(buffer_minutes=25.0)
    severity, message = fire(buffer_minutes=25.0, buffer_critical_minutes=30.0)["BUFFER_CRITICAL"]
    assert severity is Severity.CRITICAL
    assert "25.0 min" in message and "30 min" in message
    assert "BUFFER_CRITICAL" not in fire(buffer_minutes=30.0, buffer_critical_minutes=30.0)


@pytest.mark.parametrize(
    ("changes", "code", "severity", "needles"),
    [
        ({"qa_pass_rate": 0.80}, "QA_PASS_RATE_LOW", Severity.HIGH, ("80.0%", "85.0%")),
        (
            {"fallback_rate": 0.31, "fallback_rate_baseline": 0.30},
            "FALLBACK_RATE_HIGH",
            Severity.HIGH,
            ("31.0%", "30.0%"),
        ),
        (
            {"fallback_rate": 0.25, "fallback_rate_baseline": 0.05},
            "FALLBACK_RATE_GROWING",
            Severity.MEDIUM,
            ("20.0%", "15.0%"),
        ),
        (
            {"discovery_failures_24h": 3},
            "DISCOVERY_DOMAIN_FAILURE",
            Severity.HIGH,
            ("3 DISCOVERY_FAILED_DOMAIN", "threshold 3"),
        ),
        ({"emergency_active": True}, "EMERGENCY_ACTIVE", Severity.HIGH, ("emergency",)),
        ({"last_segment_age_s": 13.0}, "STREAM_STALE", Severity.CRITICAL, ("13 s", "12 s")),
        (
            {"actor_restarts": {"committer": 3, "buffer": 1}},
            "ACTOR_RESTART_STORM",
            Severity.HIGH,
            ("committer ×3",),
        ),
        (
            {"cloud_failing": True, "cloud_failing_detail": "HTTP 503"},
            "CLOUD_SYNC_FAILING",
            Severity.MEDIUM,
            ("HTTP 503",),
        ),
        (
            {"edge_lag_segments": 4, "edge_lag_limit": 3, "edge_detail": "HTTP 503"},
            "EDGE_LAGGING",
            Severity.HIGH,
            ("4 segments", "limit 3", "HTTP 503"),
        ),
        (
            {"outputs_down": {"youtube": 61.0, "twitch": 5.0}},
            "OUTPUT_DOWN",
            Severity.HIGH,
            ("youtube", "60 s"),
        ),
    ],
)
def test_each_rule_fires_with_its_severity_and_a_message_naming_value_and_threshold(
    changes: dict[str, object], code: str, severity: Severity, needles: tuple[str, ...]
) -> None:
    fired = fire(**changes)
    assert set(fired) == {code}
    got_severity, message = fired[code]
    assert got_severity is severity
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    "changes",
    [
        {"qa_pass_rate": 0.85},  # at the minimum is fine
        {"fallback_rate": 0.30, "fallback_rate_baseline": 0.30},  # at the limit is fine
        {"fallback_rate": 0.20, "fallback_rate_baseline": 0.05},  # rose exactly 15 points
        {"discovery_failures_24h": 2},
        {"last_segment_age_s": 12.0},  # exactly 2 × target
        {"actor_restarts": {"committer": 2}},
        {"edge_lag_segments": 3, "edge_lag_limit": 3},  # N behind is not more than N
        {"outputs_down": {"youtube": 59.9}},  # not yet down for the whole minute
    ],
)
def test_values_at_the_threshold_do_not_fire(changes: dict[str, object]) -> None:
    assert fire(**changes) == {}


def test_thresholds_come_from_the_settings() -> None:
    import attrs

    inputs = attrs.evolve(HEALTHY, qa_pass_rate=0.90, discovery_failures_24h=1)
    strict = AlertThresholds(qa_min=0.95, discovery_fail_count=1)
    assert set(evaluate(inputs, strict)) == {"QA_PASS_RATE_LOW", "DISCOVERY_DOMAIN_FAILURE"}


def test_a_rate_over_too_few_items_is_not_a_rate_yet() -> None:
    import attrs

    # A fresh channel: the slate aired four times while the first programme was prepared,
    # one programme aired since, one QA check of two failed.
    fresh = attrs.evolve(
        HEALTHY,
        fallback_rate=0.8,
        fallback_rate_baseline=0.0,
        aired_24h=5,
        qa_pass_rate=0.5,
        qa_checked_24h=2,
    )
    assert evaluate(fresh) == {}
    counted = attrs.evolve(fresh, aired_24h=20, qa_checked_24h=20)
    assert set(evaluate(counted)) == {
        "FALLBACK_RATE_HIGH",
        "FALLBACK_RATE_GROWING",
        "QA_PASS_RATE_LOW",
    }
    assert set(evaluate(fresh, AlertThresholds(min_rate_sample=2))) == set(evaluate(counted))


def test_restart_totals_walk_the_runtime_snapshot_tree() -> None:
    tree = {
        "name": "root",
        "restarts": 0,
        "children": [
            {"name": "api", "restarts": 1, "children": []},
            {"name": "pipeline", "restarts": 0, "children": [{"name": "buffer", "restarts": 4}]},
        ],
    }
    assert restart_totals(tree) == {"root": 0, "api": 1, "pipeline": 0, "buffer": 4}


def test_the_restart_window_counts_only_recent_restarts() -> None:
    from datetime import timedelta

    from vvtv.core.clock import utc

    t0 = utc(2026, 3, 1, 12)
    w = RestartWindow(window_s=600)
    assert w.observe(t0, {"buffer": 2}) == {"buffer": 2}  # since start-up: recent
    assert w.observe(t0 + timedelta(seconds=300), {"buffer": 5}) == {"buffer": 5}
    # 10 min after the first sample it becomes the baseline.
    assert w.observe(t0 + timedelta(seconds=600), {"buffer": 5}) == {"buffer": 3}
    assert w.observe(t0 + timedelta(seconds=900), {"buffer": 6}) == {"buffer": 1}
    assert w.observe(t0 + timedelta(seconds=2000), {"buffer": 6}) == {}
    with pytest.raises(ValueError, match="window"):
        RestartWindow(0)


def test_output_down_names_every_output_down_too_long_and_keeps_its_message() -> None:
    _, message = fire(outputs_down={"youtube": 61.0, "twitch": 5.0})["OUTPUT_DOWN"]
    assert "twitch" not in message  # down, but not for long yet
    later = fire(outputs_down={"youtube": 300.0, "twitch": 90.0})["OUTPUT_DOWN"][1]
    assert "youtube" in later and "twitch" in later
    # The same outputs down longer: the same message (the alert state is not rewritten).
    assert fire(outputs_down={"youtube": 900.0, "twitch": 400.0})["OUTPUT_DOWN"][1] == later
    strict = evaluate(
        attrs.evolve(HEALTHY, outputs_down={"srt": 11.0}), AlertThresholds(output_down_s=10)
    )
    assert "OUTPUT_DOWN" in strict
