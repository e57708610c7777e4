"""The Scheduler's windows in simulated time: on time, once each, across DST and restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.committer import Committer
from actors.context import ChannelContext
from actors.daemon import boot, take_leadership
from actors.discovery import Discovery
from actors.scheduler import CURSOR_NIGHTLY, Scheduler
from supervisors import ChildSpec, Runtime, Strategy, Supervisor
from tests.daemon.harness import CARD, make_settings
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.convert import parse_datetime
from vvtv.core.settings import Settings
from vvtv.nightly import job
from vvtv.nightly.job import KEY_TUNED_ON

EPOCH = utc(2026, 3, 27, 12)  # Europe/Berlin springs forward on 2026-03-29


def berlin_settings(tmp_path: Path, slate_template: Path, **env: str) -> Settings:
    """The harness channel, in Europe/Berlin (its nightly at 03:00 local)."""
    card = {**CARD, "schedule_policy": {"timezone": "Europe/Berlin"}}
    return make_settings(tmp_path, slate_template, card, **env)


@asynccontextmanager
async def scheduling(
    settings: Settings, epoch: datetime, **boot_args: bool
) -> AsyncIterator[ChannelContext]:
    """The scheduler and the actors it drives, on the real store and planner."""
    with offload.inline():
        async with _scheduling(settings, epoch, **boot_args) as ch:
            yield ch


@asynccontextmanager
async def _scheduling(
    settings: Settings, epoch: datetime, **boot_args: bool
) -> AsyncIterator[ChannelContext]:
    ch = await boot(settings, clock=TrioClock(epoch), **boot_args)
    await take_leadership(ch)
    tree = Supervisor(
        "pipeline",
        [
            ChildSpec("committer", lambda: Committer(ch)),
            ChildSpec("discovery", lambda: Discovery(ch)),
            ChildSpec("scheduler", lambda: Scheduler(ch)),
        ],
        strategy=Strategy.REST_FOR_ONE,
    )
    runtime = Runtime(tree)
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        try:
            yield ch
        finally:
            runtime.shutdown()
    ch.store.close()


def windows(settings: Settings) -> list[tuple[str, datetime, datetime]]:
    from vvtv.store import open_store

    with open_store(settings.state_db) as store:
        events = store.query_audit(limit=None)
    return [
        (e.event_type, parse_datetime(e.details["slot"]), e.at)
        for e in events
        if e.event_type.startswith("window_") and e.details.get("ok")
    ]


async def test_each_window_fires_when_due_once_across_dst_and_a_restart(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = berlin_settings(tmp_path, slate_template)
    async with scheduling(settings, EPOCH):
        await trio.sleep(30 * 3600)
    # Restart where the first run stopped, and run past the DST change.
    async with scheduling(settings, EPOCH + timedelta(hours=30, seconds=2)):
        await trio.sleep(32 * 3600)

    ran = windows(settings)
    discovery = [slot for kind, slot, _ in ran if kind == "window_discovery"]
    commit = [slot for kind, slot, _ in ran if kind == "window_commit"]
    nightly = [at for kind, _, at in ran if kind == "window_nightly"]

    # Hourly discovery and a commit every 30 minutes: every slot once, none skipped.
    # 62 h 2 s in all: the slots at 12:00 on day one through 02:00 on day four.
    assert discovery == [EPOCH + timedelta(hours=h) for h in range(63)]
    assert commit == [EPOCH + timedelta(minutes=30 * k) for k in range(125)]
    # Nightly at 03:00 Berlin time: CET (02:00 UTC), then CEST (01:00 UTC) after the change.
    assert [round_to_minute(at) for at in nightly] == [
        utc(2026, 3, 28, 2),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30, 1),
    ]
    # Every window ran within a few seconds of its slot (the first ones run at start-up).
    for kind, slot, at in ran:
        if kind != "window_nightly" and slot > EPOCH:
            assert timedelta(0) <= at - slot < timedelta(seconds=5), (kind, slot, at)


async def test_force_nightly_runs_the_nightly_job_once_at_start(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = berlin_settings(tmp_path, slate_template)
    async with scheduling(settings, EPOCH, force_nightly=True) as ch:
        await trio.sleep(6 * 3600)
        exports = sorted(p.name for p in ch.settings.exports_dir.glob("audit-*.json"))
        report = ch.store.get_daily_report(utc(2026, 3, 26).date())
    nightly = [k for k, _, _ in windows(settings) if k == "window_nightly"]
    assert len(nightly) == 1
    assert exports == ["audit-2026-03-26.json"]
    assert report is not None and "items_aired" in report.summary


def round_to_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


async def test_a_failing_nightly_is_audited_and_retried_and_never_stops_the_scheduler(
    tmp_path: Path,
    slate_template: Path,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store error that is no OSError/ValueError/RuntimeError (a full disk during
    retention) fails the window, not the scheduler: audited, retried, the others go on."""
    real = job.run_nightly
    attempts: list[datetime] = []

    async def full_disk_twice(*args, **kwargs):
        attempts.append(args[2].now())
        if len(attempts) <= 2:
            raise sqlite3.OperationalError("database or disk is full")
        return await real(*args, **kwargs)

    monkeypatch.setattr(job, "run_nightly", full_disk_twice)
    settings = berlin_settings(tmp_path, slate_template)
    from vvtv.store import open_store

    with open_store(settings.state_db) as store:  # last night's job ran
        store.set_cursor(CURSOR_NIGHTLY, utc(2026, 3, 27))
    async with scheduling(settings, EPOCH) as ch:
        await trio.sleep(16 * 3600 + 60)  # past 03:00 Berlin (02:00 UTC) and its retries
        failed = [
            e
            for e in ch.store.query_audit(event_type="window_nightly", limit=None)
            if e.reason_code == "WINDOW_FAILED"
        ]
    assert len(failed) == 2
    assert "database or disk is full" in failed[0].details["error"]
    assert len(attempts) == 3  # retried until it succeeded, then not again that night
    nightly_ok = [k for k, _, _ in windows(settings) if k == "window_nightly"]
    assert len(nightly_ok) == 1
    # Hourly discovery kept running the whole time: nothing restarted the scheduler.
    discovery = [slot for kind, slot, _ in windows(settings) if kind == "window_discovery"]
    assert discovery == [EPOCH + timedelta(hours=h) for h in range(17)]


