"""Every actor of the supervision tree, crashed in turn, in a real channel.

The actors are read from ``actors.tree.build_tree`` (``chaos_tree.tree_actors``: a channel
with every optional part on), so an actor added to the tree is covered by construction. The
channel runs in this Trio run under the autojump clock, with the real tree, store and HTTP
API; faults are injected through the runtime itself (``supervisors.testing.inject_fault``:
an exception raised in a task of the actor's own running incarnation, as a bug would),
the actor's code untouched. For each actor:

1. one fault: its supervisor restarts it and exactly the siblings its strategy names
   (``one_for_one``: it alone; ``rest_for_one``: it and those started after it), nothing
   else; the failure is logged with its traceback and shown in the runtime snapshot;
2. two more within the alert window: ``ACTOR_RESTART_STORM`` fires, naming it;
3. faults beyond its supervisor's intensity (more than R restarts within T seconds): the
   supervisor gives up and escalates (ARCHITECTURE: "then the supervisor itself fails and
   escalates"). Under the root, the parent restarts the whole subtree and the actor runs
   again; a child of the root takes the root down: the daemon stops with an error naming
   the actor and the fault, releasing the scheduler lock (``vvtv run`` exits 1 and systemd
   starts it again at once).

Throughout, until the daemon itself stops, the channel keeps airing: the live playlist's
media sequence keeps advancing and never goes backwards, and the API answers (but while
the API is the actor being crashed).
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trio
import trio.testing

from actors.context import ChannelContext
from actors.daemon import boot
from supervisors import Runtime, SupervisorEscalated
from supervisors.node import Node
from supervisors.testing import inject_fault
from tests.proof.chaos_inprocess import STEP_S, Hosted, api_ok, on_air, single
from tests.proof.chaos_tree import (
    EPOCH,
    Place,
    declared_children,
    full_card,
    full_env,
    tree_actors,
)
from tests.proof.daemon_process import REPO, VVTV, Channel
from tests.support.channel import channel_settings
from tests.support.loopback import Loopback, Reply, Request, json_reply, start_loopback
from tests.support.waiting import wait_until
from vvtv.core import offload
from vvtv.core.clock import TrioClock

ACTORS = tree_actors()
STORM = 3  # vvtv.notify.alerts: ACTOR_RESTART_STORM at 3 restarts within ten minutes
# The air's media sequence moves on every segment (6 s); a restart must not hold it longer.
MAX_AIR_STALL_S = 20.0


def test_every_child_declared_in_the_actors_is_in_the_tree_these_tests_crash() -> None:
    """Each ``ChildSpec`` of ``actors/`` names an actor crashed below or a supervisor above one:
    a child behind a switch the walk leaves off would otherwise go untested."""
    walked = {p.name for p in ACTORS} | {s for p in ACTORS for s in p.above}
    assert len(ACTORS) == len({p.name for p in ACTORS})
    missing = [
        f"{file}: {pattern}"
        for file, pattern in declared_children()
        if not any(re.fullmatch(pattern, name) for name in walked)
    ]
    assert not missing, (
        f"children the chaos tests never crash (turn them on in chaos_tree): {missing}"
    )


class Air:
    """The live playlist's media sequence, sampled every simulated second."""

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.samples: list[tuple[float, int]] = []
        self.watching = True

    async def watch(self) -> None:
        while self.watching:
            seq = on_air(self.ch)
            if seq is not None:
                self.samples.append((trio.current_time(), seq))
            await trio.sleep(1)

    def check(self, what: str) -> None:
        assert self.samples, f"{what}: nothing was ever on air"
        seqs = [s for _, s in self.samples]
        assert seqs == sorted(seqs), f"{what}: the media sequence went backwards"
        assert seqs[-1] > seqs[0], f"{what}: the air never advanced"
        advanced = [t for (_, prev), (t, s) in itertools.pairwise(self.samples) if s > prev]
        marks = [self.samples[0][0], *advanced, self.samples[-1][0]]
        stall = max(b - a for a, b in itertools.pairwise(marks))
        assert stall <= MAX_AIR_STALL_S, f"{what}: the air stood still for {stall:.0f} s"


