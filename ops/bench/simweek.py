"""Benchmark: the whole channel for a simulated week, in wall seconds (issue 10).

The real daemon (supervision tree, SQLite store, planner, committer, Buffer, API) under
``trio.testing.MockClock(autojump_threshold=0)``, with instant media (the only fake) and
a loopback JSON Feed that publishes every 8.5 simulated minutes (one item in ten broken,
one in 23 failing QA) and is down for six hours on the first day. The harness is the
default-suite test's (``tests/proof/simweek_harness.py``); this runs the whole week and
checks the same rules.

    .venv/bin/python ops/bench/simweek.py [--days 7] [--runs 1]

Prints one line per run, then (last line) one JSON object: the median run's figures.
``wall_s`` is the simulation only (the ffmpeg slate is made once, before, and copied);
``cpu_s`` is this process's CPU time for it (the machine is shared and noisy: CPU time
is the steadier figure). ``rss_growth_mb`` is resident memory growth from the end of the
first simulated day to the end. Targets: 7 days in <= 60 s wall, dead_air_s = 0,
untraceable_items = 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import trio  # noqa: E402
import trio.testing  # noqa: E402

from tests.proof.simweek_feed import FeedPlan  # noqa: E402
from tests.proof.simweek_harness import EPOCH, SimWeek, run_simweek  # noqa: E402
from vvtv.media.slate import ensure_slate  # noqa: E402
from vvtv.ownercard.card import ChannelProfile  # noqa: E402


def one_run(slate: Path, days: float) -> tuple[SimWeek, float]:
    with tempfile.TemporaryDirectory(prefix="vvtv-simweek-") as tmp:
        cpu0 = time.process_time()
        run = trio.run(
            run_simweek,
            Path(tmp),
            slate,
            days,
            FeedPlan(epoch=EPOCH),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
        return run, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if args.days <= 0 or args.runs < 1:
        parser.error("--days must be > 0 and --runs >= 1")
    with tempfile.TemporaryDirectory(prefix="vvtv-simweek-slate-") as tmp:
        slate = Path(trio.run(ensure_slate, Path(tmp), ChannelProfile()).dir)
        results = []
        for i in range(args.runs):
            run, cpu = one_run(slate, args.days)
            summary = {**run.summary(), "cpu_s": round(cpu, 2)}
            summary["nightly_runs_expected"] = int(args.days)
            summary["daily_reports"] = len(run.daily_reports)
            summary["restarts"] = run.restarts
            summary["rows_per_day"] = run.rows_per_day
            print(f"run {i + 1}: {json.dumps(summary)}", flush=True)
            results.append(summary)
    results.sort(key=lambda s: s["wall_s"])
    median = dict(results[(len(results) - 1) // 2])  # the lower median for an even count
    median.pop("rows_per_day")
    median["runs"] = args.runs
    median["wall_s_all"] = [r["wall_s"] for r in results]
    median["cpu_s_median"] = statistics.median(r["cpu_s"] for r in results)
    print(json.dumps(median))


if __name__ == "__main__":
    main()