async def test_a_fresh_installs_first_nightly_that_fails_is_retried_the_same_night(
    tmp_path: Path,
    slate_template: Path,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = job.run_nightly
    attempts: list[datetime] = []

    async def fails_once(*args, **kwargs):
        attempts.append(args[2].now())
        if len(attempts) == 1:
            raise RuntimeError("export folder not writable")
        return await real(*args, **kwargs)

    monkeypatch.setattr(job, "run_nightly", fails_once)
    settings = berlin_settings(tmp_path, slate_template)  # no nightly has ever run
    async with scheduling(settings, EPOCH):
        await trio.sleep(15 * 3600)  # past 03:00 Berlin (02:00 UTC: DST starts a day later)
    assert len(attempts) == 2
    assert attempts[0] == utc(2026, 3, 28, 2)  # not at start-up: at the first 03:00
    assert attempts[1] - attempts[0] <= timedelta(minutes=2)  # retried, not next night


async def test_autotune_adjusts_once_per_report_day_even_when_the_nightly_runs_twice(
    tmp_path: Path,
    slate_template: Path,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forced at 01:00 Berlin, then the 03:00 run of the same date: both report on the day
    before, and the OwnerCard's bound is per day, so only the first one tunes."""
    real = job.autotune
    tuned: list[object] = []

    def counting(weights, stats, policy):
        tuned.append(stats)
        return real(weights, stats, policy)

    monkeypatch.setattr(job, "autotune", counting)
    settings = berlin_settings(tmp_path, slate_template)
    async with scheduling(settings, utc(2026, 3, 27, 0), force_nightly=True) as ch:
        await trio.sleep(3 * 3600)
        runs = [e.details for e in ch.store.query_audit(event_type="nightly", limit=None)]
        assert ch.store.get_live_value(KEY_TUNED_ON) == "2026-03-26"
    assert [r["report_day"] for r in runs] == ["2026-03-26", "2026-03-26"]
    assert len(tuned) == 1