async def idle_edge(nursery: trio.Nursery) -> Loopback:
    """The cloud and edge as a quiet day finds them: every upload accepted, and the agent's
    long poll held for its wait, then answered with no command."""
    cloud = await start_loopback(nursery)
    cloud.answer_always(json_reply())

    async def no_command(request: Request) -> Reply:
        wait = parse_qs(request.query).get("wait", ["20"])[0]
        await trio.sleep(float(wait) if wait.isdigit() else 20.0)
        return json_reply(value={"commands": []})

    cloud.serve("/v1/agent/commands", no_command)
    return cloud


def incarnations(runtime: Runtime, names: tuple[str, ...]) -> dict[str, int]:
    return {n: runtime.node(n).incarnation for n in names}


def storm_message(ch: ChannelContext) -> str:
    latest = ch.topics["alerts"].latest or {"alerts": []}
    return next((a["message"] for a in latest["alerts"] if a["code"] == "ACTOR_RESTART_STORM"), "")


async def running_again(runtime: Runtime, name: str, restarts: int) -> None:
    node = runtime.node(name)
    await wait_until(
        f"{name} restarted {restarts} times and running",
        lambda: node.restarts >= restarts and node.state == "running",
        within=120,
        step=STEP_S,
        show=lambda: (node.restarts, node.state),
    )


async def fresh_incarnation(node: Node, after: int, hosted: Hosted) -> None:
    """Wait until an incarnation of ``node`` newer than ``after`` runs (or the daemon ended)."""
    await wait_until(
        f"an incarnation of {node.name} after #{after} running",
        lambda: (node.incarnation > after and node.state == "running") or hosted.done.is_set(),
        within=60,
        step=STEP_S,
    )


@contextmanager
def no_threads() -> Iterator[None]:
    with offload.inline():  # simulated time: offloaded work runs inline
        yield


