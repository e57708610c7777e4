"""The channel's entities: plans, assets, queue entries, audit events, metrics, reports, alerts.

Field names follow the original system (SPEC §1, §7) plus what vvtv needs to
trace every aired second back to its origin. All entities are immutable attrs
values; a state change produces a new value through ``PlanItem.transition``,
which refuses the transitions SPEC §1.2 does not allow.
"""

from __future__ import annotations

import enum
import functools
import math
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import attrs

#: No programme lasts longer than this. The card's ``search_policy.max_duration_sec`` cannot
#: be set higher, a feed value over it is refused as nonsense, and a stored plan over it
#: (a feed once could store ``1e12`` s, which overflows every datetime) is refused on read.
MAX_PLAN_DURATION_SEC = 48 * 3600.0


def duration_defect(value: object, *, ceiling: float = MAX_PLAN_DURATION_SEC) -> str | None:
    """Why ``value`` cannot be a programme's duration in seconds, or ``None`` if it can."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"duration {value!r} is not a number"
    if not math.isfinite(value):
        return f"duration {value!r} s is not a finite number of seconds"
    if value <= 0:
        return f"duration {value!r} s is not a positive number of seconds"
    if value > ceiling:
        return f"duration {value:g} s is over the {ceiling:g} s ceiling"
    return None


def new_id(prefix: str) -> str:
    """A short, sortable-enough unique id with a readable prefix (``plan-…``, ``asset-…``)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class IllegalTransition(ValueError):
    """A state change that SPEC §1.2 does not allow."""


class PlanState(enum.StrEnum):
    CANDIDATE = "CANDIDATE"
    SCHEDULED = "SCHEDULED"
    RESERVED = "RESERVED"
    COMMITTED = "COMMITTED"
    AIRED = "AIRED"
    DROPPED = "DROPPED"


# CANDIDATE → SCHEDULED | RESERVED → COMMITTED → (AIRED) | DROPPED.
# Re-planning may move an uncommitted plan between SCHEDULED and RESERVED or back
# to the pool; a committed plan never moves back.
PLAN_TRANSITIONS: dict[PlanState, frozenset[PlanState]] = {
    PlanState.CANDIDATE: frozenset({PlanState.SCHEDULED, PlanState.RESERVED, PlanState.DROPPED}),
    PlanState.SCHEDULED: frozenset(
        {PlanState.COMMITTED, PlanState.RESERVED, PlanState.CANDIDATE, PlanState.DROPPED}
    ),
    PlanState.RESERVED: frozenset(
        {PlanState.COMMITTED, PlanState.SCHEDULED, PlanState.CANDIDATE, PlanState.DROPPED}
    ),
    PlanState.COMMITTED: frozenset({PlanState.AIRED, PlanState.DROPPED}),
    PlanState.AIRED: frozenset(),
    PlanState.DROPPED: frozenset(),
}


class SlotType(enum.StrEnum):
    MAIN = "MAIN"
    RESERVE = "RESERVE"
    EMERGENCY = "EMERGENCY"


class FallbackLevel(enum.IntEnum):
    MAIN = 0
    RESERVE = 1
    EMERGENCY_POOL = 2
    SLATE = 3


class QAStatus(enum.StrEnum):
    PENDING = "PENDING"
    PASSED = "PASSED"
    REJECTED = "REJECTED"


class EntryStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    AIRING = "AIRING"
    AIRED = "AIRED"
    SKIPPED = "SKIPPED"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def notifies(self) -> bool:
        """Only high and critical alerts reach the webhook (SPEC §5)."""
        return self in (Severity.HIGH, Severity.CRITICAL)


