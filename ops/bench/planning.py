"""Planning and screening benchmark (issue 4): how long one discovery window's pure work takes.

Measures, several times each, and reports medians:

- ``plan_grid`` on a 24 h horizon for pools of 1,000, 3,000 and 5,000 candidates with 30
  themes and durations of 2-30 minutes (the realistic case);
- the same with every candidate its own theme and 1-5 minute durations (the worst case:
  ~500 slots and a theme heap as large as the pool);
- ``screen`` on 3,000 candidates with HD confirmation off and durations known (host
  rules, keywords, normalisation, dedupe, scoring: no subprocess).

    .venv/bin/python ops/bench/planning.py [--runs N]

Last line: JSON with one entry per case (seconds, median of N runs).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.core.model import PlanItem
from vvtv.discover.screening import screen
from vvtv.discover.sources import Candidate
from vvtv.ownercard.card import OwnerCard, SafetyPolicy, SearchPolicy
from vvtv.plan.grid import plan_grid

NOW = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)


def pool(size: int, themes: int | None, durations: tuple[int, int], seed: int) -> list[PlanItem]:
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
        )
        for i in range(size)
    ]


def time_grid(plans: list[PlanItem], runs: int) -> tuple[float, int, int]:
    card = OwnerCard()
    samples = []
    grid = None
    for _ in range(runs):
        t = time.perf_counter()
        grid = plan_grid(
            plans,
            now=NOW,
            horizon_end=NOW + timedelta(hours=24),
            committed_tail_end=None,
            card=card,
        )
        samples.append(time.perf_counter() - t)
    assert grid is not None
    return statistics.median(samples), len(grid.scheduled), len(grid.reserves)


def time_screen(size: int, runs: int) -> tuple[float, int]:
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
    samples = []
    accepted = 0
    for _ in range(runs):
        t = time.perf_counter()
        result = trio.run(
            lambda: screen(batch, card, is_known=lambda url, _title: url in known, now=NOW)
        )
        samples.append(time.perf_counter() - t)
        accepted = len(result.accepted)
    return statistics.median(samples), accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out: dict[str, object] = {"runs": args.runs}
    for size in (1000, 3000, 5000):
        secs, slots, reserves = time_grid(pool(size, 30, (120, 1800), size), args.runs)
        out[f"grid_{size}_30themes_s"] = round(secs, 4)
        out[f"grid_{size}_slots"] = slots
        out[f"grid_{size}_reserves"] = reserves
        print(f"plan_grid pool={size} themes=30: {secs * 1000:.1f} ms, {slots} slots", flush=True)
    secs, slots, reserves = time_grid(pool(3000, None, (60, 300), 1), args.runs)
    out["grid_3000_unique_themes_short_s"] = round(secs, 4)
    out["grid_3000_unique_themes_short_slots"] = slots
    print(f"plan_grid pool=3000 unique themes: {secs * 1000:.1f} ms, {slots} slots", flush=True)
    secs, accepted = time_screen(3000, args.runs)
    out["screen_3000_s"] = round(secs, 4)
    out["screen_3000_accepted"] = accepted
    print(f"screen 3000 candidates (no probes): {secs * 1000:.1f} ms", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
