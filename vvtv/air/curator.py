"""The curator: spots repetition in the next hours and reorders the queue, under policy (SPEC §1.8).

Three pure steps the Buffer runs on a schedule:

1. ``review`` looks at the lookahead (``curator_policy.lookahead_hours``) of the timeline for
   three problems — a run of the same theme longer than
   ``editorial_profile.max_consecutive_same_theme``, a theme taking more than
   ``CuratorMode.max_theme_share`` of the lookahead's minutes, and long blocks (two items
   longer than 1.5 × ``target_avg_duration_sec`` back to back) — and proposes, for each,
   the best swap (two entries exchange places) or reorder (one entry moves earlier, the
   ones in between shift by one) that fixes it without making any guardrail worse.
2. ``decide`` says whether a suggestion is applied or only recorded: applied only when the
   mode is ``auto``, ``curator_policy.auto_apply`` is on, the confidence reaches the
   minimum, fewer than the maximum reorders were applied in the last hour, the suggestion
   still matches the timeline, it moves nothing on air or starting within
   ``curator_policy.frozen_minutes``, and no guardrail gets worse.
3. ``apply`` performs it: the affected span is re-timed back to back from where it began,
   so the total duration, the contiguity and everything after the span are unchanged.

Guardrails (SPEC §1.2), measured over the timeline from the playhead on: the excess of
same-theme runs over the maximum, and the shortfall of distinct themes in each window of
``min_unique_themes_per_block`` items (relative to what the queue's themes allow).
Entries without a theme take part in neither.

Confidence (0–1): 0.95 for a change that removes the problem entirely, 0.75 when it only
reduces it, minus 0.03 per position of distance between the places involved beyond the
first, minus 0.05 for a reorder (it shifts more entries than a swap); saturation fixes
start from 0.85 since shares are a softer signal. Every suggestion and decision is audited
by the Buffer with ``Suggestion.audit_details`` (before, after, confidence, reason).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from vvtv.air import timeline
from vvtv.core.model import QueueEntry
from vvtv.ownercard.card import CuratorPolicy, EditorialProfile

LONG_FACTOR = 1.5
"""An item longer than this × ``target_avg_duration_sec`` is "long"."""

MAX_DISTANCE = 24
"""Candidates are looked for at most this many positions away (confidence is low beyond)."""

MAX_SUGGESTIONS = 8
"""Per review: at most this many problems are worked on (a few are applied per hour anyway),
which bounds the cost of a review on a timeline crowded with short fillers."""


class Mode(enum.StrEnum):
    AUTO = "auto"
    ADVISE = "advise"
    OFF = "off"


@attrs.frozen
class CuratorMode:
    """The operator's curator setting: a mode and limits at most as loose as the OwnerCard's.

    ``min_confidence``/``max_reorders_per_hour`` of None mean "the OwnerCard's value".
    """

    mode: Mode = Mode.AUTO
    min_confidence: float | None = None
    max_reorders_per_hour: int | None = None
    max_theme_share: float = 0.5

    @classmethod
    def from_request(
        cls, mode: str, limits: Mapping[str, Any], policy: CuratorPolicy
    ) -> CuratorMode:
        """Validate an API request (``{"mode": ..., **limits}``); ValueError says what is wrong."""
        try:
            parsed = Mode(mode)
        except ValueError:
            raise ValueError(
                f"curator mode must be one of auto, advise, off; got {mode!r}"
            ) from None
        known = {"min_confidence", "max_reorders_per_hour", "max_theme_share"}
        unknown = sorted(set(limits) - known)
        if unknown:
            raise ValueError(
                f"unknown curator limit(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        min_conf = limits.get("min_confidence")
        if min_conf is not None:
            if not _is_number(min_conf) or not policy.min_confidence <= min_conf <= 1.0:
                raise ValueError(
                    f"min_confidence must be between the OwnerCard's {policy.min_confidence} "
                    f"and 1.0, got {min_conf!r}"
                )
            min_conf = float(min_conf)
        max_r = limits.get("max_reorders_per_hour")
        if max_r is not None and (
            not isinstance(max_r, int)
            or isinstance(max_r, bool)
            or not 0 <= max_r <= policy.max_reorders_per_hour
        ):
            raise ValueError(
                f"max_reorders_per_hour must be an integer between 0 and the OwnerCard's "
                f"{policy.max_reorders_per_hour}, got {max_r!r}"
            )
        share = limits.get("max_theme_share", 0.5)
        if not _is_number(share) or not 0.1 <= share <= 1.0:
            raise ValueError(f"max_theme_share must be between 0.1 and 1.0, got {share!r}")
        return cls(parsed, min_conf, max_r, float(share))

    def min_confidence_for(self, policy: CuratorPolicy) -> float:
        if self.min_confidence is None:
            return policy.min_confidence
        return max(self.min_confidence, policy.min_confidence)

    def max_reorders_for(self, policy: CuratorPolicy) -> int:
        if self.max_reorders_per_hour is None:
            return policy.max_reorders_per_hour
        return min(self.max_reorders_per_hour, policy.max_reorders_per_hour)

    def to_dict(self, policy: CuratorPolicy) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "min_confidence": self.min_confidence_for(policy),
            "max_reorders_per_hour": self.max_reorders_for(policy),
            "max_theme_share": self.max_theme_share,
            "auto_apply": policy.auto_apply,
        }


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@attrs.frozen
class Suggestion:
    """A proposed change: the span ``before`` (entry ids in air order) becomes ``after``."""

    kind: str  # "swap" | "reorder"
    issue: str  # "same_theme_run" | "theme_saturation" | "long_block"
    entry_ids: tuple[str, ...]  # the entries that change place deliberately
    before: tuple[str, ...]
    after: tuple[str, ...]
    confidence: float
    reason: str
    made_at: datetime

    def audit_details(
        self, themes: Mapping[str, str] | None = None, decision: Decision | None = None
    ) -> dict[str, Any]:
        """What the audit trail records: before, after, score, why, and what was decided.

        The Buffer audits every suggestion as ``AuditType.CURATOR_SUGGESTED`` and, when it
        applies one, also ``AuditType.CURATOR_APPLIED`` — both with these details.
        """
        details: dict[str, Any] = {
            "kind": self.kind,
            "issue": self.issue,
            "entry_ids": list(self.entry_ids),
            "before": list(self.before),
            "after": list(self.after),
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
        }
        if decision is not None:
            details["decision"] = decision.action
            details["decision_reason"] = decision.reason
        if themes:
            details["themes_before"] = [themes.get(e, "") for e in self.before]
            details["themes_after"] = [themes.get(e, "") for e in self.after]
        return details


@attrs.frozen
class CuratorAction:
    """A suggestion the Buffer recorded, and whether it was applied."""

    at: datetime
    suggestion: Suggestion
    applied: bool


@attrs.frozen
class Decision:
    apply: bool
    reason: str

    @property
    def action(self) -> str:
        return "apply" if self.apply else "record_only"


def applied_in_last_hour(actions: Sequence[CuratorAction], now: datetime) -> int:
    """How many actions were applied in the hour before ``now``."""
    since = now - timedelta(hours=1)
    return sum(1 for a in actions if a.applied and since < a.at <= now)


# --- guardrails ------------------------------------------------------------------------


@attrs.frozen
class Guardrails:
    """How far a sequence is from the editorial rules (0 and 0 = all kept)."""

    theme_excess: int
    unique_shortfall: int

    def no_worse_than(self, other: Guardrails) -> bool:
        return (
            self.theme_excess <= other.theme_excess
            and self.unique_shortfall <= other.unique_shortfall
        )


def _runs(themes: Sequence[str]) -> list[tuple[int, int]]:
    """(start, length) of each run of one non-empty theme."""
    out, i = [], 0
    while i < len(themes):
        j = i
        while j + 1 < len(themes) and themes[j + 1] == themes[i]:
            j += 1
        if themes[i]:
            out.append((i, j - i + 1))
        i = j + 1
    return out


def guardrails(themes: Sequence[str], editorial: EditorialProfile) -> Guardrails:
    """The guardrail measures of a sequence of themes (in air order)."""
    limit = editorial.max_consecutive_same_theme
    excess = sum(max(0, n - limit) for _, n in _runs(themes))
    block = editorial.min_unique_themes_per_block
    named = [t for t in themes if t]
    possible = min(block, len(set(named)))
    shortfall = 0
    if block > 1 and len(themes) >= block:
        for i in range(len(themes) - block + 1):
            distinct = len({t for t in themes[i : i + block] if t})
            shortfall += max(0, possible - distinct)
    return Guardrails(excess, shortfall)


# --- review ---------------------------------------------------------------------------


def _permute(ids: list[str], kind: str, i: int, j: int) -> list[str]:
    """``ids`` with a swap of i and j, or j moved to position i (i < j)."""
    out = list(ids)
    if kind == "swap":
        out[i], out[j] = out[j], out[i]
    else:
        out.insert(i, out.pop(j))
    return out


def _frozen_count(seq: Sequence[QueueEntry], now: datetime, policy: CuratorPolicy) -> int:
    """How many entries at the head of ``seq`` may not move (on air, or starting soon)."""
    limit = now + timedelta(minutes=policy.frozen_minutes)
    n = 0
    while n < len(seq) and (seq[n].start_at <= now or seq[n].start_at < limit):
        n += 1
    return n


def _confidence(full_fix: bool, distance: int, kind: str, base: float = 0.95) -> float:
    c = (base if full_fix else base - 0.2) - 0.03 * max(0, distance - 1)
    if kind == "reorder":
        c -= 0.05
    return round(min(0.99, max(0.05, c)), 3)


@attrs.frozen
class _Context:
    seq: list[QueueEntry]
    ids: list[str]
    themes: dict[str, str]
    durations: dict[str, float]
    frozen: int
    look_end: int  # entries [0, look_end) start within the lookahead
    pinned: frozenset[str]
    editorial: EditorialProfile

    def themes_of(self, ids: Sequence[str]) -> list[str]:
        return [self.themes[i] for i in ids]


def _long(ctx: _Context, eid: str) -> bool:
    return ctx.durations[eid] > LONG_FACTOR * ctx.editorial.target_avg_duration_sec


def _long_pairs(ctx: _Context, ids: Sequence[str], end: int) -> int:
    return sum(1 for a, b in itertools.pairwise(ids[:end]) if _long(ctx, a) and _long(ctx, b))


def _suggestion(
    ctx: _Context,
    kind: str,
    issue: str,
    i: int,
    j: int,
    confidence: float,
    reason: str,
    now: datetime,
) -> Suggestion:
    after = _permute(ctx.ids, kind, i, j)
    lo, hi = min(i, j), max(i, j)
    moved = (ctx.ids[i], ctx.ids[j]) if kind == "swap" else (ctx.ids[j],)
    return Suggestion(
        kind=kind,
        issue=issue,
        entry_ids=moved,
        before=tuple(ctx.ids[lo : hi + 1]),
        after=tuple(after[lo : hi + 1]),
        confidence=confidence,
        reason=reason,
        made_at=now,
    )


def _movable(ctx: _Context, k: int) -> bool:
    return k >= ctx.frozen and ctx.ids[k] not in ctx.pinned


def _fix_theme_run(ctx: _Context, start: int, length: int, now: datetime) -> Suggestion | None:
    limit = ctx.editorial.max_consecutive_same_theme
    theme = ctx.themes[ctx.ids[start]]
    before = guardrails(ctx.themes_of(ctx.ids), ctx.editorial)
    best: tuple[tuple[Any, ...], Suggestion] | None = None
    for p in range(max(start + limit, ctx.frozen), start + length):
        if not _movable(ctx, p):
            continue
        for j in range(p + 1, min(ctx.look_end, p + 1 + MAX_DISTANCE)):
            if not _movable(ctx, j) or ctx.themes[ctx.ids[j]] in (theme, ""):
                continue
            for kind in ("swap", "reorder"):
                after_ids = _permute(ctx.ids, kind, p, j)
                after = guardrails(ctx.themes_of(after_ids), ctx.editorial)
                if after.theme_excess >= before.theme_excess or not after.no_worse_than(before):
                    continue
                run_left = guardrails(
                    ctx.themes_of(after_ids[start : start + length + 1]), ctx.editorial
                ).theme_excess
                conf = _confidence(run_left == 0, j - p, kind)
                key = (after.theme_excess, after.unique_shortfall, -conf, j - p)
                if best is None or key < best[0]:
                    reason = (
                        f"{length} {theme!r} items in a row (max {limit}); "
                        f"{kind} {ctx.ids[j]} ({ctx.themes[ctx.ids[j]]!r}) into position {p}"
                    )
                    best = (key, _suggestion(ctx, kind, "same_theme_run", p, j, conf, reason, now))
    return best[1] if best else None


def _fix_saturation(ctx: _Context, max_share: float, now: datetime) -> list[Suggestion]:
    look = ctx.ids[: ctx.look_end]
    total = sum(ctx.durations[i] for i in look)
    if total <= 0:
        return []
    shares: defaultdict[str, float] = defaultdict(float)
    for i in look:
        if ctx.themes[i]:
            shares[ctx.themes[i]] += ctx.durations[i] / total
    out = []
    before = guardrails(ctx.themes_of(ctx.ids), ctx.editorial)
    for theme, share in shares.items():
        if share <= max_share:
            continue
        # swap the last movable item of the theme inside the lookahead with the nearest
        # item of another theme just beyond it
        for p in range(ctx.look_end - 1, ctx.frozen - 1, -1):
            if ctx.themes[ctx.ids[p]] != theme or not _movable(ctx, p):
                continue
            for j in range(ctx.look_end, min(len(ctx.ids), p + 1 + MAX_DISTANCE)):
                if ctx.themes[ctx.ids[j]] in (theme, "") or not _movable(ctx, j):
                    continue
                after_ids = _permute(ctx.ids, "swap", p, j)
                if not guardrails(ctx.themes_of(after_ids), ctx.editorial).no_worse_than(before):
                    continue
                new_total = sum(ctx.durations[i] for i in after_ids[: ctx.look_end])
                new_share = (
                    sum(
                        ctx.durations[i]
                        for i in after_ids[: ctx.look_end]
                        if ctx.themes[i] == theme
                    )
                    / new_total
                )
                if new_share >= share:
                    continue
                conf = _confidence(new_share <= max_share, j - p, "swap", base=0.85)
                reason = (
                    f"theme {theme!r} fills {share:.0%} of the next "
                    f"{total / 3600:.1f} h (max {max_share:.0%}); swap {ctx.ids[p]} "
                    f"with {ctx.ids[j]} ({ctx.themes[ctx.ids[j]]!r}) from beyond the lookahead"
                )
                out.append(_suggestion(ctx, "swap", "theme_saturation", p, j, conf, reason, now))
                break
            break
    return out


def _fix_long_block(ctx: _Context, p: int, now: datetime) -> Suggestion | None:
    """Items p-1 and p are both long: bring a short item between them."""
    before_g = guardrails(ctx.themes_of(ctx.ids), ctx.editorial)
    before_pairs = _long_pairs(ctx, ctx.ids, ctx.look_end)
    for j in range(p + 1, min(ctx.look_end, p + 1 + MAX_DISTANCE)):
        if _long(ctx, ctx.ids[j]) or not _movable(ctx, j):
            continue
        for kind in ("reorder", "swap"):
            after_ids = _permute(ctx.ids, kind, p, j)
            if not guardrails(ctx.themes_of(after_ids), ctx.editorial).no_worse_than(before_g):
                continue
            pairs = _long_pairs(ctx, after_ids, ctx.look_end)
            if pairs >= before_pairs:
                continue
            conf = _confidence(pairs == 0, j - p, kind, base=0.9)
            reason = (
                f"{ctx.ids[p - 1]} and {ctx.ids[p]} are both longer than "
                f"{LONG_FACTOR:g} × the {ctx.editorial.target_avg_duration_sec} s target; "
                f"{kind} {ctx.ids[j]} ({ctx.durations[ctx.ids[j]]:.0f} s) between them"
            )
            return _suggestion(ctx, kind, "long_block", p, j, conf, reason, now)
    return None


def review(
    entries: Sequence[QueueEntry],
    now: datetime,
    editorial: EditorialProfile,
    policy: CuratorPolicy,
    mode: CuratorMode,
    recent_actions: Sequence[CuratorAction] = (),
) -> list[Suggestion]:
    """Suggestions for the lookahead, best first; none in ``off`` mode.

    Entries moved by an action applied in the last hour are left alone (no oscillation),
    and a suggestion identical to one recorded in the last hour is not repeated.
    """
    timeline.require_aware(now)
    if mode.mode is Mode.OFF:
        return []
    seq = timeline.ahead(entries, now)
    if len(seq) < 2:
        return []
    horizon = now + timedelta(hours=policy.lookahead_hours)
    look_end = sum(1 for e in seq if e.start_at < horizon)
    hour_ago = now - timedelta(hours=1)
    recent = [a for a in recent_actions if hour_ago < a.at <= now]
    pinned = frozenset(i for a in recent if a.applied for i in a.suggestion.entry_ids)
    seen = {(a.suggestion.before, a.suggestion.after) for a in recent}
    ctx = _Context(
        seq=seq,
        ids=[e.entry_id for e in seq],
        themes={e.entry_id: e.theme for e in seq},
        durations={e.entry_id: e.duration_sec for e in seq},
        frozen=_frozen_count(seq, now, policy),
        look_end=look_end,
        pinned=pinned,
        editorial=editorial,
    )
    found: dict[tuple[tuple[str, ...], tuple[str, ...]], Suggestion] = {}

    def keep(s: Suggestion | None) -> None:
        if s is not None and (s.before, s.after) not in seen:
            found.setdefault((s.before, s.after), s)

    themes = ctx.themes_of(ctx.ids[:look_end])
    for start, length in _runs(themes):
        if len(found) >= MAX_SUGGESTIONS:
            break
        if length > editorial.max_consecutive_same_theme:
            keep(_fix_theme_run(ctx, start, length, now))
    for s in _fix_saturation(ctx, mode.max_theme_share, now):
        keep(s)
    for p in range(max(1, ctx.frozen), look_end):
        if len(found) >= MAX_SUGGESTIONS:
            break
        if _long(ctx, ctx.ids[p - 1]) and _long(ctx, ctx.ids[p]) and _movable(ctx, p):
            keep(_fix_long_block(ctx, p, now))
    return sorted(found.values(), key=lambda s: -s.confidence)


# --- decide and apply -------------------------------------------------------------------


def _span(seq: Sequence[QueueEntry], suggestion: Suggestion) -> int:
    """Where the suggestion's ``before`` span starts in ``seq``; ValueError if it is stale."""
    ids = [e.entry_id for e in seq]
    if sorted(suggestion.before) != sorted(suggestion.after) or not suggestion.before:
        raise ValueError("curator suggestion is malformed: after is not a reordering of before")
    try:
        i = ids.index(suggestion.before[0])
    except ValueError:
        raise ValueError(
            f"stale curator suggestion: entry {suggestion.before[0]} is no longer queued"
        ) from None
    if tuple(ids[i : i + len(suggestion.before)]) != suggestion.before:
        raise ValueError("stale curator suggestion: the timeline changed since it was made")
    return i


