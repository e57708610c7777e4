"""Benchmark of the air domain: what one Buffer tick costs (issue 6).

A realistic timeline — ``--hours`` of ready content in items of 5 to 20 minutes, 6 s HLS
segments, a few minutes of history — and, per simulated one-second tick, the pure work the
Buffer does: the dead-air check, the emergency step, the published state, the live window
and its m3u8 text. The curator review and an emergency fill are timed separately (they
run every few minutes, not every second).

Baseline: a naive live window that flattens every segment of the timeline on each tick
and keeps the newest ones whose start has passed; ``window_speedup`` is its time over
``live_playlist.advance``'s (the ratio that holds on a noisy machine). Medians of ``--runs`` runs;
``tick_cpu_us`` is a tick's CPU time (the reference unit ``simweek.py`` divides by). The last
line printed is one JSON object.

    .venv/bin/python ops/bench/air.py [--runs 5] [--ticks 2000] [--hours 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from vvtv.air import curator, emergency, live_playlist, status, timeline
from vvtv.core.model import AssetItem, QAStatus, QueueEntry
from vvtv.media.playlist import Segment
from vvtv.ownercard.card import CuratorPolicy, EditorialProfile

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
TARGET = 6


def build(
    hours: float, seed: int = 1
) -> tuple[list[QueueEntry], dict[str, live_playlist.AssetSegments]]:
    rng = random.Random(seed)
    entries: list[QueueEntry] = []
    segments: dict[str, live_playlist.AssetSegments] = {}
    t = T0 - timedelta(minutes=5)
    i = 0
    while t < T0 + timedelta(hours=hours):
        duration = rng.uniform(300, 1200)
        aid = f"asset-{i}"
        n = int(duration // 6)
        refs = [Segment(f"seg_{k:05d}.ts", 6.0) for k in range(n)]
        refs.append(Segment(f"seg_{n:05d}.ts", duration - 6.0 * n or 6.0))
        segments[aid] = live_playlist.AssetSegments(aid, tuple(refs))
        entries.append(
            QueueEntry(
                entry_id=f"e{i:04d}",
                asset_id=aid,
                start_at=t,
                duration_sec=segments[aid].duration_sec,
                title=f"item {i}",
                theme=rng.choice(["news", "music", "sport", "art"]),
            )
        )
        t = entries[-1].end_at
        i += 1
    return entries, segments


def naive_window(items: list[live_playlist.AiringItem], now: datetime, count: int) -> list[tuple]:
    """The baseline: every segment of the timeline, every tick."""
    listed = []
    for item in items:
        for off, seg in zip(item.segments.offsets, item.segments.segments, strict=True):
            start = item.start_at + timedelta(seconds=off)
            if start <= now and off < item.duration_sec:
                listed.append((item.entry_id, seg.path_name, start))
    return listed[-count:]


def per_call_us(fn: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for k in range(n):
        fn(k)
    return (time.perf_counter() - start) / n * 1e6


def make_tick(hours: float) -> Callable[[int], None]:
    """One Buffer tick's pure work at simulated second ``k`` over a fresh timeline."""
    entries, segments = build(hours)
    items = live_playlist.airing_items(entries, segments)
    slate = AssetItem("slate", "", "", "", "", T0, duration_sec=30, qa_status=QAStatus.PASSED)
    state = emergency.EmergencyState()
    cursor: live_playlist.LiveCursor | None = None

    def tick(k: int) -> None:
        nonlocal state, cursor
        now = T0 + timedelta(seconds=k)
        assert emergency.cover_playhead(entries, now, slate) is None
        buf = timeline.buffer_minutes(entries, now)
        state, _ = emergency.step(state, buf, 20, 60, now)
        status.buffer_state(entries, now, state, target_minutes=60, critical_minutes=20)
        cursor, window = live_playlist.advance(cursor, items, now, min_window_sec=3 * TARGET)
        live_playlist.render(window, TARGET)

    return tick


def tick_cpu_us(ticks: int = 2000, hours: float = 4.0) -> float:
    """CPU microseconds of one tick (``make_tick``): a reference workload other benchmarks
    divide by, so that a slower machine boot does not read as a regression (simweek.py)."""
    tick = make_tick(hours)
    start = time.process_time()
    for k in range(ticks):
        tick(k)
    return (time.process_time() - start) / ticks * 1e6


def run_once(ticks: int, hours: float) -> dict[str, float]:
    entries, segments = build(hours)
    items = live_playlist.airing_items(entries, segments)
    tick = make_tick(hours)
    slate = AssetItem("slate", "", "", "", "", T0, duration_sec=30, qa_status=QAStatus.PASSED)
    cursor: live_playlist.LiveCursor | None = None

    def advance_only(k: int) -> None:
        nonlocal cursor
        cursor, _ = live_playlist.advance(
            cursor, items, T0 + timedelta(seconds=ticks + k), min_window_sec=18
        )

    def baseline(k: int) -> None:
        naive_window(items, T0 + timedelta(seconds=ticks + k), 6)

    editorial = EditorialProfile()
    policy = CuratorPolicy()
    mode = curator.CuratorMode()
    pool = [
        AssetItem(f"p{i}", "", "", "", "", T0, duration_sec=300 + i, qa_status=QAStatus.PASSED)
        for i in range(20)
    ]
    return {
        "tick_us": per_call_us(tick, ticks),
        "advance_us": per_call_us(advance_only, ticks),
        "naive_window_us": per_call_us(baseline, max(50, ticks // 20)),
        "curator_review_ms": per_call_us(
            lambda k: curator.review(entries, T0 + timedelta(minutes=k), editorial, policy, mode),
            20,
        )
        / 1000,
        "fill_gap_60min_ms": per_call_us(lambda k: emergency.fill_gap([], T0, 60, pool, slate), 20)
        / 1000,
        "timeline_entries": len(entries),
        "timeline_segments": sum(len(s.segments) for s in segments.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--hours", type=float, default=4.0)
    args = parser.parse_args()
    results = [run_once(args.ticks, args.hours) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    for r in results:
        print(json.dumps({k: round(v, 2) for k, v in r.items()}))
    med["window_speedup"] = med["naive_window_us"] / med["advance_us"]
    med["ticks_per_s"] = 1e6 / med["tick_us"]
    # The CPU figure simweek.py divides by (wall time above also counts other processes).
    med["tick_cpu_us"] = statistics.median(
        tick_cpu_us(args.ticks, args.hours) for _ in range(args.runs)
    )
    med["load_avg_1m"] = os.getloadavg()[0]
    print(json.dumps({"runs": args.runs, **{k: round(v, 2) for k, v in med.items()}}))


if __name__ == "__main__":
    main()
