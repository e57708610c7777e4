"""The published view of the air: what the Buffer shows the dashboards and ``/v1/status``.

``buffer_state`` applies the air rule of ``vvtv.air.timeline`` once to an ordered timeline and
the emergency state, and freezes the answer into a ``BufferState``; ``ItemView`` is one entry
as a dashboard shows it. Views are frozen values: between two ``timeline.next_change``
instants only their clock fields move (``BufferState.at``), so the Buffer can republish every
second without recomputing the timeline.

The view sits above both ``timeline`` (the rules) and ``emergency`` (the mode), so neither of
those needs the other's published shape.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal, NotRequired, TypedDict

import attrs

from vvtv.air.curator import Mode as CuratorModeName
from vvtv.air.emergency import EmergencyState
from vvtv.air.timeline import (
    air_end,
    minutes_until,
    ordered,
    playhead_run_start,
    playing_at,
    require_aware,
    run_end,
)
from vvtv.core.convert import format_datetime
from vvtv.core.model import FallbackLevel, QueueEntry, SlotType

# --- the published shapes ---------------------------------------------------------------
# What /v1/status, /v1/queue and the buffer websocket send, declared once: the type checker
# holds the code that builds them to these keys and types, and the OpenAPI document is
# derived from them (vvtv.web.schema). ``Annotated`` says what a plain value means: a
# timestamp's format, or the enum whose values a field takes.

Timestamp = Annotated[str, "date-time"]  # RFC 3339, vvtv.core.convert.format_datetime
ChannelState = Literal["STARTING", "RUNNING", "EMERGENCY"]


class ItemDict(TypedDict):
    """One timeline entry as dashboards and ``/v1/queue`` show it."""

    entry_id: str
    asset_id: str
    title: str
    theme: str
    start_at: Timestamp
    duration_sec: float
    slot_type: Annotated[str, SlotType]
    fallback_level: Annotated[int, FallbackLevel]
    plan_id: str | None


class PlayingDict(ItemDict):
    """The entry on air, and how far into it the channel is."""

    elapsed_s: float
    remaining_s: float


class StatusDict(TypedDict):
    """The ``/v1/status`` body and the ``buffer`` topic's data.

    ``state`` is STARTING until the Buffer first publishes. ``buffer_minutes`` is ready
    programming ahead of the playhead; the Buffer adds ``air_covered_minutes`` (fillers
    included), the curator's mode and the age of the newest live segment.
    """

    state: ChannelState
    buffer_minutes: float
    timestamp: Timestamp
    buffer_target_minutes: float
    buffer_critical_minutes: float
    now_playing: PlayingDict | None
    next: list[ItemDict]
    fallback_levels: dict[str, int]
    emergency_override: bool | None
    emergency_since: Timestamp | None
    emergency_reason: str
    air_covered_minutes: NotRequired[float]
    curator_mode: NotRequired[Annotated[str, CuratorModeName]]
    last_segment_age_s: NotRequired[float | None]
    card_warnings: NotRequired[list[str]]  # the OwnerCard's warnings (vvtv/ownercard/rules.py)
    availability_pct: NotRequired[float | None]  # today's so far (vvtv/nightly/job.py)


@attrs.frozen
class ItemView:
    """One timeline entry as the dashboard shows it."""

    entry_id: str
    asset_id: str
    title: str
    theme: str
    start_at: datetime
    duration_sec: float
    slot_type: SlotType
    fallback_level: FallbackLevel
    plan_id: str | None = None  # the plan it airs (the guide lists plans not on air yet)

    @classmethod
    def of(cls, e: QueueEntry) -> ItemView:
        return cls(
            e.entry_id,
            e.asset_id,
            e.title,
            e.theme,
            e.start_at,
            e.duration_sec,
            e.slot_type,
            e.fallback_level,
            e.plan_id,
        )

    def to_dict(self) -> ItemDict:
        # A copy: the caller may change its dict, never the memoised one.
        return ItemDict(**_item_dict(self))


# The Buffer publishes the same few items on every tick (on air, next five) and the queue
# view after every change; formatting their times is most of the cost. Views are frozen
# values, so a view's dict never changes.
@functools.lru_cache(maxsize=1024)
def _item_dict(view: ItemView) -> ItemDict:
    return {
        "entry_id": view.entry_id,
        "asset_id": view.asset_id,
        "title": view.title,
        "theme": view.theme,
        "start_at": _iso(view.start_at),
        "duration_sec": round(view.duration_sec, 3),
        "slot_type": view.slot_type.value,
        "fallback_level": int(view.fallback_level),
        "plan_id": view.plan_id,
    }


@attrs.frozen
class BufferState:
    """What the Buffer publishes on every change and at least once a second."""

    state: ChannelState
    buffer_minutes: float
    timestamp: datetime
    target_minutes: float
    critical_minutes: float
    now_playing: ItemView | None = None
    elapsed_s: float = 0.0
    remaining_s: float = 0.0
    next: tuple[ItemView, ...] = ()
    fallback_levels: dict[int, int] = attrs.field(factory=dict)
    emergency_override: bool | None = None
    emergency_since: datetime | None = None
    emergency_reason: str = ""
    # Not published: where the clock fields are measured to (see ``at``).
    run_end: datetime | None = None
    playing_until: datetime | None = None

    def at(self, now: datetime) -> BufferState:
        """This state at a later ``now``, before ``next_change`` of its entries: what is on
        air, next and queued is the same, only the clock fields move. The Buffer publishes
        every few seconds and this is a fraction of ``buffer_state``'s cost."""
        playing = self.now_playing
        if playing is None or self.playing_until is None:
            elapsed = remaining = 0.0
        else:
            elapsed = max(0.0, (now - playing.start_at).total_seconds())
            remaining = max(0.0, (self.playing_until - max(now, playing.start_at)).total_seconds())
        return attrs.evolve(
            self,
            timestamp=now,
            buffer_minutes=minutes_until(self.run_end, now),
            elapsed_s=elapsed,
            remaining_s=remaining,
        )

    def to_status_dict(self) -> StatusDict:
        """The ``/v1/status`` body (JSON-ready: ISO strings, plain numbers)."""
        playing: PlayingDict | None = None
        if self.now_playing is not None:
            playing = PlayingDict(
                **_item_dict(self.now_playing),
                elapsed_s=round(self.elapsed_s, 3),
                remaining_s=round(self.remaining_s, 3),
            )
        return {
            "state": self.state,
            "buffer_minutes": round(self.buffer_minutes, 3),
            "timestamp": _iso(self.timestamp),
            "buffer_target_minutes": self.target_minutes,
            "buffer_critical_minutes": self.critical_minutes,
            "now_playing": playing,
            "next": [item.to_dict() for item in self.next],
            "fallback_levels": {str(int(k)): v for k, v in sorted(self.fallback_levels.items())},
            "emergency_override": self.emergency_override,
            "emergency_since": _iso(self.emergency_since) if self.emergency_since else None,
            "emergency_reason": self.emergency_reason,
        }


