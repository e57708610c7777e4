"""Planning and screening benchmark (issue 4): how long one discovery window's pure work takes.

Measures, several times each, and reports medians:

- ``plan_grid`` on a 24 h horizon for pools of 1,000, 3,000 and 5,000 candidates with 30
  themes and durations of 2-30 minutes (the realistic case);
- the same with every candidate its own theme and 1-5 minute durations (the worst case:
  ~500 slots and a theme heap as large as the pool);
- ``screen`` on 3,000 candidates with HD confirmation off and durations known (host
  rules, keywords, normalisation, dedupe, scoring: no subprocess);
- the music cap: ``plan_grid`` on 3,000 candidates of which a fifth are music, capped at
  ``block_music_ratio`` 0.2 against the same pool uncapped (``music_cap_ratio``);
- scoring the pool again under the weights in force, as every re-plan does: 8,000 stored
  plans (the most a re-plan lists) through ``plan_scorer``; ``rescore_vs_grid`` is that
  over ``plan_grid`` on 3,000 (its share of a re-plan's pure work).

Baselines, measured in the same run on the same pools, alternating with the timed code so
machine noise hits both (absolute times are information only: the machine is shared):

- ``naive_grid``: the same pool sorted by score and laid end to end until the horizon, then
  the next ``reserves_per_hour`` plans per hour kept as reserves, every plan moved to its state
  with ``PlanItem.transition`` as ``plan_grid`` does: the same output without the theme
  guardrails, the duration balancing, the music cap or the reserves' fit.
  ``grid_<n>_vs_naive`` = ``plan_grid`` ÷ that.
- ``naive_screen``: the same candidates through the same checks written the obvious way
  (``urlsplit`` host against the allowlist, a lowercased keyword ``in`` the title, the URL
  without its ``utm_`` parameters and the lowercased title in sets for dedupe, a fixed score),
  no rejection records; it keeps the same candidates on this batch (both counts printed).
  ``screen_3000_vs_naive`` = ``screen`` ÷ that.

Times are this process's CPU time (``time.process_time``; on a shared machine wall time also
counts the time other processes held the core), each call after a ``gc.collect()`` so
neither side pays for the other's garbage; the ratios are medians of per-run ratios.

No targets were set for these (issue 4 asked for the figures); see ops/PERFORMANCE.md.

    .venv/bin/python ops/bench/planning.py [--runs N]

Last line: JSON with one entry per case (seconds, median of N runs) and the ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.core.model import PlanItem, PlanState, SlotType
from vvtv.discover.screening import plan_scorer, screen
from vvtv.discover.sources import Candidate
from vvtv.nightly.autotune import TuneWeights
from vvtv.ownercard.card import MusicPolicy, OwnerCard, SafetyPolicy, SearchPolicy
from vvtv.plan.grid import MAX_POOL, floor_hour, plan_grid

NOW = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)
T = TypeVar("T")


def pool(
    size: int, themes: int | None, durations: tuple[int, int], seed: int, music: float = 0.0
) -> list[PlanItem]:
    rng = random.Random(seed)
    return [
        PlanItem(
            plan_id=f"plan-{i:06d}",
            source_url=f"https://cdn.example.com/{i}.mp4",
            title=f"video {i}",
            duration_sec=float(rng.randint(*durations)),
            discovered_at=NOW,
            score=rng.random(),
            theme=f"t{rng.randrange(themes) if themes else i}",
            tags=("music",) if rng.random() < music else ("calm",),
            quality_signals=rng.randint(0, 3),
        )
        for i in range(size)
    ]


def naive_grid(plans: list[PlanItem], card: OwnerCard) -> tuple[list[PlanItem], list[PlanItem]]:
    """The baseline: best score first, end to end until the horizon, then reserves by hour."""
    ranked = sorted(plans, key=lambda p: (-p.score, p.plan_id))
    end = NOW + timedelta(hours=24)
    scheduled: list[PlanItem] = []
    cursor = NOW
    i = 0
    while i < len(ranked) and cursor < end:
        plan = ranked[i]
        scheduled.append(
            plan.transition(
                PlanState.SCHEDULED,
                NOW,
                start_at=cursor,
                slot_type=SlotType.MAIN,
                hour_window=floor_hour(cursor),
            )
        )
        cursor += timedelta(seconds=plan.duration_sec)
        i += 1
    reserves: list[PlanItem] = []
    per_hour = card.schedule_policy.reserves_per_hour
    hour = floor_hour(NOW)
    while hour < cursor and i + per_hour <= len(ranked):
        for plan in ranked[i : i + per_hour]:
            reserves.append(
                plan.transition(
                    PlanState.RESERVED, NOW, slot_type=SlotType.RESERVE, hour_window=hour
                )
            )
        i += per_hour
        hour += timedelta(hours=1)
    return scheduled, reserves


def cpu_timed(fn: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds of one call of ``fn`` (after a full collection) and its result."""
    gc.collect()
    t = time.process_time()
    result = fn()
    return time.process_time() - t, result


