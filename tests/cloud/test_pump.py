"""The outbox pump: strict order, a failing head holds back the rest, refusals skip."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
from trio.testing import MockClock

from tests.support.loopback import Loopback, json_reply
from vvtv.core.clock import TrioClock
from vvtv.notify.delivery import Deliverer, PumpPolicy, PumpSignal, drain, pump
from vvtv.store import open_store


async def test_a_failing_head_holds_back_the_rest_and_is_retried_on_a_growing_pace(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback, nursery
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    for n in range(3):
        store.enqueue("t", {"n": n})
    # Two failed rounds of 4 attempts each for the head, then the receiver recovers.
    receiver.then(*[json_reply(503)] * 8)
    async with httpx.AsyncClient() as client:
        d = Deliverer(receiver.url, None, None, client, clock, breaker_threshold=10)
        signal = PumpSignal()
        nursery.start_soon(lambda: pump(store, "t", d, lambda i: "/in", clock, signal=signal))
        await trio.sleep(2.5)  # first round: 4 attempts over 2.1 s
        assert [r.json()["n"] for r in receiver.requests] == [0] * 4
        head = store.get_outbox_item(1)
        assert head is not None and head.attempts == 1 and "503" in head.last_error
        signal.set()  # an enqueue wake-up must not let item 1 be overtaken
        await trio.sleep(0)
        assert len(receiver.requests) == 4
        await trio.sleep(60)
    assert [r.json()["n"] for r in receiver.accepted] == [0, 1, 2]
    times = [r.at for r in receiver.requests]
    # After the failed first round (4 attempts, 2.1 s) the pump paused 5 s before the
    # next round. (Round two may lose an attempt to the server's keep-alive close
    # racing the reused connection: a transport error, retried like any other.)
    assert times[4] - times[3] >= 5.0 - 0.01
    assert store.pending_count("t") == 0


async def test_pump_policy_retry_delays_double_and_are_capped() -> None:
    policy = PumpPolicy(retry_base_s=5, retry_cap_s=300)
    assert [policy.retry_delay(k) for k in (1, 2, 3, 4, 7, 20)] == [5, 10, 20, 40, 300, 300]
    with pytest.raises(ValueError, match="batch"):
        PumpPolicy(batch=0)
    with pytest.raises(ValueError, match="> 0"):
        PumpPolicy(idle_poll_s=0)


async def test_a_head_the_receiver_asks_to_wait_for_is_retried_when_it_asked(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback, nursery
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    store.enqueue("t", {"n": 0})
    # One whole round asks for two minutes.
    receiver.then(*[json_reply(503, headers={"Retry-After": "120"})] * 4)
    async with httpx.AsyncClient() as client:
        d = Deliverer(receiver.url, None, None, client, clock)
        nursery.start_soon(lambda: pump(store, "t", d, lambda i: "/in", clock))
        await trio.sleep(600)
    first_round_end, next_round = receiver.requests[3].at, receiver.requests[4].at
    assert next_round - first_round_end == pytest.approx(120.0, abs=0.05)  # not the 5 s pace
    assert [r.json()["n"] for r in receiver.accepted] == [0]


async def test_pump_policy_honours_retry_after_within_its_cap() -> None:
    policy = PumpPolicy(retry_base_s=5, retry_cap_s=300)
    assert policy.retry_delay(1, retry_after=None) == 5
    assert policy.retry_delay(1, retry_after=2) == 5  # never shorter than the pace
    assert policy.retry_delay(1, retry_after=42) == 42
    assert policy.retry_delay(1, retry_after=86_400) == 300


async def test_drain_waits_for_the_pump_to_empty_the_topic_and_no_longer_than_asked(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback, nursery
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    for n in range(2):
        store.enqueue("t", {"n": n})
    async with httpx.AsyncClient() as client:
        d = Deliverer(receiver.url, None, None, client, clock, breaker_threshold=10)
        signal = PumpSignal()
        nursery.start_soon(lambda: pump(store, "t", d, lambda i: "/in", clock, signal=signal))
        assert await drain(store, "t", 30, signal) == 0
        assert [r.json()["n"] for r in receiver.accepted] == [0, 1]
        # A receiver that stays down: the wait ends on time and says how many are left.
        receiver.answer_always(json_reply(503))
        store.enqueue("t", {"n": 2})
        started = trio.current_time()
        assert await drain(store, "t", 20, signal) == 1
        assert trio.current_time() - started == pytest.approx(20, abs=0.5)
    with pytest.raises(ValueError, match=">= 0"):
        await drain(store, "t", -1)
