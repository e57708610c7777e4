"""The channel's guide: what airs when, from the timeline and the plan grid.

``build_guide(now, hours, timeline, plans)`` is a pure function; the timeline is what
``GET /v1/queue`` shows (dicts in air order: ``start_at``, ``duration_sec``, ``title``,
``theme``, ``fallback_level``, ``plan_id``), the plans are ``PlanItem`` values.

The rules follow the air (``vvtv.air.timeline``):

- The timeline is exact: an entry airs from its start until the next entry's start or
  its own end, whichever comes first.
- Emergency-pool and slate entries (fallback level 2 and 3) are filler: consecutive
  filler becomes one *Intermission* programme, and so does a hole (the slate covers dead
  air). A programme is never cut into pieces shorter than the timeline's rounding.
- After the timeline, the plans not on it yet (committed or scheduled, with a planned
  start) follow back to back in planned order: ready content is placed at the end of the
  timeline whatever its planned start, so these are the times it will air.
- What is left until the horizon is one Intermission (the emergency pool and the slate
  fill it).

So the programmes are contiguous, never overlap, start at or before ``now`` when anything
is on air, and reach the horizon: an XMLTV client sees no hole. Text is cleaned here
(``vvtv.iptv.text.clean``): titles come from feeds.

``public_status`` is the same view of the next few hours for viewers: the programme on
air and the next ones, without ids, URLs or anything operational.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from vvtv.core.convert import format_datetime, parse_datetime
from vvtv.core.model import FallbackLevel, PlanItem
from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.text import clean

INTERMISSION = "Intermission"
INTERMISSION_DESC = "Filler while the next programme gets ready."
FILLER_LEVEL = int(FallbackLevel.EMERGENCY_POOL)
ROUNDING = timedelta(seconds=1)
"""Gaps shorter than this are float rounding between entries (``timeline.TOLERANCE``)."""
MAX_HOURS = 168
TITLE_MAX, CATEGORY_MAX, DESC_MAX = 200, 64, 500


def _title(value: object) -> str:
    return clean(value, TITLE_MAX) or "Untitled"


def _category(value: object) -> str:
    return clean(value, CATEGORY_MAX)


def _desc(value: object) -> str:
    return clean(value, DESC_MAX)


@attrs.frozen
class Programme:
    """One programme of the guide; its text is always clean (see ``vvtv.iptv.text``)."""

    start: datetime
    stop: datetime
    title: str = attrs.field(converter=_title)
    category: str = attrs.field(default="", converter=_category)
    desc: str = attrs.field(default="", converter=_desc)
    filler: bool = False

    def to_public(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "category": self.category,
            "start": format_datetime(self.start),
            "stop": format_datetime(self.stop),
            "intermission": self.filler,
        }


def describe(title: str, theme: str, tags: Sequence[str] = ()) -> str:
    """A one-line description from what vvtv knows of an item: ``Title — theme (tags)``."""
    text = title
    if theme:
        text += f" — {theme}"
    if tags:
        text += f" ({', '.join(tags)})"
    return text


def _intermission(start: datetime, stop: datetime) -> Programme:
    return Programme(start, stop, INTERMISSION, INTERMISSION, INTERMISSION_DESC, filler=True)


@attrs.frozen
class _Slot:
    start: datetime
    stop: datetime
    item: Mapping[str, Any]


def _timeline_slots(timeline: Iterable[Mapping[str, Any]]) -> list[_Slot]:
    """Timeline entries with their air times (the air rule), in air order.

    An entry whose time or duration cannot be read is left out: one odd entry must not
    take the whole guide down, and the slot it leaves becomes an Intermission.
    """
    parsed: list[tuple[datetime, datetime, Mapping[str, Any]]] = []
    for item in timeline:
        try:
            start = parse_datetime(item["start_at"])
            seconds = float(item["duration_sec"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds > 0:
            parsed.append((start, start + timedelta(seconds=seconds), item))
    parsed.sort(key=lambda p: p[0])
    slots = []
    for i, (start, end, item) in enumerate(parsed):
        stop = min(end, parsed[i + 1][0]) if i + 1 < len(parsed) else end
        if stop > start:
            slots.append(_Slot(start, stop, item))
    return slots


def _is_filler(item: Mapping[str, Any]) -> bool:
    level = item.get("fallback_level", 0)
    return isinstance(level, int) and not isinstance(level, bool) and level >= FILLER_LEVEL


class _Builder:
    """Appends programmes end to end, merging filler and covering holes."""

    def __init__(self, start: datetime) -> None:
        self.cursor = start
        self.programmes: list[Programme] = []

    def add(self, programme: Programme) -> None:
        start = programme.start
        if start > self.cursor + ROUNDING:
            self.add(_intermission(self.cursor, start))
        elif start != self.cursor:
            # Rounding (or an overlap the air rule already cut): join at the cursor.
            programme = attrs.evolve(programme, start=self.cursor)
            if programme.stop <= programme.start:
                return
        last = self.programmes[-1] if self.programmes else None
        if programme.filler and last is not None and last.filler:
            self.programmes[-1] = attrs.evolve(last, stop=programme.stop)
        else:
            self.programmes.append(programme)
        self.cursor = programme.stop


def build_guide(
    now: datetime,
    hours: float,
    timeline: Iterable[Mapping[str, Any]],
    plans: Iterable[PlanItem] = (),
    *,
    fill_to_horizon: bool = True,
) -> list[Programme]:
    """The programmes from the one on air at ``now`` to ``now + hours`` (see the module)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if not (isinstance(hours, int | float) and math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise ValueError(f"hours must be more than 0 and at most {MAX_HOURS}, got {hours!r}")
    horizon = now + timedelta(hours=hours)
    every = _timeline_slots(timeline)
    # Plans on the timeline air there (or aired already): the grid must not list them again.
    on_timeline = {str(s.item["plan_id"]) for s in every if s.item.get("plan_id")}
    slots = [s for s in every if s.stop > now]
    first = slots[0].start if slots and slots[0].start <= now + ROUNDING else now
    out = _Builder(first)
    for slot in slots:
        if slot.start >= horizon:
            break
        item = slot.item
        if _is_filler(item):
            out.add(_intermission(slot.start, slot.stop))
            continue
        title, theme = _title(item.get("title")), _category(item.get("theme"))
        out.add(Programme(slot.start, slot.stop, title, theme, describe(title, theme)))
    upcoming = sorted(
        (
            p
            for p in plans
            if p.start_at is not None
            and p.plan_id not in on_timeline
            and math.isfinite(p.duration_sec)
            and p.duration_sec > 0
        ),
        key=lambda p: (p.start_at, p.plan_id),
    )
    for plan in upcoming:
        if out.cursor >= horizon:
            break
        title, theme = _title(plan.title), _category(plan.theme)
        tags = [t for t in (clean(tag, 40) for tag in plan.tags[:8]) if t]
        stop = out.cursor + timedelta(seconds=plan.duration_sec)
        out.add(Programme(out.cursor, stop, title, theme, describe(title, theme, tags)))
    if fill_to_horizon and out.cursor < horizon:
        out.add(_intermission(out.cursor, horizon))
    return out.programmes


PUBLIC_NEXT = 3
PUBLIC_HOURS = 6
PUBLIC_TIMELINE_ITEMS = 64


def public_status(
    now: datetime, timeline: Sequence[Mapping[str, Any]], channel: ChannelInfo, logo: str | None
) -> dict[str, Any]:
    """What the watch page shows: the channel, the programme on air and the next ones.

    Built only from titles, themes and times (no ids, no URLs, no operational state):
    ``state`` is ``on_air``, ``intermission`` (filler on air) or ``starting`` (nothing
    on the timeline yet).
    """
    programmes = build_guide(
        now, PUBLIC_HOURS, timeline[:PUBLIC_TIMELINE_ITEMS], fill_to_horizon=False
    )
    on_air = programmes[0] if programmes and programmes[0].start <= now + ROUNDING else None
    following = programmes[1:] if on_air is not None else programmes
    state = "starting" if on_air is None else "intermission" if on_air.filler else "on_air"
    return {
        "channel": {"id": channel.id, "name": clean(channel.name, 80), "logo": logo},
        "state": state,
        "timestamp": format_datetime(now),
        "now": on_air.to_public() if on_air is not None else None,
        "next": [p.to_public() for p in following[:PUBLIC_NEXT]],
    }
