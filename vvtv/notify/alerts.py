"""Alert rules and the Alertmanager-like notification state machine (SPEC §5).

Two pure steps, so the whole behaviour is testable without an actor or a clock:

1. ``evaluate(inputs, thresholds)`` turns one measurement of the channel into the
   set of conditions that hold right now: ``{code: (severity, message)}``. Each
   message names the measured value and the threshold it crossed.
2. ``step(states, firing_now, now, cooldown)`` folds that set into the persisted
   ``AlertState`` of every code and says which webhook notifications to send:

   - a condition must hold for its rule's ``for`` time before it *fires*
     (a blip shorter than that is forgotten without a word);
   - notifications are deduplicated by code: one ``alert`` when it fires, then at
     most one re-send per ``cooldown`` while it stays active;
   - when it resolves, one ``alert_clear`` (only if this episode was notified);
   - only high and critical alerts notify (``Severity.notifies``); the others are
     tracked and shown on ``/v1/alerts`` but never reach the webhook;
   - **inhibition** (Alertmanager's ``inhibit_rules``): an alert whose inhibitor is
     active at the same time is one incident with it, and only the inhibitor pages.
     The inhibited alert stays active and visible (``inhibited_by``) but sends nothing
     while inhibited; if it is still active when the inhibitor resolves, it notifies
     then. ``INHIBIT_RULES``: EMERGENCY_ACTIVE inhibits BUFFER_CRITICAL (SPEC §10): the
     channel airing fillers is what a person must hear about, the low buffer is why;
   - **start-up grace** (``hold_until``): until then nothing is sent, so a fresh boot,
     whose buffer is empty by nature, does not page. Alerts still fire and show; one
     still active when the grace ends notifies at the first evaluation after it. Clears
     are never held: a receiver told of an alert before a restart hears it end.

Growth of the fallback rate (FALLBACK_RATE_GROWING) is measured against a
baseline supplied by the caller: the fallback rate 24 hours earlier (the metric
sample closest to now − 24 h). "Rose by more than X" means
``fallback_rate − baseline > X`` in absolute rate units (0.15 = 15 points).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs

from vvtv.core.model import AlertState, Severity

Firing = tuple[Severity, str]
"""A condition that holds now: its severity and a human message with value and threshold."""


@attrs.frozen
class AlertThresholds:
    """Every threshold the rules use; the defaults are SPEC §4's."""

    qa_min: float = 0.85  # VVTV_ALERT_QA_MIN
    fallback_abs: float = 0.30  # VVTV_ALERT_FALLBACK_ABS
    fallback_growth: float = 0.15  # VVTV_ALERT_FALLBACK_GROWTH
    discovery_fail_count: int = 3  # VVTV_ALERT_DISCOVERY_FAIL_COUNT
    stale_factor: float = 2.0  # STREAM_STALE after this many segment durations
    restart_storm_count: int = 3  # ACTOR_RESTART_STORM at this many restarts in the window
    restart_window_s: float = 600.0  # the window the caller counts restarts over (for the message)
    output_down_s: float = 60.0  # VVTV_ALERT_OUTPUT_DOWN_SECS: OUTPUT_DOWN after this long
    # A rate over fewer observations than this (items aired, QA checks in 24 h) is not a
    # rate yet: a fresh channel that aired the slate three times while preparing its first
    # programme has a fallback rate of 75 %, and nothing is wrong.
    min_rate_sample: int = 20


@attrs.frozen
class AlertInputs:
    """One measurement of the channel, gathered by the Alerter's input port.

    ``None`` means "not measured yet" (a fresh channel has no QA results): a rule
    never fires on a value it does not have.
    """

    buffer_minutes: float | None = None
    buffer_critical_minutes: float = 20.0  # from the OwnerCard, never hard-coded
    qa_pass_rate: float | None = None
    fallback_rate: float | None = None
    fallback_rate_baseline: float | None = None  # the fallback rate 24 h earlier
    qa_checked_24h: int | None = None  # QA results behind qa_pass_rate (None: not counted)
    aired_24h: int | None = None  # items aired behind fallback_rate (None: not counted)
    discovery_failures_24h: int = 0  # DISCOVERY_FAILED_DOMAIN audit events in the last 24 h
    emergency_active: bool = False
    last_segment_age_s: float | None = None  # seconds since the live window gained a segment
    segment_target_s: float = 6.0
    actor_restarts: Mapping[str, int] = attrs.field(factory=dict)  # restarts in the window
    cloud_failing: bool = False
    cloud_failing_detail: str = ""
    edge_lag_segments: int | None = None  # None: no edge, or nothing to publish yet
    edge_lag_limit: int = 3  # VVTV_EDGE_LAG_SEGMENTS
    edge_detail: str = ""  # the publisher's last error, if any
    # push outputs (vvtv.outputs): seconds each enabled output has not been connected
    outputs_down: Mapping[str, float] = attrs.field(factory=dict)


