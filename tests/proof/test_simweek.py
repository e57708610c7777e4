"""The channel runs unattended through simulated time: the default-suite cut of the week.

The real daemon (supervision tree, SQLite store, planner, committer, Buffer, API) runs
under ``MockClock`` with instant media (the only fake) and a loopback JSON Feed that
publishes a new item every 8.5 minutes, one in ten broken (the download fails) and one
in 23 failing QA, and that is down (HTTP 503) for six hours.

This test simulates **14 hours** (Sunday 22:00 to Monday 12:00 UTC: the outage from
02:00 to 08:00, the nightly job at 03:00, the recovery after it) to stay well under a
minute on two cores; ``ops/bench/simweek.py`` runs the full seven days with the same
harness and the same checks (``-m slow`` runs it here too).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.proof.simweek_feed import FeedPlan
from tests.proof.simweek_harness import CRITICAL_MIN, SimWeek, run_simweek
from vvtv.core.clock import utc

SUNDAY_EVENING = utc(2026, 3, 1, 22)


def simulate(root: Path, slate: Path, days: float, plan: FeedPlan) -> SimWeek:
    return trio.run(
        run_simweek, root, slate, days, plan, clock=trio.testing.MockClock(autojump_threshold=0)
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, slate_template: Path) -> SimWeek:
    plan = FeedPlan(epoch=SUNDAY_EVENING)
    return simulate(tmp_path_factory.mktemp("simday"), slate_template, 14 / 24, plan)


def check_week(run: SimWeek) -> None:
    """Every rule of the simulated week (shared by this test and the full-week run)."""
    summary = run.summary()
    assert run.dead_air_s() == 0.0, summary
    assert run.untraceable == [], run.untraceable[:5]
    assert run.below_critical_outside_drought() == [], run.below_critical_outside_drought()[:5]
    spans = run.emergency_spans()
    assert all(end is not None for _, end in spans), spans
    assert sum(run.restarts.values()) == 0, run.restarts
    assert run.missing_reports == [], run.missing_reports


def test_fourteen_hours_with_a_feed_outage_have_no_dead_air_and_full_traceability(
    day: SimWeek,
) -> None:
    check_week(day)
    assert day.aired_items() > 50
    assert day.feed_refused > 0 and day.feed_served > 0


def test_emergency_only_at_boot_and_in_the_drought_and_it_always_ends(day: SimWeek) -> None:
    spans = day.emergency_spans()
    outage_start, outage_end = day.outage
    assert len(spans) == 2, spans
    boot, drought = spans
    assert boot[0] == day.start and boot[1] is not None
    assert boot[1] - boot[0] < timedelta(minutes=5)
    assert outage_start < drought[0] < outage_end
    assert drought[1] is not None and outage_end <= drought[1] < outage_end + timedelta(hours=2)
    # In the drought the fillers keep the air covered past critical.
    during = [s for s in day.samples if drought[0] < s.at < drought[1]]
    assert during and all(s.state == "EMERGENCY" for s in during)
    assert min(s.covered_minutes for s in during) >= CRITICAL_MIN


def test_broken_items_fall_back_and_the_nightly_job_reports_the_day(day: SimWeek) -> None:
    assert day.nightly_runs() == 1
    assert day.daily_reports == ["2026-03-01"]
    assert day.fetches > 0


def test_the_buffer_keeps_bounded_state(day: SimWeek) -> None:
    sizes = day.buffer_sizes
    # History (5 min), the committed timeline (about 4 h ahead) and the kept pool (40).
    assert sizes["entries"] < 60, sizes
    assert sizes["pool"] <= 40 + sizes["entries"], sizes
    assert sizes["segments"] <= sizes["pool"] + sizes["entries"] + 1, sizes


@pytest.mark.slow
def test_seven_days(tmp_path: Path, slate_template: Path) -> None:
    """The full week (as ``ops/bench/simweek.py`` runs it): 7 nightlies, 7 reports."""
    run = simulate(tmp_path, slate_template, 7, FeedPlan(epoch=utc(2026, 3, 2, 4)))
    check_week(run)
    assert run.nightly_runs() == 7
    assert len(run.daily_reports) == 7
    assert_linear_growth(run)
    # Memory: after the first day's caches are warm, six more days add next to nothing
    # (measured 0.7-3.2 MB; a per-tick leak would add hundreds).
    assert run.rss_growth_mb() < 20, run.rss_mb_per_day


def assert_linear_growth(run: SimWeek) -> None:
    """Tables grow by about a day's worth a day (retention is 90 days): the last day adds
    no more than 1.5x what the second day added, so nothing accumulates per tick."""
    rows = run.rows_per_day
    for table in rows[0]:
        second = rows[1][table] - rows[0][table]
        last = rows[-1][table] - rows[-2][table]
        assert last <= 1.5 * second + 50, (table, second, last)
