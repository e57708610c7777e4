"""Supervision: strategies, restart types, intensity, backoff, nesting, monitors."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisors import (
    ActorDied,
    ActorUnavailable,
    Backoff,
    ChildSpec,
    Down,
    Restart,
    Runtime,
    Strategy,
    Supervisor,
    SupervisorEscalated,
)
from supervisors.testing import (
    Crash,
    Probe,
    Recording,
    Sleep,
    Stop,
    assert_restarts,
    crash_on_nth,
    inject_fault,
    running,
    settle,
    wait_restarts,
    wait_state,
)

NO_BACKOFF = Backoff(enabled=False)


def simulated(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run one hypothesis example in its own Trio run on an autojumping MockClock."""
    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


def _reference_escalation(times: list[float], limit: int, window: float) -> int | None:
    for k, t in enumerate(times):
        if sum(1 for u in times[:k] if t - u < window) >= limit:
            return k + 1
    return None


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(0, 3),
    window=st.sampled_from([1.0, 2.0, 5.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]), min_size=1, max_size=8),
)
def test_exactly_the_restart_past_r_inside_t_escalates_never_one_outside(
    limit: int, window: float, gaps: list[float]
) -> None:
    times, t = [], 0.0
    for gap in gaps:
        t += gap
        times.append(t)
    expected = _reference_escalation(times, limit, window)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        rec = Recording()
        root = Supervisor(
            "root",
            [ChildSpec("w", lambda: Probe(rec))],
            max_restarts=limit,
            within_seconds=window,
            backoff=NO_BACKOFF,
        )
        rt = Runtime(root)

        async def run_tree(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await rt.run(task_status=task_status)
            except SupervisorEscalated as exc:
                seen["escalated_after"] = len(rec.lifecycle("crash"))
                seen["at"] = trio.current_time()
                seen["message"] = str(exc)
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            await nursery.start(run_tree)
            start = trio.current_time()
            for when in times:
                await trio.sleep_until(start + when)
                ref = await rt.wait_for("w")
                with pytest.raises(ActorDied):
                    await ref.call(Crash())
            await rt.wait_for("w")
            seen["restarts"] = rt.node("w").restarts
            rt.shutdown()

    simulated(scenario)
    if expected is None:
        assert "escalated_after" not in seen
        assert seen["restarts"] == len(times)
    else:
        assert seen["escalated_after"] == expected
        assert seen["at"] == pytest.approx(times[expected - 1])
        assert f"more than {limit} restarts within {window:g}s" in str(seen["message"])


RESTARTS = [Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY]


@settings(max_examples=60, deadline=None)
@given(
    strategy=st.sampled_from([Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE, Strategy.ONE_FOR_ONE]),
    kinds=st.lists(st.sampled_from(RESTARTS), min_size=2, max_size=5),
    picks=st.lists(st.integers(0, 4), min_size=1, max_size=4),
)
def test_the_strategy_restarts_exactly_the_right_siblings_in_start_order(
    strategy: Strategy, kinds: list[Restart], picks: list[int]
) -> None:
    names = [f"c{i}" for i in range(len(kinds))]
    # Model: which children are alive, which crash, what must stop and start.
    alive = list(names)
    expected_rounds: list[tuple[list[str], list[str]]] = []
    crashes: list[str] = []
    for pick in picks:
        candidates = [n for n in alive if kinds[names.index(n)] is not Restart.TEMPORARY]
        if not candidates:
            break
        failed = candidates[pick % len(candidates)]
        crashes.append(failed)
        if strategy is Strategy.ONE_FOR_ONE:
            group = [failed]
        elif strategy is Strategy.ONE_FOR_ALL:
            group = [n for n in names if n in alive]
        else:
            group = [n for n in names[names.index(failed) :] if n in alive]
        stopped = [n for n in reversed(group) if n != failed]
        started = [
            n for n in group if n == failed or kinds[names.index(n)] is not Restart.TEMPORARY
        ]
        alive = [n for n in alive if n not in group or n in started]
        expected_rounds.append((stopped, started))

    observed: list[tuple[list[str], list[str]]] = []
    restart_counts: dict[str, int] = {}

    async def scenario() -> None:
        rec = Recording()

        def spec(name: str, kind: Restart) -> ChildSpec:
            return ChildSpec(name, lambda: Probe(rec), restart=kind)

        root = Supervisor(
            "root",
            [spec(n, k) for n, k in zip(names, kinds, strict=True)],
            strategy=strategy,
            max_restarts=100,
            backoff=NO_BACKOFF,
        )
        async with running(root) as rt:
            assert rec.starts() == names
            for failed in crashes:
                mark = len(rec.events)
                with pytest.raises(ActorDied):
                    await rt.ref(failed).call(Crash())
                await wait_state(rt, failed, "running")
                await settle()
                events = rec.events[mark:]
                observed.append(
                    (
                        [e.name for e in events if e.what == "stopping"],
                        [e.name for e in events if e.what == "started"],
                    )
                )
            restart_counts.update({n: rt.node(n).restarts for n in names})

    simulated(scenario)
    assert observed == expected_rounds
    for name in names:
        assert restart_counts[name] == sum(name in started for _, started in expected_rounds)


async def test_temporary_children_never_restart(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            ChildSpec("crashes", lambda: Probe(rec), restart=Restart.TEMPORARY),
            ChildSpec("stops", lambda: Probe(rec), restart=Restart.TEMPORARY),
        ],
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        with pytest.raises(ActorDied):
            await rt.ref("crashes").call(Crash())
        await rt.ref("stops").call(Stop())
        await settle(60)
        assert rt.node("crashes").state == "failed"
        assert rt.node("stops").state == "stopped"
        assert_restarts(rt, {"crashes": 0, "stops": 0})


async def test_transient_children_restart_only_after_a_failure(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            ChildSpec("crashes", lambda: Probe(rec), restart=Restart.TRANSIENT),
            ChildSpec("stops", lambda: Probe(rec), restart=Restart.TRANSIENT),
            ChildSpec("permanent", lambda: Probe(rec), restart=Restart.PERMANENT),
        ],
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        with pytest.raises(ActorDied):
            await rt.ref("crashes").call(Crash())
        await rt.ref("stops").call(Stop())
        await rt.ref("permanent").call(Stop())  # permanent restarts even after a normal stop
        await settle(60)
        assert_restarts(rt, {"crashes": 1, "stops": 0, "permanent": 1})
        assert rt.node("stops").state == "stopped"


async def test_restart_delays_follow_the_backoff_and_reset_after_stable_uptime(
    autojump_clock: object,
) -> None:
    rec = Recording()
    backoff = Backoff(base=0.5, cap=3.0, reset_after=100.0)
    root = Supervisor(
        "root",
        [ChildSpec("w", lambda: Probe(rec))],
        max_restarts=1000,
        within_seconds=1.0,
        backoff=backoff,
        rng=random.Random(3),
    )
    async with running(root) as rt:
        delays = []
        for n in range(8):
            if n == 6:
                await trio.sleep(150)  # stable for longer than reset_after
            ref = await rt.wait_for("w")
            with pytest.raises(ActorDied):
                await ref.call(Crash())
            crashed = trio.current_time()
            await wait_restarts(rt, "w", n + 1)
            delays.append(trio.current_time() - crashed)
        ceilings = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 0.5, 1.0]
        for delay, ceiling in zip(delays, ceilings, strict=True):
            assert 0.0 <= delay <= ceiling
        assert len(set(delays)) == len(delays)  # jittered, not fixed steps


