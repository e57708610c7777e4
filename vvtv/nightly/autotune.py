"""Nightly autotune of the fine weights (SPEC §1.9), bounded and explained.

Only ``TuneWeights`` change — the reserve ratio and the discovery scoring weights — never
an OwnerCard field (structural settings such as horizons, thresholds and guardrails are
the owner's). Each weight moves by at most ``autotune_policy.max_daily_adjustment_pct``
percent of its current value per day, and stays within its absolute bounds.

The rules, from yesterday's ``DayStats``:

- ``reserve_ratio`` (multiplier on ``schedule_policy.reserves_per_hour``): up when the
  fallback rate is above 10 % or the channel spent any minute in emergency — more reserves
  mean fewer slates; down when the fallback rate is under 2 % with no emergency — reserves
  cost downloads.
- ``duration_weight`` (the +0.2 × duration closeness of scoring): up when the aired items'
  mean relative distance from the target duration exceeds 25 %, down under 10 %.
- ``quality_weight`` (the +0.05 per quality signal): up when the QA pass rate is under
  90 %, down at 98 % or more.
- ``mood_weight`` (the +0.08 per preferred mood): up when under 20 % of aired items matched
  a preferred mood, down above 60 %.

The size of each step is proportional to how far the signal is beyond its threshold, and
reaches the full allowance at twice the threshold distance. Without a signal (no items
aired) a weight stays put. Disabled → unchanged, no deltas.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from vvtv.core.model import DailyReport
from vvtv.ownercard.card import AutotunePolicy

BOUNDS: dict[str, tuple[float, float]] = {
    "reserve_ratio": (0.5, 3.0),
    "duration_weight": (0.05, 0.4),
    "mood_weight": (0.02, 0.16),
    "quality_weight": (0.01, 0.1),
}


@attrs.frozen
class TuneWeights:
    """The fine weights autotune may change (defaults: the original's scoring constants)."""

    reserve_ratio: float = 1.0
    duration_weight: float = 0.2
    mood_weight: float = 0.08
    quality_weight: float = 0.05

    def validate(self) -> None:
        for name, (lo, hi) in BOUNDS.items():
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
                raise ValueError(f"tune weight {name} must be between {lo} and {hi}, got {v!r}")

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneWeights:
        """Read persisted weights; missing fields take defaults, unknown or bad ones fail."""
        if not isinstance(data, dict):
            raise ValueError("tune weights must be an object")
        unknown = sorted(set(data) - set(BOUNDS))
        if unknown:
            raise ValueError(f"unknown tune weight(s): {', '.join(unknown)}")
        weights = cls(**{k: float(v) if _num(v) else v for k, v in data.items()})
        weights.validate()
        return weights


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@attrs.frozen
class DayStats:
    """Yesterday's signals for autotune."""

    items_aired: int = 0
    fallback_rate: float = 0.0
    emergency_minutes: float = 0.0
    qa_pass_rate: float = 1.0
    qa_checked: int = 0
    duration_deviation: float | None = None  # mean |duration - target| / target of aired items
    mood_match_rate: float | None = None  # share of aired items with a preferred mood

    def validate(self) -> None:
        for name in ("fallback_rate", "qa_pass_rate", "mood_match_rate"):
            v = getattr(self, name)
            if v is not None and (not _num(v) or not 0.0 <= v <= 1.0):
                raise ValueError(f"day stats {name} must be between 0 and 1, got {v!r}")
        for name in ("emergency_minutes", "duration_deviation"):
            v = getattr(self, name)
            if v is not None and (not _num(v) or not math.isfinite(v) or v < 0):
                raise ValueError(f"day stats {name} must be a number >= 0, got {v!r}")
        for name in ("items_aired", "qa_checked"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"day stats {name} must be an integer >= 0, got {v!r}")

    @classmethod
    def from_daily_report(
        cls,
        report: DailyReport,
        *,
        duration_deviation: float | None = None,
        mood_match_rate: float | None = None,
    ) -> DayStats:
        s = report.summary
        return cls(
            items_aired=int(s.get("items_aired", 0)),
            fallback_rate=float(s.get("fallback_rate", 0.0)),
            emergency_minutes=float(s.get("emergency_minutes", 0.0)),
            qa_pass_rate=float(s.get("qa_pass_rate", 1.0)),
            qa_checked=int(s.get("qa_checked", 0)),
            duration_deviation=duration_deviation,
            mood_match_rate=mood_match_rate,
        )


@attrs.frozen
class Delta:
    """One weight's change, for the audit trail."""

    field: str
    before: float
    after: float
    reason: str

    @property
    def pct(self) -> float:
        return 0.0 if self.before == 0 else (self.after - self.before) / self.before * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "before": round(self.before, 6),
            "after": round(self.after, 6),
            "delta": round(self.after - self.before, 6),
            "pct": round(self.pct, 3),
            "reason": self.reason,
        }