@attrs.frozen
class PlanItem:
    """A candidate video and, once planned, its place in the grid."""

    plan_id: str
    source_url: str
    title: str
    duration_sec: float
    discovered_at: datetime
    state: PlanState = PlanState.CANDIDATE
    score: float = 0.0
    theme: str = ""
    tags: tuple[str, ...] = ()
    source_name: str = ""
    normalized_url: str = ""
    normalized_title: str = ""
    resolution_height: int | None = None
    hd_confirmed: bool = False
    start_at: datetime | None = None
    slot_type: SlotType | None = None
    hour_window: datetime | None = None
    updated_at: datetime | None = None
    trace_id: str = ""
    # How many of its source's quality signals scored (SPEC §1.1: 4k/1080/stereo/clean), so
    # planning can score it again under today's weights. None: stored before this was kept.
    quality_signals: int | None = None

    def transition(self, to: PlanState, at: datetime, **changes: Any) -> PlanItem:
        """The plan in state ``to``; raises ``IllegalTransition`` if SPEC §1.2 forbids it."""
        if to is not self.state and to not in PLAN_TRANSITIONS[self.state]:
            raise IllegalTransition(f"plan {self.plan_id}: {self.state} -> {to} is not allowed")
        return attrs.evolve(self, state=to, updated_at=at, **changes)

    def defect(self) -> str | None:
        """Why this stored plan cannot be planned or aired at all, or ``None``."""
        return duration_defect(self.duration_sec)

    @property
    def end_at(self) -> datetime | None:
        if self.start_at is None:
            return None
        return self.start_at + timedelta(seconds=self.duration_sec)


@attrs.frozen
class QAReport:
    """What the QA gate measured on a prepared file, and why it failed if it did."""

    passed: bool
    reasons: tuple[str, ...] = ()
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration_sec: float | None = None
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    black_ratio: float | None = None
    silence_ratio: float | None = None
    decode_errors: int = 0


@attrs.frozen
class AssetItem:
    """A fetched and prepared media file, ready (or rejected) for air."""

    asset_id: str
    plan_id: str
    source_url: str
    checksum: str
    local_path: str
    created_at: datetime
    duration_sec: float = 0.0
    qa_status: QAStatus = QAStatus.PENDING
    qa: QAReport | None = None
    segments_dir: str = ""
    segment_count: int = 0
    remuxed: bool = False
    size_bytes: int = 0
    emergency_eligible: bool = False
    last_aired_at: datetime | None = None
    trace_id: str = ""


@attrs.frozen
class QueueEntry:
    """One item on the timeline: what airs, from when, for how long, and why it is there."""

    entry_id: str
    asset_id: str
    start_at: datetime
    duration_sec: float
    title: str
    plan_id: str | None = None
    theme: str = ""
    slot_type: SlotType = SlotType.MAIN
    fallback_level: FallbackLevel = FallbackLevel.MAIN
    status: EntryStatus = EntryStatus.QUEUED
    created_at: datetime | None = None
    trace_id: str = ""

    # Cached: read ~200,000 times a simulated day by the Buffer, and the entry is frozen.
    @functools.cached_property
    def end_at(self) -> datetime:
        return self.start_at + timedelta(seconds=self.duration_sec)


@attrs.frozen
class AuditEvent:
    """One append-only line of the audit trail."""

    event_id: str
    at: datetime
    event_type: str
    reason_code: str = ""
    actor: str = ""
    plan_id: str | None = None
    asset_id: str | None = None
    trace_id: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class PipelineMetrics:
    """The original's seven gauges, sampled at one instant."""

    at: datetime
    buffer_minutes: float = 0.0
    plans_created: int = 0
    plans_committed: int = 0
    qa_pass_rate: float = 1.0
    fallback_rate: float = 0.0
    curator_actions: int = 0
    stream_disruptions: int = 0


@attrs.frozen
class DailyReport:
    date: date
    generated_at: datetime
    summary: dict[str, Any] = attrs.field(factory=dict)
    metrics: dict[str, Any] = attrs.field(factory=dict)
    # True for a day still in progress (the day so far, computed when asked); the nightly
    # job's report of a finished day is never partial.
    partial: bool = False


@attrs.frozen
class WeeklyReport:
    week: str  # ISO week, %G-W%V
    generated_at: datetime
    summary: dict[str, Any] = attrs.field(factory=dict)
    metrics: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AlertState:
    """Notification state of one alert code; persisted so restarts neither re-send nor forget."""

    code: str
    severity: Severity
    message: str = ""
    active: bool = False
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None
