"""The bounded single-consumer mailbox, checked against a plain-list model."""

from __future__ import annotations

import contextlib

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisors.mailbox import Mailbox

OPS = st.lists(
    st.sampled_from(["put_nowait", "put", "get_nowait", "cancel_oldest_sender"]), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 4), ops=OPS)
def test_mailbox_is_a_bounded_fifo_whose_blocked_senders_keep_their_turn(
    capacity: int, ops: list[str]
) -> None:
    async def scenario() -> None:
        box = Mailbox(capacity)
        queue: list[int] = []  # model: what the mailbox holds, in order
        waiting: list[tuple[int, trio.CancelScope]] = []  # model: blocked senders, in order
        peak = 0
        counter = iter(range(10_000))

        async def blocked_put(item: int, scope: trio.CancelScope) -> None:
            with scope, contextlib.suppress(trio.ClosedResourceError):
                await box.put(item)

        async with trio.open_nursery() as nursery:
            for op in ops:
                item = next(counter)
                if op == "put_nowait":
                    if len(queue) >= capacity or waiting:
                        with pytest.raises(trio.WouldBlock):
                            box.put_nowait(item)
                        peak = capacity
                    else:
                        box.put_nowait(item)
                        queue.append(item)
                elif op == "put":
                    scope = trio.CancelScope()
                    nursery.start_soon(blocked_put, item, scope)
                    await trio.testing.wait_all_tasks_blocked()
                    if len(queue) < capacity and not waiting:
                        queue.append(item)
                    else:
                        waiting.append((item, scope))
                        peak = capacity
                elif op == "get_nowait":
                    if queue:
                        assert box.get_nowait() == queue.pop(0)
                        if waiting:
                            queue.append(waiting.pop(0)[0])
                    else:
                        with pytest.raises(trio.WouldBlock):
                            box.get_nowait()
                elif op == "cancel_oldest_sender" and waiting:
                    waiting.pop(0)[1].cancel()
                await trio.testing.wait_all_tasks_blocked()
                peak = max(peak, len(queue))
                assert len(box) == len(queue) <= capacity
                assert box.blocked_senders == len(waiting)
                assert box.peak == peak
            box.close()
            # Closing fails every blocked sender; what was queued can still be taken, in order.
            await trio.testing.wait_all_tasks_blocked()
            assert box.blocked_senders == 0
            assert [box.get_nowait() for _ in queue] == queue
            with pytest.raises(trio.EndOfChannel):
                box.get_nowait()

    trio.run(scenario)


async def test_a_waiting_receiver_wakes_on_put_and_on_close() -> None:
    box = Mailbox(2)
    got: list[object] = []

    async def receiver() -> None:
        got.append(await box.get())
        try:
            await box.get()
        except trio.EndOfChannel:
            got.append("end")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        box.put_nowait("hello")
        await trio.testing.wait_all_tasks_blocked()
        box.close()
    assert got == ["hello", "end"]


async def test_a_closed_mailbox_refuses_senders() -> None:
    box = Mailbox(1)
    box.put_nowait(1)
    failures: list[type] = []

    async def sender() -> None:
        try:
            await box.put(2)
        except trio.ClosedResourceError as exc:
            failures.append(type(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        box.close()
    assert failures == [trio.ClosedResourceError]
    with pytest.raises(trio.ClosedResourceError):
        box.put_nowait(3)


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, None])
def test_an_unbounded_or_silly_capacity_is_refused(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity must be an int > 0"):
        Mailbox(capacity)  # type: ignore[arg-type]
