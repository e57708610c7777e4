"""Crash injection: each actor of the real channel in turn fails repeatedly.

The channel runs in this Trio run under the autojump clock (restart windows and
backoffs pass in simulated time) with the real tree, store and HTTP API; the only
change is a fault added to one actor (see ``chaos_crash``). Rules checked:

- a few failures: the actor is restarted and the channel goes on; the API keeps
  answering and the live playlist keeps advancing the whole time (when the failing
  actor is the API itself, it answers again once restarted);
- failing for ever: the restarts escalate as the tree is configured (the pipeline
  gives up after 5 restarts in 60 s, the root after 10) and the daemon stops with a
  message naming the actor and the failure; it never hangs.
"""

from __future__ import annotations

import math
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trio

import actors.daemon
from actors.context import ChannelContext
from actors.daemon import boot
from actors.tree import build_tree
from supervisors import Runtime, SupervisorEscalated
from supervisors.node import Node
from tests.proof.chaos_crash import CrashPlan, inject
from tests.proof.chaos_inprocess import STEP_S, Hosted, channel_settings
from tests.support.waiting import wait_until
from vvtv.core import offload
from vvtv.core.clock import TrioClock

EPOCH = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACTORS = ["api", "buffer", "committer", "discovery", "scheduler", "alerter", "cloudsync"]
CRASHES = 3
PIPELINE_TRIES = 5 + 1  # actors/tree.py: the pipeline allows 5 restarts within 60 s
ROOT_TRIES = 10 + 1  # and the root 10


async def get(url: str) -> httpx.Response | str:
    """A real request from a worker thread (the server is in this Trio run); or the error.

    Simulated time stands still meanwhile: the autojump clock would otherwise leap while
    the server waits for the request's bytes, and fire its read timeouts in no real time.
    """

    def fetch() -> httpx.Response | str:
        try:
            return httpx.get(url, timeout=10)
        except httpx.HTTPError as exc:
            return repr(exc)

    clock = trio.lowlevel.current_clock()
    assert isinstance(clock, trio.testing.MockClock)
    threshold, clock.autojump_threshold = clock.autojump_threshold, math.inf
    try:
        return await trio.to_thread.run_sync(fetch)
    finally:
        clock.autojump_threshold = threshold


def node_of(runtime: Runtime, name: str) -> Node:
    return runtime.node(name)  # the supervision state, as supervisors.testing reads it


async def api_ok(ch: ChannelContext) -> str:
    """ "" when ``/v1/status`` answers 200, else what went wrong."""
    if not ch.api_url:
        return "the API has no address"
    reply = await get(f"{ch.api_url}/v1/status")
    if isinstance(reply, str):
        return reply
    return "" if reply.status_code == 200 else f"{reply.status_code} {reply.text[:300]}"


def media_sequence(playlist: str) -> int | None:
    found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    return int(found.group(1)) if found else None


def on_air(ch: ChannelContext) -> int | None:
    """The sequence of the playlist the Buffer last published (what the API serves)."""
    return media_sequence(ch.live.playlist or "")


async def served(ch: ChannelContext) -> int | None:
    """The sequence of the playlist the API serves, over HTTP."""
    reply = await get(f"{ch.api_url}/live/index.m3u8") if ch.api_url else None
    if reply is None or isinstance(reply, str) or reply.status_code != 200:
        return None
    return media_sequence(reply.text)


@pytest.mark.parametrize("name", ACTORS)
async def test_an_actor_that_fails_a_few_times_is_restarted_and_the_channel_goes_on(
    name: str,
    tmp_path: Path,
    slate: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with offload.inline():  # simulated time: no worker threads
        plan = CrashPlan(remaining=CRASHES, after_s=5.0)
        monkeypatch.setattr(
            actors.daemon, "build_tree", lambda ch: inject(build_tree(ch), name, plan)
        )
        ch = await boot(channel_settings(tmp_path, slate), clock=TrioClock(EPOCH))
        async with trio.open_nursery() as nursery:
            hosted = Hosted(ch).start(nursery)
            await hosted.leading.wait()
            assert hosted.daemon is not None
            runtime = hosted.daemon.runtime
            sequences: list[int] = []
            while plan.crashed < CRASHES:
                if name != "api":
                    problem = await api_ok(ch)
                    assert not problem, f"the API failed while {name} fails: {problem}"
                seq = on_air(ch)
                if seq is not None:
                    sequences.append(seq)
                await trio.sleep(1)
            await wait_until(
                f"{name} runs again",
                lambda: node_of(runtime, name).state == "running",
                within=120,
                step=STEP_S,
            )
            await trio.sleep(30)
            assert not await api_ok(ch)
            after = await served(ch)
            assert after is not None and sequences and after > sequences[0], "the air stalled"
            assert sorted(sequences) == sequences, "the live media sequence went backwards"
            assert node_of(runtime, name).restarts >= CRASHES
            logged = [
                r
                for r in caplog.records
                if r.levelname == "ERROR" and r.getMessage().startswith(f"{name} failed")
            ]
            assert len(logged) >= CRASHES, "a failure went unlogged"
            assert all(r.exc_info for r in logged), "a failure was logged without its traceback"
            assert hosted.exit is None, f"the daemon stopped: {hosted.exit!r}"
            await hosted.stop()


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


def single(exc: BaseException | int | None) -> BaseException | int | None:
    """The one exception inside nested single-member groups (as ``vvtv run`` reports it)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