def time_grid(plans: list[PlanItem], runs: int, card: OwnerCard | None = None) -> dict[str, float]:
    """Medians of ``plan_grid`` and of the naive baseline, timed alternately."""
    card = card or OwnerCard(music_policy=MusicPolicy(block_music_ratio=1.0))
    samples, naive, ratios = [], [], []
    naive_grid(plans, card)  # warm-up: the first call of either pays for first-use costs
    grid = plan_grid(
        plans, now=NOW, horizon_end=NOW + timedelta(hours=24), committed_tail_end=None, card=card
    )
    for _ in range(runs):
        secs, grid = cpu_timed(
            lambda: plan_grid(
                plans,
                now=NOW,
                horizon_end=NOW + timedelta(hours=24),
                committed_tail_end=None,
                card=card,
            )
        )
        samples.append(secs)
        naive.append(cpu_timed(lambda: naive_grid(plans, card))[0])
        ratios.append(samples[-1] / naive[-1])
    assert grid is not None
    return {
        "s": statistics.median(samples),
        "naive_s": statistics.median(naive),
        "vs_naive": statistics.median(ratios),
        "slots": len(grid.scheduled),
        "reserves": len(grid.reserves),
    }


def naive_screen(batch: list[Candidate], known: set[str]) -> list[tuple[str, str, float]]:
    """The baseline: the same checks the obvious way, kept candidates only."""
    allow, blocked = "example.com", ("gore", "violence", "nsfw")
    seen_urls: set[str] = set()
    seen_titles: set[str] = set()
    kept = []
    for cand in batch:
        parts = urlsplit(cand.media_url)
        host = (parts.hostname or "").lower()
        if not (host == allow or host.endswith("." + allow)):
            continue
        title = cand.title.lower()
        if any(word in title for word in blocked):
            continue
        query = "&".join(q for q in parts.query.split("&") if not q.startswith("utm_"))
        url = f"{parts.scheme}://{host}{parts.path}" + (f"?{query}" if query else "")
        if url in known or url in seen_urls or title in seen_titles:
            continue
        seen_urls.add(url)
        seen_titles.add(title)
        kept.append((url, title, 0.5 + 0.05 * len(cand.quality)))
    return kept


def time_screen(size: int, runs: int) -> dict[str, float]:
    rng = random.Random(7)
    card = OwnerCard(
        search_policy=SearchPolicy(
            allowlist_domains=("example.com",),
            blocked_keywords=("gore", "violence", "nsfw"),
            # One source of 3,000: screen them all, as before the per-source cap existed.
            max_candidates_per_source=size,
        ),
        safety_policy=SafetyPolicy(require_hd_playback_confirmation=False),
    )
    hosts = ["cdn.example.com", "a.example.com", "notexample.com"]
    batch = [
        Candidate(
            title=f"Video {i % (size - 100)} of the sea",  # some title duplicates
            media_url=f"https://{rng.choice(hosts)}/v/{i}.mp4?utm_source=rss&id={i}",
            source_name="bench",
            duration_sec=float(rng.randint(60, 1800)),
            tags=("calm", f"tag{i % 40}"),
            quality=("1080p", "stereo"),
        )
        for i in range(size)
    ]
    known = {f"https://cdn.example.com/v/{i}.mp4?id={i}" for i in range(0, size, 10)}
    samples, naive, ratios = [], [], []
    accepted = naive_kept = 0
    naive_screen(batch, known)  # warm-up, as for the grid
    for _ in range(runs):
        secs, result = cpu_timed(
            lambda: trio.run(
                lambda: screen(batch, card, is_known=lambda url, _title: url in known, now=NOW)
            )
        )
        samples.append(secs)
        accepted = len(result.accepted)
        secs, kept = cpu_timed(lambda: naive_screen(batch, known))
        naive.append(secs)
        naive_kept = len(kept)
        ratios.append(samples[-1] / naive[-1])
    return {
        "s": statistics.median(samples),
        "naive_s": statistics.median(naive),
        "vs_naive": statistics.median(ratios),
        "accepted": accepted,
        "naive_kept": naive_kept,
    }