async def test_a_child_that_fails_to_start_is_retried_then_escalates(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [ChildSpec("broken", lambda: Probe(rec, fail_start=True))],
        max_restarts=2,
        within_seconds=60,
    )
    with pytest.raises(SupervisorEscalated, match="broken: error: InjectedCrash"):
        await Runtime(root).run()
    assert rec.lifecycle() == ["broken#1 crash", "broken#2 crash", "broken#3 crash"]


async def test_a_bad_actor_declaration_is_a_clear_error(autojump_clock: object) -> None:
    class NoBound(Probe):
        pass

    def unbounded() -> Probe:
        probe = NoBound(Recording())
        probe.mailbox_size = 0  # type: ignore[misc]
        return probe

    root = Supervisor("root", [ChildSpec("bad", unbounded)], max_restarts=0)
    with pytest.raises(SupervisorEscalated, match=r"bad.*mailbox_size must be an int > 0"):
        await Runtime(root).run()

    root = Supervisor("root", [ChildSpec("bad", lambda: "nope")], max_restarts=0)  # type: ignore[arg-type, return-value]
    with pytest.raises(SupervisorEscalated, match="factory returned 'nope', not an Actor"):
        await Runtime(root).run()


async def test_names_are_unique_across_the_tree(autojump_clock: object) -> None:
    rec = Recording()
    inner = ChildSpec(
        "sub", lambda: Supervisor("sub", [ChildSpec("w", lambda: Probe(rec))], max_restarts=0)
    )
    root = Supervisor("root", [ChildSpec("w", lambda: Probe(rec)), inner], max_restarts=0)
    with pytest.raises(SupervisorEscalated, match="DuplicateName: name 'w' is already used"):
        await Runtime(root).run()