@attrs.frozen
class Rule:
    """One alert: its code, severity, how long the condition must hold, and the test.

    ``check`` returns the message when the condition holds, ``None`` otherwise.
    """

    code: str
    severity: Severity
    for_s: float
    check: Callable[[AlertInputs, AlertThresholds], str | None]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _buffer_critical(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.buffer_minutes is None or i.buffer_minutes >= i.buffer_critical_minutes:
        return None
    return (
        f"buffer at {i.buffer_minutes:.1f} min, below the critical "
        f"{i.buffer_critical_minutes:g} min"
    )


def _too_few(count: int | None, t: AlertThresholds) -> bool:
    return count is not None and count < t.min_rate_sample


def _qa_pass_rate_low(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.qa_pass_rate is None or i.qa_pass_rate >= t.qa_min or _too_few(i.qa_checked_24h, t):
        return None
    return f"QA pass rate {_pct(i.qa_pass_rate)}, below the minimum {_pct(t.qa_min)}"


def _fallback_rate_high(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.fallback_rate is None or i.fallback_rate <= t.fallback_abs or _too_few(i.aired_24h, t):
        return None
    return f"fallback rate {_pct(i.fallback_rate)}, above the limit {_pct(t.fallback_abs)}"


def _fallback_rate_growing(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.fallback_rate is None or i.fallback_rate_baseline is None or _too_few(i.aired_24h, t):
        return None
    rise = i.fallback_rate - i.fallback_rate_baseline
    # Rates are ratios of counts: compare at a precision where 0.20 − 0.05 is 0.15.
    if round(rise, 9) <= t.fallback_growth:
        return None
    return (
        f"fallback rate rose {_pct(rise)} in 24 h ({_pct(i.fallback_rate_baseline)} → "
        f"{_pct(i.fallback_rate)}), more than the allowed {_pct(t.fallback_growth)}"
    )


def _discovery_domain_failure(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.discovery_failures_24h < t.discovery_fail_count:
        return None
    return (
        f"{i.discovery_failures_24h} DISCOVERY_FAILED_DOMAIN events in 24 h "
        f"(threshold {t.discovery_fail_count})"
    )


def _emergency_active(i: AlertInputs, t: AlertThresholds) -> str | None:
    return "emergency mode is active" if i.emergency_active else None


def _stream_stale(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.last_segment_age_s is None:
        return None
    limit = t.stale_factor * i.segment_target_s
    if i.last_segment_age_s <= limit:
        return None
    return f"no new live segment for {i.last_segment_age_s:.0f} s (limit {limit:g} s)"


def _actor_restart_storm(i: AlertInputs, t: AlertThresholds) -> str | None:
    storming = sorted(
        (name, n) for name, n in i.actor_restarts.items() if n >= t.restart_storm_count
    )
    if not storming:
        return None
    names = ", ".join(f"{name} ×{n}" for name, n in storming)
    return (
        f"actors restarting repeatedly: {names} in {t.restart_window_s:g} s "
        f"(threshold {t.restart_storm_count})"
    )


def _cloud_sync_failing(i: AlertInputs, t: AlertThresholds) -> str | None:
    if not i.cloud_failing:
        return None
    return "cloud sync failing" + (f": {i.cloud_failing_detail}" if i.cloud_failing_detail else "")


def _edge_lagging(i: AlertInputs, t: AlertThresholds) -> str | None:
    if i.edge_lag_segments is None or i.edge_lag_segments <= i.edge_lag_limit:
        return None
    why = f": {i.edge_detail}" if i.edge_detail else ""
    return (
        f"the edge's playlist is {i.edge_lag_segments} segments behind the origin "
        f"(limit {i.edge_lag_limit}){why}"
    )


def _output_down(i: AlertInputs, t: AlertThresholds) -> str | None:
    # The message names the outputs, not how long: it stays the same while they stay down.
    down = sorted(name for name, s in i.outputs_down.items() if s >= t.output_down_s)
    if not down:
        return None
    return f"push output not connected for over {t.output_down_s:g} s: {', '.join(down)}"


# ``for`` times: long enough to ride out one noisy evaluation, short enough that a
# real problem reaches a person within minutes. Rules whose input already spans a
# window (a 24 h count, a stale age, a restart window) fire at once.
RULES: tuple[Rule, ...] = (
    Rule("BUFFER_CRITICAL", Severity.CRITICAL, 60.0, _buffer_critical),
    Rule("QA_PASS_RATE_LOW", Severity.HIGH, 300.0, _qa_pass_rate_low),
    Rule("FALLBACK_RATE_HIGH", Severity.HIGH, 300.0, _fallback_rate_high),
    Rule("FALLBACK_RATE_GROWING", Severity.MEDIUM, 900.0, _fallback_rate_growing),
    Rule("DISCOVERY_DOMAIN_FAILURE", Severity.HIGH, 0.0, _discovery_domain_failure),
    Rule("EMERGENCY_ACTIVE", Severity.HIGH, 0.0, _emergency_active),
    Rule("STREAM_STALE", Severity.CRITICAL, 0.0, _stream_stale),
    Rule("ACTOR_RESTART_STORM", Severity.HIGH, 0.0, _actor_restart_storm),
    Rule("CLOUD_SYNC_FAILING", Severity.MEDIUM, 300.0, _cloud_sync_failing),
    # Viewers at the edge see a frozen picture: as urgent as a stale origin. The lag itself
    # spans time (N segments), so it fires at once.
    Rule("EDGE_LAGGING", Severity.HIGH, 0.0, _edge_lagging),
    Rule("OUTPUT_DOWN", Severity.HIGH, 0.0, _output_down),
)
FOR_SECONDS: dict[str, float] = {r.code: r.for_s for r in RULES}

# Inhibition: target code -> the codes that inhibit it while active (SPEC §10).
INHIBIT_RULES: Mapping[str, tuple[str, ...]] = {"BUFFER_CRITICAL": ("EMERGENCY_ACTIVE",)}


def inhibitors(
    states: Mapping[str, AlertState], rules: Mapping[str, tuple[str, ...]] = INHIBIT_RULES
) -> dict[str, str]:
    """The active alerts that are inhibited, by code, each with its (first active) inhibitor."""
    out: dict[str, str] = {}
    for target, sources in rules.items():
        s = states.get(target)
        if s is None or not s.active:
            continue
        for source in sources:
            src = states.get(source)
            if src is not None and src.active and source != target:
                out[target] = source
                break
    return out


def evaluate(
    inputs: AlertInputs,
    thresholds: AlertThresholds | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> dict[str, Firing]:
    """The conditions that hold now, by code."""
    t = thresholds if thresholds is not None else AlertThresholds()
    firing: dict[str, Firing] = {}
    for rule in rules:
        message = rule.check(inputs, t)
        if message is not None:
            firing[rule.code] = (rule.severity, message)
    return firing


# --- restart storms ---------------------------------------------------------------------


def restart_totals(tree: Mapping[str, Any]) -> dict[str, int]:
    """Cumulative restarts of every node of a ``supervisors.Runtime.snapshot()`` tree."""
    totals: dict[str, int] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if "name" in node:
            totals[str(node["name"])] = int(node.get("restarts", 0))
        stack.extend(node.get("children", ()))
    return totals


class RestartWindow:
    """Turns the runtime's cumulative restart counters into restarts in the last window.

    Feed it ``restart_totals(runtime.snapshot())`` at every evaluation; the answer is
    ``AlertInputs.actor_restarts``. Restarts before the first observation count as
    recent (the Alerter starts with the daemon, so they are).
    """

    def __init__(self, window_s: float = 600.0) -> None:
        if window_s <= 0:
            raise ValueError(f"restart window must be > 0 s, got {window_s}")
        self.window = timedelta(seconds=window_s)
        self._samples: deque[tuple[datetime, dict[str, int]]] = deque()

    def observe(self, now: datetime, totals: Mapping[str, int]) -> dict[str, int]:
        self._samples.append((now, dict(totals)))
        cutoff = now - self.window
        # Keep one sample at or before the cutoff: it is the baseline.
        while len(self._samples) > 1 and self._samples[1][0] <= cutoff:
            self._samples.popleft()
        at, base = self._samples[0]
        if at > cutoff:
            base = {}
        return {
            name: n - base.get(name, 0) for name, n in totals.items() if n - base.get(name, 0) > 0
        }


# --- notifications -----------------------------------------------------------------------


def rfc3339(at: datetime) -> str:
    """``2026-03-01T12:00:00Z``: UTC, second precision, as the original webhook sent."""
    if at.tzinfo is None:
        raise ValueError(f"timestamp must be timezone-aware, got {at!r}")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class Notification:
    """One webhook event to send, in the order ``step`` produced it."""

    event: Literal["alert", "alert_clear"]
    code: str
    at: datetime
    severity: Severity | None = None
    message: str = ""

    def payload(self) -> dict[str, Any]:
        """The exact SPEC §5 body."""
        if self.event == "alert":
            assert self.severity is not None
            return {
                "event": "alert",
                "code": self.code,
                "severity": str(self.severity),
                "message": self.message,
                "timestamp": rfc3339(self.at),
            }
        return {"event": "alert_clear", "code": self.code, "timestamp": rfc3339(self.at)}


def _notified_this_episode(s: AlertState) -> bool:
    return (
        s.last_notified_at is not None
        and s.firing_since is not None
        and s.last_notified_at >= s.firing_since
    )


def step(
    states: Mapping[str, AlertState],
    firing_now: Mapping[str, Firing],
    now: datetime,
    cooldown: float | timedelta,
    *,
    for_seconds: Mapping[str, float] | None = None,
    inhibit: Mapping[str, tuple[str, ...]] = INHIBIT_RULES,
    hold_until: datetime | None = None,
) -> tuple[dict[str, AlertState], list[Notification]]:
    """Advance every alert's state by one evaluation at ``now``.

    ``states`` is the persisted state by code (codes never seen are absent);
    ``for_seconds`` overrides the rules' ``for`` times (unknown codes: 0); ``inhibit``
    maps a code to the codes that inhibit it; before ``hold_until`` (the start-up
    grace) no ``alert`` is sent. Returns the full new state map and the notifications
    to send, in code order so the same inputs always give the same sequence.
    """
    if now.tzinfo is None:
        raise ValueError(f"step needs a timezone-aware now, got {now!r}")
    if hold_until is not None and hold_until.tzinfo is None:
        raise ValueError(f"step needs a timezone-aware hold_until, got {hold_until!r}")
    cool = cooldown if isinstance(cooldown, timedelta) else timedelta(seconds=cooldown)
    holds = FOR_SECONDS if for_seconds is None else for_seconds
    new: dict[str, AlertState] = dict(states)
    cleared: list[str] = []
    # First every state moves (pending, firing, resolved), then what to send is decided
    # on the new states as a whole: whether an alert is inhibited depends on the others.
    for code in sorted(set(states) | set(firing_now)):
        old = states.get(code)
        if code in firing_now:
            severity, message = firing_now[code]
            s = old or AlertState(code=code, severity=severity)
            s = attrs.evolve(s, severity=severity, message=message)
            if s.pending_since is None:
                s = attrs.evolve(s, pending_since=now)
            if not s.active:
                assert s.pending_since is not None
                held = (now - s.pending_since).total_seconds()
                if held >= holds.get(code, 0.0):
                    s = attrs.evolve(s, active=True, firing_since=now, resolved_at=None)
            new[code] = s
        else:
            assert old is not None
            if old.active:
                if _notified_this_episode(old):
                    cleared.append(code)
                new[code] = attrs.evolve(old, active=False, pending_since=None, resolved_at=now)
            elif old.pending_since is not None:
                new[code] = attrs.evolve(old, pending_since=None)
    muted = inhibitors(new, inhibit)
    held_back = hold_until is not None and now < hold_until
    out: list[Notification] = []
    for code in sorted(new):
        s = new[code]
        if code in cleared:
            out.append(Notification("alert_clear", code, now))
            continue
        if not s.active or not s.severity.notifies or code in muted or held_back:
            continue
        # Newly firing, or firing but not told yet this episode (it was inhibited, held by
        # the grace, or only just escalated to a notifying severity), or due for a re-send.
        if not _notified_this_episode(s) or (
            s.last_notified_at is not None and now - s.last_notified_at >= cool
        ):
            new[code] = attrs.evolve(s, last_notified_at=now)
            out.append(Notification("alert", code, now, s.severity, s.message))
    return new, out


def active_alerts(
    states: Mapping[str, AlertState], inhibit: Mapping[str, tuple[str, ...]] = INHIBIT_RULES
) -> list[dict[str, Any]]:
    """The ``/v1/alerts`` and ``alerts`` topic view: firing alerts, most severe first.

    ``inhibited_by`` names the alert that inhibits this one (it does not page while that
    one is active), or is None."""
    rank = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
    muted = inhibitors(states, inhibit)
    firing = [s for s in states.values() if s.active]
    firing.sort(key=lambda s: (rank[s.severity], s.code))
    return [
        {
            "code": s.code,
            "severity": str(s.severity),
            "message": s.message,
            "since": rfc3339(s.firing_since) if s.firing_since is not None else None,
            "inhibited_by": muted.get(s.code),
        }
        for s in firing
    ]


def changed(old: Mapping[str, AlertState], new: Mapping[str, AlertState]) -> list[AlertState]:
    """The states that differ, to persist only what moved."""
    return [s for code, s in new.items() if old.get(code) != s]