def time_rescore(plans: list[PlanItem], runs: int) -> float:
    """Median CPU seconds to score ``plans`` again under changed weights."""
    card = OwnerCard(music_policy=MusicPolicy(preferred_moods=("calm",)))
    weights = TuneWeights(duration_weight=0.21, mood_weight=0.084, quality_weight=0.0525)

    def rescore() -> None:
        scored = plan_scorer(card, weights)
        for plan in plans:
            scored(plan)

    return statistics.median(cpu_timed(rescore)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out: dict[str, object] = {"runs": args.runs, "load_avg_1m_start": round(os.getloadavg()[0], 2)}
    grid_s: dict[int, float] = {}
    for size in (1000, 3000, 5000):
        g = time_grid(pool(size, 30, (120, 1800), size), args.runs)
        grid_s[size] = g["s"]
        out[f"grid_{size}_30themes_s"] = round(g["s"], 4)
        out[f"grid_{size}_naive_s"] = round(g["naive_s"], 4)
        out[f"grid_{size}_vs_naive"] = round(g["vs_naive"], 2)
        out[f"grid_{size}_slots"] = g["slots"]
        out[f"grid_{size}_reserves"] = g["reserves"]
        print(
            f"plan_grid pool={size} themes=30: {g['s'] * 1000:.1f} ms, {g['slots']} slots; "
            f"naive {g['naive_s'] * 1000:.1f} ms (x{g['vs_naive']:.1f})",
            flush=True,
        )
    g = time_grid(pool(3000, None, (60, 300), 1), args.runs)
    out["grid_3000_unique_themes_short_s"] = round(g["s"], 4)
    out["grid_3000_unique_themes_short_naive_s"] = round(g["naive_s"], 4)
    out["grid_3000_unique_themes_short_vs_naive"] = round(g["vs_naive"], 2)
    out["grid_3000_unique_themes_short_slots"] = g["slots"]
    print(
        f"plan_grid pool=3000 unique themes: {g['s'] * 1000:.1f} ms, {g['slots']} slots; "
        f"naive {g['naive_s'] * 1000:.1f} ms (x{g['vs_naive']:.1f})",
        flush=True,
    )
    music = pool(3000, 30, (120, 1800), 3000, music=0.2)
    free = time_grid(music, args.runs)["s"]
    capped = time_grid(
        music, args.runs, OwnerCard(music_policy=MusicPolicy(block_music_ratio=0.2))
    )["s"]
    out["grid_3000_music20_uncapped_s"] = round(free, 4)
    out["grid_3000_music20_capped_s"] = round(capped, 4)
    out["music_cap_ratio"] = round(capped / free, 3)
    print(
        f"plan_grid pool=3000 a fifth music: capped {capped * 1000:.1f} ms, uncapped "
        f"{free * 1000:.1f} ms",
        flush=True,
    )
    secs = time_rescore(pool(4 * MAX_POOL, 30, (120, 1800), 8), args.runs)
    out["rescore_8000_s"] = round(secs, 4)
    out["rescore_vs_grid"] = round(secs / grid_s[3000], 3)
    print(f"rescore 8000 stored plans: {secs * 1000:.1f} ms", flush=True)
    sc = time_screen(3000, args.runs)
    out["screen_3000_s"] = round(sc["s"], 4)
    out["screen_3000_naive_s"] = round(sc["naive_s"], 4)
    out["screen_3000_vs_naive"] = round(sc["vs_naive"], 2)
    out["screen_3000_accepted"] = sc["accepted"]
    out["screen_3000_naive_kept"] = sc["naive_kept"]
    print(
        f"screen 3000 candidates (no probes): {sc['s'] * 1000:.1f} ms; "
        f"naive {sc['naive_s'] * 1000:.1f} ms (x{sc['vs_naive']:.1f})",
        flush=True,
    )
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
