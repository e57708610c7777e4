"""Talking to actors: typed messages, bounded mailboxes, cast, call deadlines, late replies."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from supervisors import (
    Actor,
    ActorContext,
    ActorDied,
    ActorUnavailable,
    Backoff,
    CallTimeout,
    ChildSpec,
    MessageRefused,
    Restart,
    Supervisor,
)
from supervisors.testing import (
    Crash,
    Probe,
    Recording,
    Sleep,
    Stop,
    running,
    wait_restarts,
    wait_state,
)


@attrs.frozen
class Ping:
    n: int


@attrs.frozen
class Other:
    pass


def one(rec: Recording, **probe: object) -> Supervisor:
    return Supervisor(
        "root",
        [ChildSpec("w", lambda: Probe(rec, **probe))],  # type: ignore[arg-type]
        backoff=Backoff(enabled=False),
        max_restarts=100,
    )


async def test_call_returns_the_handlers_reply_and_cast_delivers_in_order() -> None:
    rec = Recording()
    async with running(one(rec, accepts=(Ping,), reply=lambda m: m.n * 2)) as rt:
        ref = rt.ref("w")
        for n in range(5):
            await ref.cast(Ping(n))
        ref.cast_nowait(Ping(5))
        assert await ref.call(Ping(21)) == 42
        assert rec.messages("w") == [Ping(n) for n in range(6)] + [Ping(21)]


async def test_a_message_of_the_wrong_type_is_refused_at_the_sender() -> None:
    rec = Recording()
    async with running(one(rec, accepts=(Ping,))) as rt:
        ref = rt.ref("w")
        for send in (ref.cast_nowait, ref.cast, ref.call):
            with pytest.raises(MessageRefused, match=r"actor 'w' does not accept Other"):
                result = send(Other())
                if hasattr(result, "__await__"):
                    await result
        with pytest.raises(TypeError):  # MessageRefused is a TypeError
            ref.cast_nowait("text")
        assert rec.messages("w") == []


async def test_wrong_type_is_refused_even_while_the_actor_is_down(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [ChildSpec("w", lambda: Probe(rec, accepts=(Ping,)), restart=Restart.TEMPORARY)],
    )
    async with running(root) as rt:
        await rt.ref("w").cast(Stop())
        await wait_state(rt, "w", "stopped")
        with pytest.raises(MessageRefused):
            rt.ref("w").cast_nowait(Other())
        with pytest.raises(ActorUnavailable, match="not running"):
            rt.ref("w").cast_nowait(Ping(1))


async def test_mailboxes_are_bounded_and_a_full_one_says_so(autojump_clock: object) -> None:
    rec = Recording()
    async with running(one(rec, mailbox_size=2)) as rt:
        ref = rt.ref("w")
        ref.cast_nowait(Sleep(10))
        await trio.testing.wait_all_tasks_blocked()  # the actor is now busy sleeping
        ref.cast_nowait(Ping(1))
        ref.cast_nowait(Ping(2))
        with pytest.raises(trio.WouldBlock):
            ref.cast_nowait(Ping(3))
        start = trio.current_time()
        with pytest.raises(CallTimeout, match="mailbox still full after 1s"):
            await ref.cast(Ping(3), timeout=1)
        assert trio.current_time() - start == pytest.approx(1)
        await ref.cast(Ping(3))  # waits for space: the actor wakes at t=10
        assert trio.current_time() - start == pytest.approx(10)


async def test_call_deadline_covers_waiting_for_mailbox_space(autojump_clock: object) -> None:
    rec = Recording()
    async with running(one(rec, mailbox_size=1)) as rt:
        ref = rt.ref("w")
        ref.cast_nowait(Sleep(10))
        await trio.testing.wait_all_tasks_blocked()
        ref.cast_nowait(Ping(1))
        start = trio.current_time()
        with pytest.raises(CallTimeout, match="no reply within 3s"):
            await ref.call(Ping(2), timeout=3)
        assert trio.current_time() - start == pytest.approx(3)


async def test_late_replies_are_dropped_and_counted_never_crashing_the_callee(
    autojump_clock: object,
) -> None:
    rec = Recording()
    async with running(one(rec, mailbox_size=64, reply=lambda m: "done")) as rt:
        ref = rt.ref("w")
        outcomes: list[str] = []

        async def caller(i: int) -> None:
            # Each request takes 1s of handling; the queue is served one at a time, so request i
            # completes at t = i + 1. Odd callers give up before that.
            timeout = (i + 1.5) if i % 2 == 0 else (i + 0.5)
            try:
                outcomes.append(await ref.call(Sleep(1.0), timeout=timeout))  # type: ignore[arg-type]
            except CallTimeout:
                outcomes.append("timeout")

        async with trio.open_nursery() as nursery:
            for i in range(40):
                nursery.start_soon(caller, i)
                await trio.testing.wait_all_tasks_blocked()  # enqueue in order
        assert outcomes.count("done") == 20 and outcomes.count("timeout") == 20
        assert await ref.call(Ping(1)) == "done"  # still serving, after the last late reply
        stats = rt.node("w").stats
        assert stats.late_replies == 20
        assert (stats.calls_ok, stats.calls_timeout) == (21, 20)
        assert rt.node("w").restarts == 0 and rt.node("w").incarnation == 1


async def test_a_call_to_an_actor_that_crashes_mid_request_fails_at_once(
    autojump_clock: object,
) -> None:
    rec = Recording()
    async with running(one(rec)) as rt:
        ref = rt.ref("w")
        start = trio.current_time()
        with pytest.raises(ActorDied, match="crashed handling this call"):
            await ref.call(Crash(), timeout=30)
        assert trio.current_time() == start


async def test_calls_queued_behind_a_crash_fail_at_once_instead_of_hanging(
    autojump_clock: object,
) -> None:
    rec = Recording()
    async with running(one(rec)) as rt:
        ref = rt.ref("w")
        ref.cast_nowait(Sleep(5))
        ref.cast_nowait(Crash())
        start = trio.current_time()
        with pytest.raises(ActorDied, match=r"'w' \(incarnation 1\) died"):
            await ref.call(Ping(1), timeout=60)
        assert trio.current_time() - start == pytest.approx(5)
        assert rt.node("w").stats.dropped == 0


class BackgroundCrasher(Actor):
    """Crashes from a background task after 2s while a call is being handled."""

    mailbox_size = 4
    accepts = (Ping,)

    async def started(self, ctx: ActorContext) -> None:
        ctx.start_soon(self._tick)

    async def _tick(self) -> None:
        await trio.sleep(2)
        raise RuntimeError("background task failed")

    async def handle(self, msg: Ping) -> object:
        await trio.sleep(100)
        return msg.n


async def test_a_background_task_crash_crashes_the_actor_and_fails_its_pending_call(
    autojump_clock: object,
) -> None:
    root = Supervisor("root", [ChildSpec("bg", BackgroundCrasher)], max_restarts=100)
    async with running(root) as rt:
        start = trio.current_time()
        with pytest.raises(ActorDied):
            await rt.ref("bg").call(Ping(1), timeout=60)
        assert trio.current_time() - start == pytest.approx(2)
        await wait_restarts(rt, "bg", 1)
        assert rt.node("bg").last_failure["type"] == "RuntimeError"  # type: ignore[index]


async def test_refs_obtained_before_start_stay_valid_across_restarts(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = one(rec, reply=lambda m: "pong")
    from supervisors import Runtime

    rt = Runtime(root)
    ref = rt.ref("w")
    with pytest.raises(ActorUnavailable, match="'w' is not running"):
        ref.cast_nowait(Ping(0))
    async with trio.open_nursery() as nursery:
        await nursery.start(rt.run)
        for restart in range(1, 4):
            with pytest.raises(ActorDied):
                await ref.call(Crash())
            await wait_restarts(rt, "w", restart)
            assert await ref.call(Ping(restart)) == "pong"
        assert rt.ref("w") is ref
        assert {inc for name, inc, _ in rec.received if name == "w"} == {1, 2, 3, 4}
        rt.shutdown()


async def test_wait_for_returns_once_the_name_is_running_or_times_out(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [ChildSpec("w", lambda: Probe(rec)), ChildSpec("slow", lambda: Probe(rec, start_delay=5))],
    )
    from supervisors import Runtime

    rt = Runtime(root)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rt.run)
        ref = await rt.wait_for("slow")
        assert ref.name == "slow" and trio.current_time() == pytest.approx(5)
        with pytest.raises(CallTimeout, match="'nobody' was not running within 1s"):
            await rt.wait_for("nobody", timeout=1)
        rt.shutdown()


async def test_casts_to_a_stopped_actor_raise_actor_unavailable(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor("root", [ChildSpec("w", lambda: Probe(rec), restart=Restart.TRANSIENT)])
    async with running(root) as rt:
        await rt.ref("w").call(Stop())
        await wait_state(rt, "w", "stopped")
        with pytest.raises(ActorUnavailable):
            await rt.ref("w").call(Ping(1))
        with pytest.raises(ActorUnavailable, match="supervisor"):
            rt.ref("root").cast_nowait(Ping(1))


class SelfFeeder(Actor):
    """Casts to itself from handle, never awaiting anything that yields."""

    mailbox_size = 8
    accepts = (Ping,)

    async def started(self, ctx: ActorContext) -> None:
        self.ref = ctx.self_ref

    async def handle(self, msg: Ping) -> None:
        self.ref.cast_nowait(Ping(msg.n + 1))


async def test_a_busy_actor_feeding_itself_still_lets_other_tasks_run(
    autojump_clock: object,
) -> None:
    root = Supervisor("root", [ChildSpec("loop", SelfFeeder)])
    async with running(root) as rt:
        rt.ref("loop").cast_nowait(Ping(0))
        ticks = 0
        for _ in range(3):
            await trio.sleep(0)  # would never return if the actor hogged the loop
            ticks += 1
        assert ticks == 3
        assert rt.node("loop").stats.handled > 0


async def test_a_call_without_timeout_waits_as_long_as_the_handler_takes(
    autojump_clock: object,
) -> None:
    rec = Recording()
    async with running(one(rec, reply=lambda m: "late but fine")) as rt:
        assert await rt.ref("w").call(Sleep(3600), timeout=None) == "late but fine"
        assert trio.current_time() == pytest.approx(3600)
        with pytest.raises(ActorDied):
            await rt.ref("w").call(Crash(), timeout=None)
