"""Live topics: snapshot first, every change after, bounded queues with conflation."""

from __future__ import annotations

import json

import pytest
import trio

from vvtv.observe.topics import Topic, TopicClosed, TopicHub


def frames_of(sub) -> list[dict]:
    out = []
    while (frame := sub.receive_nowait()) is not None:
        out.append(json.loads(frame))
    return out


def test_publish_numbers_updates_and_keeps_the_latest() -> None:
    topic = Topic("buffer")
    assert (topic.seq, topic.latest) == (0, None)
    assert topic.publish({"buffer_minutes": 10}) == 1
    assert topic.publish({"buffer_minutes": 11}) == 2
    assert topic.latest == {"buffer_minutes": 11}
    assert json.loads(topic.latest_frame) == {
        "topic": "buffer",
        "seq": 2,
        "data": {"buffer_minutes": 11},
    }


def test_a_frame_is_serialised_once_for_all_subscribers() -> None:
    topic = Topic("alerts")
    a, b = topic.subscribe(), topic.subscribe()
    topic.publish([{"code": "BUFFER_CRITICAL"}])
    assert a.receive_nowait() is b.receive_nowait()


def test_with_nobody_subscribed_an_update_is_serialised_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vvtv.observe import topics

    encoded: list[int] = []
    real = topics.encode
    monkeypatch.setattr(topics, "encode", lambda t, seq, d: encoded.append(seq) or real(t, seq, d))
    topic = Topic("buffer")
    for minutes in range(100):
        topic.publish({"buffer_minutes": minutes})
    assert encoded == []  # nobody watches: nothing serialised
    assert json.loads(topic.latest_frame)["data"] == {"buffer_minutes": 99}
    assert topic.latest_frame is topic.latest_frame and encoded == [100]  # once, kept
    sub = topic.subscribe()  # the snapshot is that same frame
    topic.publish({"buffer_minutes": 100})  # watched: serialised as published
    assert encoded == [100, 101]
    assert [f["seq"] for f in frames_of(sub)] == [100, 101]


def test_first_frame_of_a_subscription_is_the_latest_state() -> None:
    topic = Topic("buffer")
    for minutes in range(5):
        topic.publish({"buffer_minutes": minutes})
    sub = topic.subscribe()
    assert frames_of(sub) == [{"topic": "buffer", "seq": 5, "data": {"buffer_minutes": 4}}]
    topic.publish({"buffer_minutes": 99})
    assert frames_of(sub) == [{"topic": "buffer", "seq": 6, "data": {"buffer_minutes": 99}}]


def test_a_subscriber_that_stops_reading_is_conflated_with_a_gap_marker() -> None:
    topic = Topic("buffer", queue_size=4)
    sub = topic.subscribe()
    for i in range(1, 101):
        topic.publish({"i": i})
        assert sub.pending <= 4  # bounded, whatever the producer does
    got = frames_of(sub)
    assert got[-1]["seq"] == 100 and got[-1]["data"] == {"i": 100}  # latest state wins
    assert got[0]["gap"] == 100 - len(got)  # the marker counts what was skipped
    assert [f["seq"] for f in got] == list(range(100 - len(got) + 1, 101))
    assert all("gap" not in f for f in got[1:])
    assert sub.skipped_total == got[0]["gap"]


def test_a_slow_subscriber_does_not_affect_a_fast_one() -> None:
    topic = Topic("runtime", queue_size=2)
    slow, fast = topic.subscribe(), topic.subscribe()
    seen = []
    for i in range(50):
        topic.publish(i)
        seen.extend(f["data"] for f in frames_of(fast))
    assert seen == list(range(50))
    assert slow.pending == 2


def test_datetimes_and_enums_are_encoded() -> None:
    from datetime import UTC, datetime

    from vvtv.core.model import SlotType

    topic = Topic("buffer")
    topic.publish({"at": datetime(2026, 3, 1, tzinfo=UTC), "slot": SlotType.MAIN, "t": (1, 2)})
    assert json.loads(topic.latest_frame)["data"] == {
        "at": "2026-03-01T00:00:00+00:00",
        "slot": "MAIN",
        "t": [1, 2],
    }


async def test_receive_waits_for_the_next_update() -> None:
    topic = Topic("buffer")
    sub = topic.subscribe()
    got: list[str] = []

    async def reader() -> None:
        got.append(await sub.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        topic.publish("hello")
    assert json.loads(got[0])["data"] == "hello"


async def test_closing_the_hub_ends_every_subscription_after_its_queue() -> None:
    hub = TopicHub()
    sub = hub.subscribe("alerts")
    hub.publish("alerts", [])
    hub.close()
    assert [json.loads(f)["seq"] async for f in sub] == [1]
    with pytest.raises(TopicClosed):
        hub.publish("alerts", [])
    late = hub.subscribe("alerts")
    assert [json.loads(f)["seq"] async for f in late] == [1]  # the snapshot, then the end


async def test_closing_a_subscription_detaches_it() -> None:
    hub = TopicHub()
    with hub.subscribe("runtime") as sub:
        assert hub.subscriber_count == 1
    assert hub.subscriber_count == 0
    with pytest.raises(trio.EndOfChannel):
        await sub.receive()


def test_hub_refuses_unknown_topics_and_bad_sizes() -> None:
    hub = TopicHub()
    assert hub.names == ("buffer", "alerts", "runtime")
    with pytest.raises(KeyError, match="unknown topic 'weather'"):
        hub.publish("weather", {})
    with pytest.raises(ValueError, match="queue length"):
        hub.subscribe("buffer", queue_size=0)
    with pytest.raises(ValueError, match="at least one"):
        TopicHub(())