async def test_nested_supervisors_escalate_to_their_parent(autojump_clock: object) -> None:
    rec = Recording()

    def sub() -> Supervisor:
        return Supervisor(
            "sub",
            [ChildSpec("a", lambda: Probe(rec)), ChildSpec("b", lambda: Probe(rec))],
            max_restarts=1,
            within_seconds=10,
            backoff=NO_BACKOFF,
        )

    root = Supervisor(
        "root",
        [ChildSpec("sibling", lambda: Probe(rec)), ChildSpec("sub", sub)],
        max_restarts=5,
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        for _ in range(2):
            ref = await rt.wait_for("a")
            with pytest.raises(ActorDied):
                await ref.call(Crash())
        await wait_restarts(rt, "sub", 1)
        await rt.wait_for("b")
        snap = rt.snapshot()
        sub_node = snap["children"][1]
        assert sub_node["name"] == "sub" and sub_node["restarts"] == 1
        assert sub_node["last_failure"]["type"] == "SupervisorEscalated"
        assert rt.node("sibling").restarts == 0
        # The escalating supervisor stopped b gracefully before giving up.
        assert "b#1 stopping" in rec.lifecycle()


async def test_the_root_escalates_out_of_runtime_run(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor("root", [ChildSpec("w", crash_on_nth(lambda: Probe(rec), 1))], max_restarts=0)
    rt = Runtime(root)
    with pytest.RaisesGroup(pytest.RaisesExc(SupervisorEscalated, match="'root' gave up")):
        async with trio.open_nursery() as nursery:
            await nursery.start(rt.run)
            rt.ref("w").cast_nowait("boom")
    assert rt.snapshot()["state"] == "failed"


def downs(rec: Recording, name: str) -> list[Down]:
    return [m for m in rec.messages(name) if isinstance(m, Down)]


async def test_monitors_receive_down_with_the_reason_for_every_incarnation_end(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            ChildSpec("w", lambda: Probe(rec)),
            # The watcher accepts nothing but its own type: Down is delivered regardless.
            ChildSpec("watcher", lambda: Probe(rec, accepts=(Probe,), monitor=("w",))),
        ],
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        with pytest.raises(ActorDied):
            await rt.ref("w").call(Crash("boom"))
        ref = await rt.wait_for("w")
        await ref.call(Stop())
        await wait_restarts(rt, "w", 2)
        await settle()
        assert downs(rec, "watcher") == [
            Down("w", "error: InjectedCrash: w: boom", 1),
            Down("w", "normal", 2),
        ]


async def test_monitoring_a_name_that_is_not_running_gives_down_at_once(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor("root", [ChildSpec("watcher", lambda: Probe(rec, monitor=("ghost",)))])
    async with running(root):
        await settle()
        assert downs(rec, "watcher") == [Down("ghost", "not running", 0)]


async def test_a_restarted_watcher_gets_each_down_once(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            ChildSpec("w", lambda: Probe(rec)),
            ChildSpec("watcher", lambda: Probe(rec, monitor=("w",))),
        ],
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        with pytest.raises(ActorDied):
            await rt.ref("watcher").call(Crash())
        await wait_restarts(rt, "watcher", 1)
        with pytest.raises(ActorDied):
            await rt.ref("w").call(Crash())
        await settle()
        assert [(inc, m) for n, inc, m in rec.received if isinstance(m, Down)] == [
            (2, Down("w", "error: InjectedCrash: w: injected", 1))
        ]


async def test_down_waits_for_space_in_a_full_mailbox_instead_of_being_lost(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            ChildSpec("w", lambda: Probe(rec)),
            ChildSpec("watcher", lambda: Probe(rec, mailbox_size=1, monitor=("w",))),
        ],
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt:
        watcher = rt.ref("watcher")
        watcher.cast_nowait(Sleep(10))
        await settle()
        watcher.cast_nowait("filler")
        with pytest.raises(ActorDied):
            await rt.ref("w").call(Crash())
        await settle(20)
        assert rec.messages("watcher")[1:] == [
            "filler",
            Down("w", "error: InjectedCrash: w: injected", 1),
        ]


async def test_a_factory_handing_out_the_same_supervisor_twice_is_refused(
    autojump_clock: object,
) -> None:
    rec = Recording()
    shared = Supervisor(
        "sub", [ChildSpec("w", lambda: Probe(rec))], max_restarts=0, backoff=NO_BACKOFF
    )
    root = Supervisor(
        "root", [ChildSpec("sub", lambda: shared)], max_restarts=1, backoff=NO_BACKOFF
    )
    rt = Runtime(root)
    with pytest.RaisesGroup(
        pytest.RaisesExc(SupervisorEscalated, match="build a fresh Supervisor")
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(rt.run)
            with pytest.raises(ActorDied):
                await rt.ref("w").call(Crash())
            await settle()
            await trio.sleep_forever()


async def test_crash_on_nth_crashes_every_incarnation_on_exactly_that_message(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root", [ChildSpec("w", crash_on_nth(lambda: Probe(rec), 3))], backoff=NO_BACKOFF
    )
    async with running(root) as rt:
        ref = rt.ref("w")
        for n in range(1, 6):
            await (await rt.wait_for("w")).cast(n)
            await settle()
        # Incarnation 1 took 1, 2 and died on 3; incarnation 2 took 4, 5.
        assert [(inc, m) for _, inc, m in rec.received] == [(1, 1), (1, 2), (2, 4), (2, 5)]
        assert_restarts(rt, {"w": 1})
        assert ref == rt.ref("w")


async def test_an_injected_fault_crashes_the_running_incarnation_as_a_bug_would(
    autojump_clock: object,
) -> None:
    """The fault reaches the actor through its own task group: a pending call gets ActorDied,
    the failure is recorded with its message, and the strategy restarts the right siblings."""
    rec = Recording()
    root = Supervisor(
        "root",
        [ChildSpec(n, lambda: Probe(rec)) for n in ("a", "b", "c")],
        strategy=Strategy.REST_FOR_ONE,
        backoff=NO_BACKOFF,
    )
    async with running(root) as rt, trio.open_nursery() as nursery:
        died: list[BaseException] = []

        async def pending_call() -> None:
            try:
                await rt.ref("b").call(Sleep(100), timeout=None)
            except ActorDied as exc:
                died.append(exc)

        nursery.start_soon(pending_call)
        await settle()
        assert inject_fault(rt, "b", RuntimeError("disk on fire")) == 1
        await wait_restarts(rt, "b", 1)
        await wait_state(rt, "c", "running")
        await settle()
        assert died, "the call in progress was not failed"
        assert_restarts(rt, {"a": 0, "b": 1, "c": 1})
        assert rt.node("b").last_failure is not None
        assert rt.node("b").last_failure["message"] == "disk on fire"
        assert rt.node("b").incarnation == 2
        with pytest.raises(ActorUnavailable, match="not a running actor"):
            inject_fault(rt, "root")
        with pytest.raises(ActorUnavailable, match="not a running actor"):
            inject_fault(rt, "nobody")


# --- significant children: a supervisor that asks to be built again --------------------


def _rebuilt_group(rec: Recording, builds: list[int], *, auto_shutdown: bool) -> Supervisor:
    """``group`` (permanent under root) with a worker and a significant transient ``roster``;
    ``builds`` counts the times its factory ran."""

    def group() -> Supervisor:
        builds.append(len(builds) + 1)
        return Supervisor(
            "group",
            [
                ChildSpec("worker", lambda: Probe(rec)),
                ChildSpec(
                    "roster", lambda: Probe(rec), restart=Restart.TRANSIENT, significant=True
                ),
            ],
            auto_shutdown=auto_shutdown,
            backoff=NO_BACKOFF,
        )

    return Supervisor("root", [ChildSpec("group", group)], backoff=NO_BACKOFF)


async def test_a_significant_child_ending_normally_has_its_supervisor_built_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec, builds = Recording(), []
    async with running(_rebuilt_group(rec, builds, auto_shutdown=True)) as rt:
        await rt.ref("roster").call(Stop())
        await wait_restarts(rt, "group", 1)
        await wait_state(rt, "roster", "running")
        assert builds == [1, 2]  # the factory ran again: a new tree of children
        # The sibling was stopped gracefully, then started in the new group.
        assert "worker#1 stopping" in rec.lifecycle()
        assert "worker#2 started" in rec.lifecycle()
        assert rt.node("group").failures == 0  # a normal end, not a failure


async def test_a_significant_child_that_crashes_is_only_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec, builds = Recording(), []
    async with running(_rebuilt_group(rec, builds, auto_shutdown=True)) as rt:
        with pytest.raises(ActorDied):
            await rt.ref("roster").call(Crash())
        await wait_restarts(rt, "roster", 1)
        assert builds == [1]
        assert_restarts(rt, {"group": 0, "worker": 0, "roster": 1})


async def test_without_auto_shutdown_a_significant_child_ends_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec, builds = Recording(), []
    async with running(_rebuilt_group(rec, builds, auto_shutdown=False)) as rt:
        await rt.ref("roster").call(Stop())
        await wait_state(rt, "roster", "stopped")
        await settle(1.0)
        assert builds == [1]
        assert rt.node("worker").state == "running"


def test_a_permanent_child_cannot_be_significant() -> None:
    with pytest.raises(ValueError, match="permanent child cannot be significant"):
        ChildSpec("x", lambda: Probe(Recording()), significant=True)
