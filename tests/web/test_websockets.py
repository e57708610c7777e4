"""Live websockets /v1/ws/{buffer,alerts,runtime}: snapshot, updates, stalls, clean close."""

from __future__ import annotations

import json

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from tests.support.waiting import wait_until
from tests.web.conftest import Served, StubChannel
from vvtv.web import live_streams


async def next_frame(ws, timeout: float = 5.0) -> dict:
    with trio.fail_after(timeout):
        return json.loads(await ws.get_message())


@pytest.mark.parametrize("topic", ["buffer", "alerts", "runtime"])
async def test_snapshot_first_then_every_change(
    served: Served, channel: StubChannel, topic: str
) -> None:
    channel.topics.publish(topic, {"v": 1})
    async with open_websocket_url(f"{served.ws_url}/v1/ws/{topic}") as ws:
        assert await next_frame(ws) == {"topic": topic, "seq": 1, "data": {"v": 1}}
        for v in (2, 3):
            channel.topics.publish(topic, {"v": v})
            assert await next_frame(ws) == {"topic": topic, "seq": v, "data": {"v": v}}


async def test_an_update_right_after_the_handshake_is_not_lost(
    served: Served, channel: StubChannel
) -> None:
    async with open_websocket_url(f"{served.ws_url}/v1/ws/alerts") as ws:
        channel.topics.publish("alerts", [])
        assert (await next_frame(ws))["seq"] == 1


async def test_buffer_frames_carry_the_status_fields(served: Served, channel: StubChannel) -> None:
    async with open_websocket_url(f"{served.ws_url}/v1/ws/buffer") as ws:
        await served.control("/v1/control/emergency-mode", b'{"enabled": true}')
        data = (await next_frame(ws))["data"]
        assert data["state"] == "EMERGENCY"
        assert data.keys() == (await served.client.get("/v1/status")).json().keys()


async def test_unknown_topic_is_refused_at_the_handshake(served: Served) -> None:
    with pytest.raises(ConnectionRejected) as info:
        async with open_websocket_url(f"{served.ws_url}/v1/ws/weather"):
            pass
    assert info.value.status_code == 404


async def test_client_gauge_follows_connections(served: Served, channel: StubChannel) -> None:
    def gauge() -> float | None:
        return channel.metrics.registry.get_sample_value(
            "vvtv_websocket_clients", {"topic": "runtime"}
        )

    channel.topics.publish("runtime", {})
    async with open_websocket_url(f"{served.ws_url}/v1/ws/runtime") as ws:
        await next_frame(ws)
        assert gauge() == 1
    await wait_until("the gauge back at 0", lambda: gauge() == 0, within=5, step=0.01, show=gauge)


async def test_a_stalled_client_neither_slows_others_nor_misses_the_latest_state(
    served: Served, channel: StubChannel
) -> None:
    """One client stops reading while 300 large updates go out: the others get every
    update as it happens; the stalled one, once it resumes, catches up to the latest
    state with a gap marker saying how many it never saw."""
    pad = "x" * 100_000  # large frames fill the stalled client's socket buffers quickly
    url = f"{served.ws_url}/v1/ws/buffer"
    channel.topics.publish("buffer", {"i": 0, "pad": pad})
    async with (
        open_websocket_url(url, message_queue_size=1) as stalled,
        open_websocket_url(url) as fast,
    ):
        assert (await next_frame(stalled))["seq"] == 1
        assert (await next_frame(fast))["seq"] == 1
        last = 300
        for i in range(1, last):
            channel.topics.publish("buffer", {"i": i, "pad": pad})
            frame = await next_frame(fast, timeout=2.0)  # never held up by `stalled`
            assert frame["data"]["i"] == i
        channel.topics.publish("buffer", {"i": last, "pad": ""})
        assert (await next_frame(fast))["data"]["i"] == last

        seen = []
        while True:
            frame = await next_frame(stalled)
            seen.append(frame)
            if frame["data"]["i"] == last:
                break
        gaps = [f["gap"] for f in seen if "gap" in f]
        assert gaps, "the stalled client should be told it missed updates"
        assert len(seen) + sum(gaps) == last  # every update either delivered or counted

    def skipped() -> float | None:
        return channel.metrics.registry.get_sample_value(
            "vvtv_websocket_frames_conflated_total", {"topic": "buffer"}
        )

    await wait_until("conflated frames counted", skipped, within=5, step=0.01)
    assert skipped() == sum(gaps)


async def test_shutdown_closes_live_streams_cleanly_and_quickly(
    served: Served, channel: StubChannel
) -> None:
    channel.topics.publish("buffer", {})
    async with open_websocket_url(f"{served.ws_url}/v1/ws/buffer") as ws:
        await next_frame(ws)
        served.shutdown.set()
        with pytest.raises(ConnectionClosed) as info, trio.fail_after(2):
            await ws.get_message()
        assert info.value.reason.code == 1001


async def test_new_live_streams_are_refused_while_shutting_down(served: Served) -> None:
    live_streams(served.app).close()
    with pytest.raises(ConnectionRejected) as info:
        async with open_websocket_url(f"{served.ws_url}/v1/ws/buffer"):
            pass
    assert info.value.status_code == 503
