"""The Scheduler's windows in simulated time: on time, once each, across DST and restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import trio
import trio.testing

from actors.committer import Committer
from actors.context import ChannelContext
from actors.daemon import boot, take_leadership
from actors.discovery import Discovery
from actors.scheduler import Scheduler
from supervisors import ChildSpec, Runtime, Strategy, Supervisor
from tests.daemon.harness import make_settings
from vvtv import offload
from vvtv.clock import TrioClock, utc
from vvtv.convert import parse_datetime
from vvtv.settings import Settings

EPOCH = utc(2026, 3, 27, 12)  # Europe/Berlin springs forward on 2026-03-29


def berlin_settings(tmp_path: Path, slate_template: Path, **env: str) -> Settings:
    settings = make_settings(tmp_path, slate_template, **env)
    card = Path(settings.owner_card_path)
    card.write_text(
        card.read_text().replace(
            "buffer_critical_minutes: 20}",
            "buffer_critical_minutes: 20, timezone: Europe/Berlin}",
        )
    )
    return settings


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