def buffer_state(
    entries: Iterable[QueueEntry],
    now: datetime,
    emergency: EmergencyState,
    *,
    target_minutes: float,
    critical_minutes: float,
    next_count: int = 5,
) -> BufferState:
    """The published state of the timeline at ``now``.

    ``fallback_levels`` counts the entries on air or ahead by fallback level (all four
    levels always present, so a dashboard can chart them without guessing).
    """
    require_aware(now)
    if next_count < 0:
        raise ValueError(f"next_count must be >= 0, got {next_count}")
    # Built several times a minute by the Buffer: order the timeline and find the playhead
    # once, rather than through ``now_playing``/``ahead``/``buffer_minutes``/``next_entries``
    # (each of which sorts again); the values are theirs.
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    playing = None if i is None else playing_at(seq, i, now)
    upcoming = seq[i:] if i is not None else [e for e in seq if e.start_at > now]
    end = None if i is None else run_end(seq, i)
    playing_id = playing.entry.entry_id if playing else None
    following = [e for e in seq if e.start_at > now and e.entry_id != playing_id]
    levels = {int(level): 0 for level in FallbackLevel}
    for e in upcoming:
        levels[int(e.fallback_level)] += 1
    return BufferState(
        state="EMERGENCY" if emergency.active else "RUNNING",
        buffer_minutes=minutes_until(end, now),
        timestamp=now,
        target_minutes=target_minutes,
        critical_minutes=critical_minutes,
        now_playing=ItemView.of(playing.entry) if playing else None,
        elapsed_s=playing.elapsed_s if playing else 0.0,
        remaining_s=playing.remaining_s if playing else 0.0,
        next=tuple(ItemView.of(e) for e in following[:next_count]),
        fallback_levels=levels,
        emergency_override=emergency.override,
        emergency_since=emergency.entered_at if emergency.active else None,
        emergency_reason=emergency.reason if emergency.active else "",
        run_end=end,
        playing_until=None if i is None else air_end(seq, i),
    )


def starting_status(now: datetime, *, target_minutes: float, critical_minutes: float) -> StatusDict:
    """What ``/v1/status`` says before the Buffer first publishes: nothing on air yet."""
    levels = {int(level): 0 for level in FallbackLevel}
    state = BufferState("STARTING", 0.0, now, target_minutes, critical_minutes)
    return attrs.evolve(state, fallback_levels=levels).to_status_dict()


def _iso(value: datetime) -> str:
    return format_datetime(value)
