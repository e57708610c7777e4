"""Paced wake-ups (vvtv.observe.topics.Pacer): a publish to many waiting subscribers wakes them a
chunk per scheduler batch, and other tasks run between the chunks."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from tests.web.batches import BatchLog
from vvtv.observe.topics import Pacer, Topic


async def test_a_paced_publish_wakes_a_chunk_per_batch_and_lets_others_run() -> None:
    topic, pacer = Topic("buffer"), Pacer(chunk=10)
    subs = [topic.subscribe(pacer=pacer) for _ in range(100)]
    readers: set[trio.lowlevel.Task] = set()
    got: list[dict] = []
    log = BatchLog()

    async def read(sub) -> None:
        readers.add(trio.lowlevel.current_task())
        got.append(json.loads(await sub.receive()))

    async def other(task_status: trio.TaskStatus[trio.lowlevel.Task]) -> None:
        # Stands for the rest of the daemon (the lag sampler, an HTTP request): it is
        # runnable all along, so it runs in every batch the loop gets to.
        task_status.started(trio.lowlevel.current_task())
        while True:
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pacer.run)
        for sub in subs:
            nursery.start_soon(read, sub)
        await trio.testing.wait_all_tasks_blocked()
        other_task = await nursery.start(other)
        trio.lowlevel.add_instrument(log)
        topic.publish({"v": 1})
        with trio.fail_after(5):
            while len(got) < len(subs):
                await trio.sleep(0)
        trio.lowlevel.remove_instrument(log)
        nursery.cancel_scope.cancel()

    assert all(frame["data"] == {"v": 1} for frame in got)
    per_batch = log.steps_per_batch(readers)
    assert max(per_batch.values()) <= 10  # never more than one chunk at once...
    assert len(per_batch) >= 10  # ...so the 100 wake-ups took at least 10 batches
    ran = set(log.steps_per_batch({other_task}))
    assert set(per_batch) <= ran  # and the other task ran in every one of them


async def test_unpaced_subscribers_all_wake_in_one_batch() -> None:
    """The burst the pacer exists for (and proof that BatchLog can see it)."""
    topic = Topic("buffer")
    subs = [topic.subscribe() for _ in range(100)]
    readers: set[trio.lowlevel.Task] = set()
    log = BatchLog()

    async def read(sub) -> None:
        readers.add(trio.lowlevel.current_task())
        await sub.receive()

    async with trio.open_nursery() as nursery:
        for sub in subs:
            nursery.start_soon(read, sub)
        await trio.testing.wait_all_tasks_blocked()
        trio.lowlevel.add_instrument(log)
        topic.publish({"v": 1})
    trio.lowlevel.remove_instrument(log)
    assert list(log.steps_per_batch(readers).values()) == [100]


async def test_a_subscriber_that_is_behind_is_woken_once_and_reads_every_queued_frame() -> None:
    topic, pacer = Topic("buffer", queue_size=8), Pacer(chunk=1)
    subs = [topic.subscribe(pacer=pacer) for _ in range(3)]
    got: dict[int, list[int]] = {i: [] for i in range(3)}

    async def read(i: int) -> None:
        while len(got[i]) < 3:
            got[i].append(json.loads(await subs[i].receive())["seq"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pacer.run)
        async with trio.open_nursery() as readers:
            for i in range(3):
                readers.start_soon(read, i)
            await trio.testing.wait_all_tasks_blocked()
            for v in range(3):  # three updates before the pacer has woken anyone
                topic.publish(v)
            assert pacer.due == 3  # one wake-up per subscriber, however many frames
        pacer.stop()
    assert got == {i: [1, 2, 3] for i in range(3)}


async def test_stopping_the_pacer_wakes_everyone_still_due_and_later_wakes_are_direct() -> None:
    topic, pacer = Topic("alerts"), Pacer(chunk=1)
    subs = [topic.subscribe(pacer=pacer) for _ in range(5)]
    got: list[int] = []

    async def read(sub) -> None:
        got.append(json.loads(await sub.receive())["seq"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pacer.run)
        for sub in subs:
            nursery.start_soon(read, sub)
        await trio.testing.wait_all_tasks_blocked()
        assert pacer.running
        topic.publish([])
        pacer.stop()
    assert got == [1] * 5
    assert not pacer.running and pacer.due == 0

    async with trio.open_nursery() as nursery:  # no pacer running: woken at once
        nursery.start_soon(read, subs[0])
        await trio.testing.wait_all_tasks_blocked()
        topic.publish([])
    assert got[-1] == 2


async def test_a_pacer_runs_once_at_a_time_and_needs_a_positive_chunk() -> None:
    with pytest.raises(ValueError, match="chunk"):
        Pacer(chunk=0)
    pacer = Pacer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pacer.run)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="already running"):
            await pacer.run()
        pacer.stop()
