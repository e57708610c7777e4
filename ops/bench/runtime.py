"""Benchmark: the actor runtime against raw Trio memory channels doing the same work.

Measured in one process, several rounds, medians reported:
- one-way throughput: a raw channel (``send_nowait``, awaiting ``send`` only when full; the
  consumer drains with ``receive_nowait`` and awaits an async handler per message) vs an actor
  whose ``handle`` is that same handler, fed the same way (``cast_nowait``, awaiting ``cast``
  only when full: ``cast_ratio``) and fed with ``await cast`` per message (``cast_await_ratio``);
- request/reply latency: a raw request channel plus a reused reply channel vs ``ActorRef.call``;
- restart latency: from the exception raised in ``handle`` to the replacement incarnation's
  ``started()`` (backoff off), as wall time and as this thread's CPU time; against the same
  restart written by hand with Trio in the same round (a loop that opens a nursery, starts the
  child with ``nursery.start``, hands it one message, catches its exception and starts the
  next): ``restart_vs_raw_p99`` and ``restart_cpu_vs_raw_p99``.

Raw and runtime run side by side and alternate in blocks, so both see the same machine load
(this box is shared and noisy: a 4 ms preemption lands in any sample that spans it, which is
why the CPU-time figure for restarts is reported next to the wall-clock one).

The last line printed is one JSON object. Usage: ``.venv/bin/python ops/bench/runtime.py``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import contextlib

from supervisors import (  # after the path fix, so it runs from a checkout
    Actor,
    ActorContext,
    ActorDied,
    Backoff,
    ChildSpec,
    Runtime,
    Supervisor,
)

CAPACITY = 1024


class Msg:
    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n


class Counter:
    """The per-message work both sides do: count, and wake the producer when a block is done."""

    def __init__(self) -> None:
        self.seen = 0
        self.target = 0
        self.done = trio.Event()

    def expect(self, count: int) -> trio.Event:
        self.target = self.seen + count
        self.done = trio.Event()
        return self.done

    async def handle(self, msg: Msg) -> int:
        self.seen += 1
        if self.seen == self.target:
            self.done.set()
        return msg.n


class CountingActor(Actor):
    mailbox_size = CAPACITY
    accepts = (Msg,)

    def __init__(self, counter: Counter) -> None:
        self.handle = counter.handle  # type: ignore[method-assign]


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


async def raw_consumer(recv: trio.MemoryReceiveChannel[Msg], counter: Counter) -> None:
    handle = counter.handle
    while True:
        try:
            msg = recv.receive_nowait()
        except trio.WouldBlock:
            try:
                msg = await recv.receive()
            except trio.EndOfChannel:
                return
        await handle(msg)


async def raw_server(
    requests: trio.MemoryReceiveChannel[Msg], replies: trio.MemorySendChannel[int], counter: Counter
) -> None:
    async for msg in requests:
        replies.send_nowait(await counter.handle(msg))


async def throughput_and_latency(messages: int, rtts: int, blocks: int) -> dict[str, float]:
    raw_counter, actor_counter = Counter(), Counter()
    raw_send, raw_recv = trio.open_memory_channel[Msg](CAPACITY)
    req_send, req_recv = trio.open_memory_channel[Msg](CAPACITY)
    rep_send, rep_recv = trio.open_memory_channel[int](1)
    root = Supervisor("root", [ChildSpec("sink", lambda: CountingActor(actor_counter))])
    runtime = Runtime(root)
    msg = Msg(1)
    raw_time = cast_time = await_time = 0.0
    raw_rtt: list[float] = []
    call_rtt: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        nursery.start_soon(raw_consumer, raw_recv, raw_counter)
        nursery.start_soon(raw_server, req_recv, rep_send, Counter())
        ref = runtime.ref("sink")
        await trio.testing.wait_all_tasks_blocked()
        per_block, rtt_block = messages // blocks, rtts // blocks
        perf = time.perf_counter
        for _ in range(blocks):
            done = raw_counter.expect(per_block)
            start = perf()
            for _ in range(per_block):
                try:
                    raw_send.send_nowait(msg)
                except trio.WouldBlock:
                    await raw_send.send(msg)
            await done.wait()
            raw_time += perf() - start

            # The same pattern as the raw producer: never yield while there is room.
            done = actor_counter.expect(per_block)
            start = perf()
            for _ in range(per_block):
                try:
                    ref.cast_nowait(msg)
                except trio.WouldBlock:
                    await ref.cast(msg)
            await done.wait()
            cast_time += perf() - start

            # What most actor code writes: always ``await cast`` (it returns without yielding
            # when there is room, but it is a coroutine call per message).
            done = actor_counter.expect(per_block)
            start = perf()
            for _ in range(per_block):
                await ref.cast(msg)
            await done.wait()
            await_time += perf() - start

            for _ in range(rtt_block):
                t0 = perf()
                req_send.send_nowait(msg)
                await rep_recv.receive()
                raw_rtt.append(perf() - t0)
            for _ in range(rtt_block):
                t0 = perf()
                await ref.call(msg)
                call_rtt.append(perf() - t0)
        runtime.shutdown()
        await raw_send.aclose()
        await req_send.aclose()
    total = per_block * blocks
    return {
        "raw_msgs_per_s": total / raw_time,
        "cast_msgs_per_s": total / cast_time,
        "cast_ratio": raw_time / cast_time,
        "cast_await_msgs_per_s": total / await_time,
        "cast_await_ratio": raw_time / await_time,
        "raw_rtt_median_us": statistics.median(raw_rtt) * 1e6,
        "call_median_us": statistics.median(call_rtt) * 1e6,
        "raw_rtt_p99_us": p99(raw_rtt) * 1e6,
        "call_p99_us": p99(call_rtt) * 1e6,
        "call_ratio_p99": p99(call_rtt) / p99(raw_rtt),
    }


class Crasher(Actor):
    """Crashes on every message; each new incarnation records how long its restart took."""

    mailbox_size = 16
    accepts = (Msg,)
    crashed_at: tuple[float, float] | None = None
    wall: list[float] = []  # noqa: RUF012 - shared on purpose across incarnations
    cpu: list[float] = []  # noqa: RUF012

    async def started(self, ctx: ActorContext) -> None:
        if Crasher.crashed_at is not None:
            wall, cpu = Crasher.crashed_at
            Crasher.wall.append(time.perf_counter() - wall)
            Crasher.cpu.append(time.thread_time() - cpu)
            Crasher.crashed_at = None

    async def handle(self, msg: Msg) -> None:
        Crasher.crashed_at = (time.perf_counter(), time.thread_time())
        raise RuntimeError("benchmark crash")


async def restart_latency(rounds: int) -> dict[str, float]:
    Crasher.wall, Crasher.cpu = [], []
    root = Supervisor(
        "root",
        [ChildSpec("crasher", Crasher)],
        max_restarts=rounds + 1,
        within_seconds=3600,
        backoff=Backoff(enabled=False),
    )
    runtime = Runtime(root)
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        msg = Msg(1)
        for _ in range(rounds):
            ref = await runtime.wait_for("crasher")
            with contextlib.suppress(ActorDied):
                await ref.call(msg)
        await runtime.wait_for("crasher")
        runtime.shutdown()
    return {
        "restart_p99_ms": p99(Crasher.wall) * 1e3,
        "restart_median_ms": statistics.median(Crasher.wall) * 1e3,
        "restart_cpu_p99_ms": p99(Crasher.cpu) * 1e3,
    }


async def raw_restart_latency(rounds: int) -> dict[str, float]:
    """The baseline: a restart loop written by hand, timed like ``restart_latency``."""
    send, recv = trio.open_memory_channel[Msg](16)
    crashed_at: tuple[float, float] | None = None
    wall: list[float] = []
    cpu: list[float] = []

    async def child(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal crashed_at
        if crashed_at is not None:  # this incarnation's start-up, as Crasher.started
            wall.append(time.perf_counter() - crashed_at[0])
            cpu.append(time.thread_time() - crashed_at[1])
            crashed_at = None
        task_status.started()
        await recv.receive()
        crashed_at = (time.perf_counter(), time.thread_time())
        raise RuntimeError("benchmark crash")

    msg = Msg(1)
    for _ in range(rounds + 1):
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(child)
                send.send_nowait(msg)
        except* RuntimeError:
            pass
    return {
        "raw_restart_p99_ms": p99(wall) * 1e3,
        "raw_restart_median_ms": statistics.median(wall) * 1e3,
        "raw_restart_cpu_p99_ms": p99(cpu) * 1e3,
    }


async def one_round(messages: int, rtts: int, restarts: int, blocks: int) -> dict[str, float]:
    result = await throughput_and_latency(messages, rtts, blocks)
    result.update(await restart_latency(restarts))
    result.update(await raw_restart_latency(restarts))
    result["restart_vs_raw_p99"] = result["restart_p99_ms"] / result["raw_restart_p99_ms"]
    result["restart_cpu_vs_raw_p99"] = (
        result["restart_cpu_p99_ms"] / result["raw_restart_cpu_p99_ms"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rtts", type=int, default=20_000)
    parser.add_argument("--restarts", type=int, default=3_000)
    parser.add_argument("--blocks", type=int, default=10, help="alternations raw/runtime")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.messages, args.rtts, args.restarts = 1, 4_000, 1_000, 100
    rounds = []
    for i in range(args.rounds):
        result = trio.run(one_round, args.messages, args.rtts, args.restarts, args.blocks)
        print(f"round {i + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in result.items()))
        rounds.append(result)
    summary: dict[str, object] = {
        key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]
    }
    summary.update(
        rounds=args.rounds,
        messages=args.messages,
        rtts=args.rtts,
        restarts=args.restarts,
        loadavg_1m=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