def apply(entries: Sequence[QueueEntry], suggestion: Suggestion) -> list[QueueEntry]:
    """The timeline with the suggestion applied, the span re-timed back to back.

    ValueError if the suggestion no longer matches the timeline (stale) or is malformed.
    """
    seq = timeline.ordered(entries)
    i = _span(seq, suggestion)
    span = seq[i : i + len(suggestion.before)]
    by_id = {e.entry_id: e for e in span}
    moved = timeline.retime([by_id[x] for x in suggestion.after], span[0].start_at)
    replaced = {e.entry_id: e for e in moved}
    return [replaced.get(e.entry_id, e) for e in entries]


def decide(
    suggestion: Suggestion,
    policy: CuratorPolicy,
    mode: CuratorMode,
    applied_last_hour: int,
    *,
    entries: Sequence[QueueEntry],
    now: datetime,
    editorial: EditorialProfile,
) -> Decision:
    """Apply or only record (see the module docstring for the rules, checked in order)."""
    timeline.require_aware(now)
    if mode.mode is not Mode.AUTO:
        return Decision(False, f"curator mode is {mode.mode.value}")
    if not policy.auto_apply:
        return Decision(False, "curator_policy.auto_apply is off")
    min_conf = mode.min_confidence_for(policy)
    if suggestion.confidence < min_conf:
        return Decision(False, f"confidence {suggestion.confidence:.2f} below {min_conf:.2f}")
    max_r = mode.max_reorders_for(policy)
    if applied_last_hour >= max_r:
        return Decision(
            False, f"{applied_last_hour} reorders applied in the last hour (max {max_r})"
        )
    seq = timeline.ahead(entries, now)
    try:
        i = _span(seq, suggestion)
    except ValueError as exc:
        return Decision(False, str(exc))
    limit = now + timedelta(minutes=policy.frozen_minutes)
    for e in seq[i : i + len(suggestion.before)]:
        if e.start_at <= now or e.start_at < limit:
            return Decision(
                False,
                f"entry {e.entry_id} is on air or starts within {policy.frozen_minutes:g} min",
            )
    ids = [e.entry_id for e in seq]
    themes = {e.entry_id: e.theme for e in seq}
    after_ids = ids[:i] + list(suggestion.after) + ids[i + len(suggestion.after) :]
    before_g = guardrails([themes[x] for x in ids], editorial)
    after_g = guardrails([themes[x] for x in after_ids], editorial)
    if not after_g.no_worse_than(before_g):
        return Decision(False, "the change would break a guardrail")
    return Decision(True, f"confidence {suggestion.confidence:.2f} ≥ {min_conf:.2f}")