def _direction(value: float | None, low: float, high: float) -> float:
    """-1..1: how far ``value`` is below ``low`` (negative) or above ``high`` (positive),
    reaching ±1 at twice the threshold's distance from the band."""
    if value is None:
        return 0.0
    if value > high:
        return min(1.0, (value - high) / max(high, 1e-9))
    if value < low:
        return -min(1.0, (low - value) / max(low, 1e-9))
    return 0.0


def autotune(
    weights: TuneWeights, stats: DayStats, policy: AutotunePolicy
) -> tuple[TuneWeights, list[Delta]]:
    """Tomorrow's weights and the changes made (empty when nothing moved or disabled)."""
    weights.validate()
    stats.validate()
    pct = policy.max_daily_adjustment_pct
    if not _num(pct) or not 0 <= pct <= 20:
        raise ValueError(f"autotune_policy.max_daily_adjustment_pct must be 0..20, got {pct!r}")
    if not policy.enabled or pct == 0 or stats.items_aired == 0:
        return weights, []

    signals: dict[str, tuple[float, str]] = {}
    trouble = stats.fallback_rate > 0.10 or stats.emergency_minutes > 0
    if trouble:
        push = max(_direction(stats.fallback_rate, 0.02, 0.10), 0.0)
        if stats.emergency_minutes > 0:
            push = max(push, min(1.0, stats.emergency_minutes / 60.0))
        signals["reserve_ratio"] = (
            push,
            f"fallback rate {stats.fallback_rate:.0%}, {stats.emergency_minutes:.0f} emergency min",
        )
    elif stats.fallback_rate < 0.02:
        signals["reserve_ratio"] = (
            -0.5,
            f"fallback rate {stats.fallback_rate:.0%} with no emergency",
        )
    if stats.duration_deviation is not None:
        signals["duration_weight"] = (
            _direction(stats.duration_deviation, 0.10, 0.25),
            f"aired durations {stats.duration_deviation:.0%} off target on average",
        )
    if stats.qa_checked > 0:
        # a low pass rate asks for more weight on quality signals: invert the direction
        signals["quality_weight"] = (
            -_direction(stats.qa_pass_rate, 0.90, 0.98),
            f"QA pass rate {stats.qa_pass_rate:.0%}",
        )
    if stats.mood_match_rate is not None:
        signals["mood_weight"] = (
            -_direction(stats.mood_match_rate, 0.20, 0.60),
            f"{stats.mood_match_rate:.0%} of aired items matched a preferred mood",
        )

    changes: dict[str, float] = {}
    deltas: list[Delta] = []
    for name, (direction, reason) in signals.items():
        if direction == 0:
            continue
        before = getattr(weights, name)
        lo, hi = BOUNDS[name]
        after = min(hi, max(lo, before * (1 + direction * pct / 100.0)))
        if after != before:
            changes[name] = after
            deltas.append(Delta(name, before, after, reason))
    return attrs.evolve(weights, **changes), deltas