@pytest.mark.parametrize("place", ACTORS, ids=str)
async def test_every_actor_crashed_is_restarted_by_its_strategy_storms_then_escalates(
    place: Place,
    tmp_path: Path,
    slate: Path,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    name = place.name
    with no_threads():
        async with trio.open_nursery() as outer:
            cloud = await idle_edge(outer)
            settings = channel_settings(
                tmp_path,
                slate,
                card=full_card(tmp_path / "library"),
                **full_env(cloud.url),
            )
            ch = await boot(settings, clock=TrioClock(EPOCH))
            async with trio.open_nursery() as nursery:
                hosted = Hosted(ch).start(nursery)
                await hosted.leading.wait()
                assert hosted.daemon is not None
                runtime = hosted.daemon.runtime
                air = Air(ch)
                nursery.start_soon(air.watch)
                await wait_until("on air", lambda: on_air(ch) is not None, within=60, step=STEP_S)
                await trio.sleep(30)

                # 1. One fault: exactly its strategy's group restarts.
                everyone = tuple(p.name for p in ACTORS) + tuple(
                    {s for p in ACTORS for s in p.above}
                )
                before = incarnations(runtime, everyone)
                failed_before = {n: runtime.node(n).failures for n in everyone}
                assert runtime.node(name).state == "running"
                inject_fault(runtime, name)
                await running_again(runtime, name, 1)
                for sibling in place.restarted_with_it():
                    await running_again(runtime, sibling, 1)
                await trio.sleep(5)
                after = incarnations(runtime, everyone)
                moved = {n for n in everyone if after[n] != before[n]}
                assert moved == set(place.restarted_with_it()), (
                    f"{place.strategy.value}: a fault in {name} restarted {sorted(moved)}"
                )
                failed = {n for n in everyone if runtime.node(n).failures != failed_before[n]}
                assert failed == {name}, f"{sorted(failed)} failed, not just {name}"
                failure = runtime.node(name).last_failure
                assert failure is not None
                assert failure["type"] == "InjectedCrash"
                assert failure["at"] == pytest.approx(ch.clock.now().timestamp(), abs=30)
                logged = [
                    r
                    for r in caplog.records
                    if r.levelname == "ERROR" and r.getMessage().startswith(f"{name} failed")
                ]
                assert len(logged) == 1 and logged[0].exc_info, "the failure went unlogged"
                if name != "api":
                    assert not await api_ok(ch), f"the API failed while {name} restarted"

                # 2. Three restarts within ten minutes: ACTOR_RESTART_STORM names it.
                assert storm_message(ch) == ""
                for n in range(2, STORM + 1):
                    await trio.sleep(20)
                    inject_fault(runtime, name)
                    await running_again(runtime, name, n)
                message = await wait_until(
                    "ACTOR_RESTART_STORM",
                    lambda: storm_message(ch),
                    within=150,
                    step=STEP_S,
                )
                assert f"{name} ×{STORM}" in message, message
                storm_seen_at = ch.clock.now()
                air.check(f"while {name} was crashed {STORM} times")

                # 3. Past the intensity: its supervisor gives up and escalates.
                await trio.sleep(place.within_seconds)  # the earlier restarts leave the window
                parent = runtime.node(place.parent)
                parent_restarts = parent.restarts
                node = runtime.node(name)
                crashed = 0  # the incarnation last crashed
                for n in range(place.max_restarts + 1):
                    await fresh_incarnation(node, crashed, hosted)
                    assert not hosted.done.is_set(), f"the daemon stopped after {n} faults"
                    assert parent.restarts == parent_restarts, f"escalated after {n} faults"
                    crashed = inject_fault(runtime, name)
                if place.parent == "root":
                    await wait_until("the daemon stops", hosted.done.is_set, within=60)
                    stopped = single(hosted.exit)
                    assert isinstance(stopped, SupervisorEscalated), repr(hosted.exit)
                    assert str(stopped).startswith(
                        f"supervisor 'root' gave up: more than {place.max_restarts} restarts "
                        f"within {place.within_seconds:g}s"
                    ), stopped
                    assert f"{name}: error: InjectedCrash: {name}: fault injected" in str(stopped)
                    with closing(sqlite3.connect(ch.settings.state_db)) as db:
                        holders = db.execute("SELECT owner FROM scheduler_lock").fetchall()
                    assert holders == [(None,)], "the stopped daemon kept the scheduler lock"
                    air.watching = False
                    air.check(f"until the root gave up over {name}")
                else:
                    await running_again(runtime, place.parent, parent_restarts + 1)
                    for sibling in place.siblings:
                        await running_again(runtime, sibling, 0)
                    assert runtime.node(place.parent).last_failure is not None
                    assert f"more than {place.max_restarts} restarts" in str(
                        runtime.node(place.parent).last_failure
                    )
                    await trio.sleep(60)
                    assert not hosted.done.is_set()
                    if name != "api":
                        assert not await api_ok(ch)
                    air.watching = False
                    air.check(f"while {place.parent} was restarted over {name}")
                    # The storm outlives the escalation: restarts still inside ten minutes.
                    assert ch.clock.now() - storm_seen_at < timedelta(minutes=10)
                    assert f"{name} ×" in storm_message(ch)
                    await hosted.stop()
            outer.cancel_scope.cancel()


@pytest.mark.slow
def test_a_real_daemon_whose_api_can_never_start_exits_1_naming_it(
    tmp_path: Path, slate: Path
) -> None:
    """The end of the escalation, in a real ``vvtv run`` on the real clock (~20 s of backoff):
    the API's port is taken, so the API fails at every start; the root gives up past its
    intensity, and the process exits 1 (systemd's ``Restart=on-failure`` starts it again;
    only exit 2, a configuration refused, is not retried) with one line saying why."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        (tmp_path / "clips").mkdir()
        channel = Channel(tmp_path, tmp_path / "clips", slate)
        done = subprocess.run(
            [str(VVTV), "run"],
            cwd=REPO,
            env={
                **os.environ,
                "VVTV_RUNTIME_DIR": str(channel.runtime),
                "VVTV_OWNER_CARD_PATH": str(channel.card),
                "VVTV_ENV": "dev",
                "VVTV_API_BIND": f"127.0.0.1:{port}",
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1, done.stderr[-3000:]
    assert last.startswith("vvtv: stopped: supervisor 'root' gave up: more than 10 restarts"), last
    assert "api: error: OSError" in last and "in use" in last, last
    with closing(sqlite3.connect(channel.db_path)) as db:
        holders = db.execute("SELECT owner FROM scheduler_lock").fetchall()
    assert holders == [(None,)], "the next start would wait out the lock's TTL"
