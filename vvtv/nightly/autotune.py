"""Nightly autotune of the fine weights (SPEC §1.9), bounded and explained.

Only ``TuneWeights`` change — the reserve ratio and the discovery scoring weights — never
an OwnerCard field (structural settings such as horizons, thresholds and guardrails are
the owner's). Each weight moves by at most ``autotune_policy.max_daily_adjustment_pct``
percent of its current value per day, and stays within its absolute bounds.

The rules, from yesterday's ``DayStats`` (``aired_signals`` measures the two that come
from the programmes that aired: their durations against the card's target, and their
tags against its preferred moods):

- ``reserve_ratio`` (multiplier on ``schedule_policy.reserves_per_hour``, at least 1: the
  card's number is the owner's floor): up when the fallback rate is above 10 % or the
  channel spent any minute in emergency — more reserves mean fewer slates; down, back
  toward the card's number, when the fallback rate is under 2 % with no emergency —
  reserves cost downloads.
- ``duration_weight`` (the +0.2 × duration closeness of scoring): up when the aired items'
  mean relative distance from the target duration exceeds 25 %, down under 10 %.
- ``quality_weight`` (the +0.05 per quality signal): up when the QA pass rate is under
  90 %, down at 98 % or more.
- ``mood_weight`` (the +0.08 per preferred mood): up when under 20 % of aired items matched
  a preferred mood, down above 60 % (no preferred moods in the card: no signal).

The size of each step is proportional to how far the signal is beyond its threshold, and
reaches the full allowance at twice the threshold distance. Without a signal (no items
aired) a weight stays put. Disabled → unchanged, no deltas.

Every change must change what is planned next (``with_effect``): the planner scores the
pool under the weights in force at each re-plan (``vvtv.discover.screening.plan_score``)
and keeps ``reserves_per_hour × reserve_ratio`` reserves an hour
(``vvtv.plan.grid.reserves_in_hour``). A step that would move no plan's score (no plan in
the pool has a preferred mood, say) or no reserve within the planning horizon is held:
the weight stays, the nightly summary says why, and nothing is audited as a change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from vvtv.core.model import DailyReport, EntryStatus, PlanItem, QueueEntry, SlotType
from vvtv.discover.screening import plan_scorer, preferred_mood_tags
from vvtv.ownercard.card import AutotunePolicy, OwnerCard
from vvtv.plan.grid import reserve_count

BOUNDS: dict[str, tuple[float, float]] = {
    "reserve_ratio": (1.0, 3.0),
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
        values = {k: float(v) if _num(v) else v for k, v in data.items()}
        ratio = values.get("reserve_ratio")
        if isinstance(ratio, float) and LEGACY_RESERVE_FLOOR <= ratio < 1.0:
            # Stored by a version that let the ratio sink below the card's number, where it
            # changed nothing: read as the floor it really was.
            values["reserve_ratio"] = 1.0
        weights = cls(**values)
        weights.validate()
        return weights


#: The lowest reserve ratio earlier versions stored (they allowed 0.5..1, to no effect).
LEGACY_RESERVE_FLOOR = 0.5


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


# --- the day's signals from what aired -------------------------------------------------


def aired_signals(
    aired: Sequence[QueueEntry], plans: Mapping[str, PlanItem], card: OwnerCard
) -> tuple[float | None, float | None]:
    """``(duration_deviation, mood_match_rate)`` of the programmes that aired.

    Programmes are the entries that went on air with a plan behind them (main slots and
    reserves standing in; not the emergency pool's fillers nor the slate, which scoring
    did not choose). ``duration_deviation`` is the mean of ``|duration - target| / target``
    over their real durations; ``mood_match_rate`` the share whose plan has a tag among the
    card's preferred moods (``None`` when the card prefers none, or a plan is unknown).
    Both are ``None`` when no programme aired.
    """
    shown = [
        e
        for e in aired
        if e.plan_id
        and e.status in (EntryStatus.AIRED, EntryStatus.AIRING)
        and e.slot_type is not SlotType.EMERGENCY
    ]
    if not shown:
        return None, None
    target = float(card.editorial_profile.target_avg_duration_sec)
    deviation = sum(abs(e.duration_sec - target) / target for e in shown) / len(shown)
    known = [p for e in shown if (p := plans.get(e.plan_id or "")) is not None]
    if not any(m.strip() for m in card.music_policy.preferred_moods) or not known:
        return deviation, None
    matched = sum(1 for p in known if preferred_mood_tags(p.tags, card) > 0)
    return deviation, matched / len(known)


# --- only changes that change the plan --------------------------------------------------


@attrs.frozen
class Held:
    """A step autotune computed but did not take: it would change nothing planned."""

    delta: Delta
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.delta.to_dict(), "held": self.why}


def with_effect(
    weights: TuneWeights,
    deltas: Sequence[Delta],
    *,
    pool: Sequence[PlanItem],
    card: OwnerCard,
    start: datetime,
) -> tuple[TuneWeights, list[Delta], list[Held]]:
    """The weights with only the ``deltas`` that change what the next re-plan does, those
    deltas, and the ones held back with why.

    ``reserve_ratio``: the reserves kept over the card's planning horizon from ``start``
    must differ. A scoring weight: the score of at least one plan of ``pool`` (the plans
    the next re-plan considers) must differ.
    """
    taken: list[Delta] = []
    held: list[Held] = []
    for delta in deltas:
        trial = attrs.evolve(weights, **{delta.field: delta.after})
        if delta.field == "reserve_ratio":
            policy = card.schedule_policy
            hours = policy.planning_horizon_hours
            before, after = (
                reserve_count(start, hours, policy.reserves_per_hour, w.reserve_ratio)
                for w in (weights, trial)
            )
            if before == after:
                held.append(Held(delta, f"{before} reserves over the next {hours} h either way"))
                continue
        elif not _moves_a_score(pool, card, weights, trial):
            held.append(Held(delta, f"no plan in the pool ({len(pool)}) would score differently"))
            continue
        taken.append(delta)
    tuned = attrs.evolve(weights, **{d.field: d.after for d in taken})
    return tuned, taken, held


def _moves_a_score(
    pool: Sequence[PlanItem], card: OwnerCard, before: TuneWeights, after: TuneWeights
) -> bool:
    old, new = plan_scorer(card, before), plan_scorer(card, after)
    return any(old(p) != new(p) for p in pool)
