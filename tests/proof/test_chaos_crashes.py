"""Crash injection at start: an actor of the real channel that cannot start at all.

The channel runs in this Trio run under the autojump clock (restart windows and
backoffs pass in simulated time) with the real tree, store and HTTP API; the only
change is a fault added to one actor's ``started`` (see ``chaos_crash``). Rules checked:

- failing for ever: the restarts escalate as the tree is configured (the pipeline
  gives up after 5 restarts in 60 s, the root after 10) and the daemon stops with a
  message naming the actor and the failure; it never hangs;
- failing every few seconds, spaced wider than the intensity: the API never goes down.

A running actor crashed once, three times and past its supervisor's intensity, for every
actor of the tree: ``test_chaos_tree``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

import actors.daemon
from actors.daemon import boot
from actors.tree import build_tree
from supervisors import SupervisorEscalated
from tests.proof.chaos_crash import CrashPlan, inject
from tests.proof.chaos_inprocess import STEP_S, Hosted, api_ok, channel_settings, single
from tests.support.waiting import wait_until
from vvtv.core import offload
from vvtv.core.clock import TrioClock

EPOCH = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PIPELINE_TRIES = 5 + 1  # actors/tree.py: the pipeline allows 5 restarts within 60 s
ROOT_TRIES = 10 + 1  # and the root 10


@pytest.mark.parametrize(
    ("name", "crashes"),
    [
        # A pipeline actor: the pipeline gives up after 5 restarts (6 failures), and the
        # root after restarting the pipeline 10 times: 6 x 11 failures, then a stop.
        ("buffer", PIPELINE_TRIES * ROOT_TRIES),
        ("scheduler", PIPELINE_TRIES * ROOT_TRIES),
        # Children of the root: 11 failures, then a stop.
        ("alerter", ROOT_TRIES),
        ("api", ROOT_TRIES),
    ],
)
async def test_an_actor_that_cannot_start_escalates_as_configured_then_the_daemon_stops(
    name: str,
    crashes: int,
    tmp_path: Path,
    slate: Path,
    monkeypatch: pytest.MonkeyPatch,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with offload.inline():  # simulated time: no worker threads
        plan = CrashPlan(remaining=10**9, after_s=0.0)
        monkeypatch.setattr(
            actors.daemon, "build_tree", lambda ch: inject(build_tree(ch), name, plan)
        )
        ch = await boot(channel_settings(tmp_path, slate), clock=TrioClock(EPOCH))
        async with trio.open_nursery() as nursery:
            hosted = Hosted(ch).start(nursery)
            await wait_until("the daemon stops", hosted.done.is_set, within=600, step=STEP_S)
        stopped = single(hosted.exit)
        assert plan.crashed == crashes, f"{plan.crashed} failures before: {stopped}"
        assert isinstance(stopped, SupervisorEscalated), f"not a clear stop: {hosted.exit!r}"
        message = str(stopped)
        assert message.startswith("supervisor 'root' gave up: more than 10 restarts within 60s")
        assert f"{name}: error: InjectedCrash: {name} fails at start" in message
        if name in ("buffer", "scheduler"):
            assert "supervisor 'pipeline' gave up: more than 5 restarts within 60s" in message
        with closing(sqlite3.connect(ch.settings.state_db)) as db:
            holders = db.execute("SELECT owner FROM scheduler_lock").fetchall()
        assert holders == [(None,)], "the stopped daemon kept the scheduler lock"


async def test_an_actor_failing_every_few_seconds_for_ever_never_takes_the_api_down(
    tmp_path: Path,
    slate: Path,
    monkeypatch: pytest.MonkeyPatch,
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Failures spaced wider than the intensity allows to add up: the tree keeps restarting."""
    with offload.inline():  # simulated time: no worker threads
        plan = CrashPlan(remaining=10**9, after_s=10.0)
        monkeypatch.setattr(
            actors.daemon, "build_tree", lambda ch: inject(build_tree(ch), "buffer", plan)
        )
        ch = await boot(channel_settings(tmp_path, slate), clock=TrioClock(EPOCH))
        async with trio.open_nursery() as nursery:
            hosted = Hosted(ch).start(nursery)
            await hosted.leading.wait()
            end = trio.current_time() + 900
            answered = 0
            while trio.current_time() < end:
                problem = await api_ok(ch)
                assert not problem, f"the API failed: {problem}"
                answered += 1
                await trio.sleep(5)
            assert plan.crashed >= 15 and answered >= 10
            assert hosted.exit is None and not hosted.done.is_set()
            await hosted.stop()
