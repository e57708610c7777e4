"""The Alertmanager-like notification state machine: for-time, dedup, cooldown, clear."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from vvtv.core.clock import utc
from vvtv.core.model import AlertState, Severity
from vvtv.notify.alerts import (
    INHIBIT_RULES,
    Firing,
    Notification,
    active_alerts,
    changed,
    inhibitors,
    rfc3339,
    step,
)

T0 = utc(2026, 3, 1, 12)
BUF: dict[str, Firing] = {"BUFFER_CRITICAL": (Severity.CRITICAL, "buffer at 10.0 min")}
COOLDOWN = 900.0


def run(
    timeline: list[tuple[float, dict[str, Firing]]],
    states: dict[str, AlertState] | None = None,
) -> tuple[dict[str, AlertState], list[Notification]]:
    """Feed evaluations at T0 + seconds; collect every notification."""
    st = dict(states or {})
    sent: list[Notification] = []
    for seconds, firing in timeline:
        st, out = step(st, firing, T0 + timedelta(seconds=seconds), COOLDOWN)
        sent += out
    return st, sent


def every(seconds: float, until: float, firing: dict[str, Firing], start: float = 0.0):
    t = start
    while t <= until:
        yield (t, firing)
        t += seconds


def test_an_alert_held_shorter_than_its_for_time_never_notifies() -> None:
    # BUFFER_CRITICAL must hold 60 s; it holds 59 s and clears.
    states, sent = run([(0, BUF), (30, BUF), (59, BUF), (60, {}), (120, BUF), (150, {})])
    assert sent == []
    assert not states["BUFFER_CRITICAL"].active
    assert states["BUFFER_CRITICAL"].pending_since is None


def test_an_alert_fires_once_it_has_held_for_its_for_time() -> None:
    states, sent = run([(0, BUF), (30, BUF), (60, BUF)])
    assert [(n.event, n.code, n.at) for n in sent] == [
        ("alert", "BUFFER_CRITICAL", T0 + timedelta(seconds=60))
    ]
    s = states["BUFFER_CRITICAL"]
    assert s.active and s.firing_since == T0 + timedelta(seconds=60)
    assert s.pending_since == T0


def test_one_notification_per_code_per_cooldown_while_active() -> None:
    _, sent = run(list(every(60, 3600, BUF)))
    times = [(n.at - T0).total_seconds() for n in sent]
    # fires at 60 s, then re-sent every 900 s while still active.
    assert times == [60, 960, 1860, 2760]
    assert all(n.event == "alert" and n.code == "BUFFER_CRITICAL" for n in sent)


def test_a_resolved_alert_sends_one_clear_and_a_new_episode_notifies_again() -> None:
    timeline = [*every(60, 300, BUF), (360, {}), (420, {}), *every(60, 540, BUF, start=480)]
    states, sent = run(timeline)
    assert [(n.event, (n.at - T0).total_seconds()) for n in sent] == [
        ("alert", 60),
        ("alert_clear", 360),
        ("alert", 540),
    ]
    assert states["BUFFER_CRITICAL"].resolved_at is None


def test_only_high_and_critical_reach_the_webhook_but_all_are_tracked() -> None:
    medium: dict[str, Firing] = {"FALLBACK_RATE_GROWING": (Severity.MEDIUM, "rose")}
    states, sent = run([*every(60, 2000, medium), (2060, {})])
    assert sent == []
    assert states["FALLBACK_RATE_GROWING"].resolved_at == T0 + timedelta(seconds=2060)


def test_a_clear_is_sent_only_for_an_episode_that_was_notified() -> None:
    medium: dict[str, Firing] = {"CLOUD_SYNC_FAILING": (Severity.MEDIUM, "down")}
    _, sent = run([(0, medium), (300, medium), (360, {})])
    assert sent == []


def test_an_alert_escalating_to_a_notifying_severity_notifies_at_once() -> None:
    medium: dict[str, Firing] = {"X": (Severity.MEDIUM, "meh")}
    high: dict[str, Firing] = {"X": (Severity.HIGH, "bad")}
    _, sent = run([(0, medium), (10, high), (20, high), (30, {})])
    assert [(n.event, n.severity, (n.at - T0).total_seconds()) for n in sent] == [
        ("alert", Severity.HIGH, 10),
        ("alert_clear", None, 30),
    ]


def test_state_restored_mid_alert_neither_resends_nor_forgets() -> None:
    before, sent_before = run([(0, BUF), (60, BUF), (120, BUF)])
    # A restart: the next evaluation starts from the persisted states.
    _, sent_after = run([(180, BUF), (600, BUF), (960, BUF), (1000, {})], before)
    assert [n.at for n in sent_before] == [T0 + timedelta(seconds=60)]
    assert [(n.event, (n.at - T0).total_seconds()) for n in sent_after] == [
        ("alert", 960),
        ("alert_clear", 1000),
    ]


def test_payloads_are_exactly_the_spec_shapes() -> None:
    at = utc(2026, 3, 1, 12, 1, 2)
    alert = Notification("alert", "QA_PASS_RATE_LOW", at, Severity.HIGH, "QA 80%")
    clear = Notification("alert_clear", "QA_PASS_RATE_LOW", at)
    assert alert.payload() == {
        "event": "alert",
        "code": "QA_PASS_RATE_LOW",
        "severity": "high",
        "message": "QA 80%",
        "timestamp": "2026-03-01T12:01:02Z",
    }
    assert clear.payload() == {
        "event": "alert_clear",
        "code": "QA_PASS_RATE_LOW",
        "timestamp": "2026-03-01T12:01:02Z",
    }


def test_notifications_of_one_evaluation_come_in_a_stable_order() -> None:
    many: dict[str, Firing] = {
        "STREAM_STALE": (Severity.CRITICAL, "stale"),
        "EMERGENCY_ACTIVE": (Severity.HIGH, "on"),
    }
    _, sent = run([(0, many)])
    assert [n.code for n in sent] == ["EMERGENCY_ACTIVE", "STREAM_STALE"]


def test_active_alerts_lists_firing_ones_most_severe_first_with_since() -> None:
    many: dict[str, Firing] = {
        "EMERGENCY_ACTIVE": (Severity.HIGH, "on"),
        "STREAM_STALE": (Severity.CRITICAL, "stale"),
        "BUFFER_CRITICAL": (Severity.CRITICAL, "low"),  # still pending (60 s)
    }
    states, _ = run([(0, many)])
    assert active_alerts(states) == [
        {
            "code": "STREAM_STALE",
            "severity": "critical",
            "message": "stale",
            "since": rfc3339(T0),
            "inhibited_by": None,
        },
        {
            "code": "EMERGENCY_ACTIVE",
            "severity": "high",
            "message": "on",
            "since": rfc3339(T0),
            "inhibited_by": None,
        },
    ]


def test_changed_reports_only_states_that_moved() -> None:
    s1, _ = run([(0, BUF)])
    s2, _ = step(s1, BUF, T0 + timedelta(seconds=10), COOLDOWN)
    assert changed(s1, s2) == []  # still pending, nothing new to persist
    s3, _ = step(s2, BUF, T0 + timedelta(seconds=60), COOLDOWN)
    assert [s.code for s in changed(s2, s3)] == ["BUFFER_CRITICAL"]


# --- inhibition and the start-up grace ------------------------------------------------

EMERGENCY: dict[str, Firing] = {"EMERGENCY_ACTIVE": (Severity.HIGH, "emergency mode is active")}
INCIDENT: dict[str, Firing] = {**BUF, **EMERGENCY}


def test_emergency_and_a_critical_buffer_are_one_incident_only_the_emergency_pages() -> None:
    states, sent = run([*every(60, 3000, INCIDENT), (3060, {})])
    # EMERGENCY_ACTIVE fires at once, is re-sent every cooldown and cleared; BUFFER_CRITICAL
    # fires at 60 s, inhibited all along: never sent, never cleared.
    assert [(n.event, n.code, (n.at - T0).total_seconds()) for n in sent] == [
        ("alert", "EMERGENCY_ACTIVE", 0),
        ("alert", "EMERGENCY_ACTIVE", 900),
        ("alert", "EMERGENCY_ACTIVE", 1800),
        ("alert", "EMERGENCY_ACTIVE", 2700),
        ("alert_clear", "EMERGENCY_ACTIVE", 3060),
    ]
    assert states["BUFFER_CRITICAL"].last_notified_at is None


def test_an_inhibited_alert_is_shown_with_its_inhibitor() -> None:
    states, _ = run([(0, INCIDENT), (60, INCIDENT)])
    shown = {a["code"]: a["inhibited_by"] for a in active_alerts(states)}
    assert shown == {"BUFFER_CRITICAL": "EMERGENCY_ACTIVE", "EMERGENCY_ACTIVE": None}
    assert inhibitors(states) == {"BUFFER_CRITICAL": "EMERGENCY_ACTIVE"}


def test_an_inhibited_alert_still_active_when_the_inhibitor_ends_pages_then() -> None:
    # The operator forces emergency off while the buffer is still critical.
    _, sent = run([(0, INCIDENT), (60, INCIDENT), (120, BUF), (180, BUF), (240, {})])
    assert [(n.event, n.code, (n.at - T0).total_seconds()) for n in sent] == [
        ("alert", "EMERGENCY_ACTIVE", 0),
        ("alert", "BUFFER_CRITICAL", 120),
        ("alert_clear", "EMERGENCY_ACTIVE", 120),
        ("alert_clear", "BUFFER_CRITICAL", 240),
    ]


def test_inhibition_follows_the_rules_given() -> None:
    _, sent = run_with([(0, INCIDENT), (60, INCIDENT)], inhibit={})
    assert sorted(n.code for n in sent) == ["BUFFER_CRITICAL", "EMERGENCY_ACTIVE"]
    assert INHIBIT_RULES == {"BUFFER_CRITICAL": ("EMERGENCY_ACTIVE",)}


def test_a_boot_that_recovers_within_the_grace_never_pages() -> None:
    grace = T0 + timedelta(seconds=300)
    states, sent = run_with([*every(30, 150, INCIDENT), (180, {}), (360, {})], hold_until=grace)
    assert sent == []
    assert not any(s.active for s in states.values())


def test_what_is_still_firing_when_the_grace_ends_is_sent_then() -> None:
    grace = T0 + timedelta(seconds=300)
    stale: dict[str, Firing] = {"STREAM_STALE": (Severity.CRITICAL, "stale")}
    _, sent = run_with([*every(60, 600, stale), (660, {})], hold_until=grace)
    assert [(n.event, (n.at - T0).total_seconds()) for n in sent] == [
        ("alert", 300),
        ("alert_clear", 660),
    ]


def test_a_clear_is_never_held_by_the_grace() -> None:
    # Notified before a restart; it ends during the next boot's grace.
    before, _ = run([(0, EMERGENCY)])
    grace = T0 + timedelta(seconds=900)
    _, sent = run_with([(600, EMERGENCY), (660, {})], before, hold_until=grace)
    assert [(n.event, n.code) for n in sent] == [("alert_clear", "EMERGENCY_ACTIVE")]


def run_with(
    timeline: list[tuple[float, dict[str, Firing]]],
    states: dict[str, AlertState] | None = None,
    **options: Any,
) -> tuple[dict[str, AlertState], list[Notification]]:
    st = dict(states or {})
    sent: list[Notification] = []
    for seconds, firing in timeline:
        st, out = step(st, firing, T0 + timedelta(seconds=seconds), COOLDOWN, **options)
        sent += out
    return st, sent


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        step({}, BUF, datetime(2026, 3, 1, 12), COOLDOWN)
    with pytest.raises(ValueError, match="timezone-aware"):
        step({}, BUF, T0, COOLDOWN, hold_until=datetime(2026, 3, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 3, 1))
