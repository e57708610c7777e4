"""Small builders for air tests: entries, assets and segment lists from plain numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
from hypothesis import strategies as st

from vvtv.core.clock import utc
from vvtv.core.model import (
    AssetItem,
    EntryStatus,
    FallbackLevel,
    QAStatus,
    QueueEntry,
    SlotType,
)

T0 = utc(2026, 3, 2, 12)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(
    eid: str,
    start_s: float,
    duration_s: float,
    *,
    theme: str = "",
    asset: str | None = None,
    level: FallbackLevel = FallbackLevel.MAIN,
) -> QueueEntry:
    return QueueEntry(
        entry_id=eid,
        asset_id=asset or f"asset-{eid}",
        start_at=at(start_s),
        duration_sec=duration_s,
        title=f"title {eid}",
        theme=theme,
        slot_type=SlotType.EMERGENCY if level >= FallbackLevel.EMERGENCY_POOL else SlotType.MAIN,
        fallback_level=level,
    )


def back_to_back(durations: Sequence[float], start_s: float = 0.0, themes: Sequence[str] = ()):
    out, t = [], start_s
    for i, d in enumerate(durations):
        out.append(entry(f"e{i:03d}", t, d, theme=themes[i] if i < len(themes) else ""))
        t += d
    return out


def asset(aid: str, duration_s: float, *, passed: bool = True, last_aired_s: float | None = None):
    return AssetItem(
        asset_id=aid,
        plan_id=f"plan-{aid}",
        source_url=f"file:///media/{aid}.mp4",
        checksum="0" * 64,
        local_path=f"/media/{aid}.mp4",
        created_at=T0,
        duration_sec=duration_s,
        qa_status=QAStatus.PASSED if passed else QAStatus.REJECTED,
        emergency_eligible=True,
        last_aired_at=None if last_aired_s is None else at(last_aired_s),
    )


# Timelines in any order, with equal starts, overlaps, gaps and skipped entries.
shuffled_timelines = st.lists(
    st.tuples(
        st.sampled_from([0, 30, 60, 90, 600, 1200]),  # few distinct starts: ties are common
        st.sampled_from([10, 30, 60, 600]),
        st.sampled_from(list(FallbackLevel)),
        st.booleans(),  # skipped
    ),
    max_size=12,
)


def timeline_of(rows) -> list[QueueEntry]:
    """Entries from ``shuffled_timelines`` rows: (start s, length s, level, skipped)."""
    return [
        attrs.evolve(
            entry(f"e{i:02d}", start, length, level=level),
            status=EntryStatus.SKIPPED if skipped else EntryStatus.QUEUED,
        )
        for i, (start, length, level, skipped) in enumerate(rows)
    ]
