"""Hostile websocket clients over real sockets, each next to a dashboard that must keep
working: floods and oversized messages (memory stays flat), foreign pages (refused before
the handshake), too many connections (refused with a reason saying which cap)."""

from __future__ import annotations

import json
import zlib

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.support.memory import peak_growth
from tests.support.waiting import wait_until
from tests.support.wsclient import TEXT, RawWebsocket
from tests.web.conftest import Served, StubChannel, limits, serving
from vvtv.core.signing import Verifier
from vvtv.web import create_app
from vvtv.web.hosts import HostPolicy


async def next_data(ws, timeout: float = 5.0) -> dict:
    with trio.fail_after(timeout):
        return json.loads(await ws.get_message())["data"]


def refused(channel: StubChannel, reason: str) -> float:
    value = channel.metrics.registry.get_sample_value("vvtv_http_refused_total", {"reason": reason})
    return value or 0.0


# ---- what a client sends is read and dropped; too large closes ---------------------------


async def test_floods_and_oversized_messages_leave_memory_flat_and_a_dashboard_working(
    served: Served, channel: StubChannel
) -> None:
    """The issue's reproduction took the server from 230 MiB to 1.3 GiB with three clients:
    the server never read what they sent, and queued up to 21 messages of up to 16 MiB
    each per connection. Now three clients announcing 2 MiB messages (40 each) are closed
    with 1009 at the first, three others flood 2,000 small messages without reading a
    byte back, and the process's peak memory grows by less than 32 MiB; a dashboard next
    to them gets every update."""
    url = f"{served.ws_url}/v1/ws/buffer"
    channel.topics.publish("buffer", {"v": 0})
    async with open_websocket_url(url) as dashboard:
        assert await next_data(dashboard) == {"v": 0}
        closes: list[tuple[int, str] | None] = []

        async def oversized() -> None:
            ws = await RawWebsocket.open(url)
            assert ws.accepted
            for _ in range(40):
                if await ws.send_huge(2 << 20) < 2 << 20:
                    break  # the server closed: it stopped taking the message
            closes.append(await ws.close_frame())
            await ws.aclose()

        async def flood() -> None:
            ws = await RawWebsocket.open(url)
            for i in range(2000):
                await ws.send_frame(TEXT, b'{"subscribe": "everything", "n": %d}' % i)
            await ws.aclose()

        with peak_growth() as growth:
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(oversized)
                    nursery.start_soon(flood)
                for v in range(1, 6):
                    channel.topics.publish("buffer", {"v": v})
                    assert await next_data(dashboard) == {"v": v}
        assert growth.mib < 32, f"peak grew {growth.mib:.0f} MiB"
        assert [c[0] if c else None for c in closes] == [1009] * 3
        channel.topics.publish("buffer", {"v": 99})
        assert await next_data(dashboard) == {"v": 99}


async def test_a_compressed_message_is_never_inflated(served: Served, channel: StubChannel) -> None:
    """permessage-deflate is not agreed to: a 64 KiB compressed frame that would inflate to
    64 MiB is a protocol error for the server (RSV1 set without the extension), which drops
    the connection, not 64 MiB of memory."""
    ws = await RawWebsocket.open(f"{served.ws_url}/v1/ws/buffer", deflate=True)
    assert ws.accepted and "sec-websocket-extensions" not in ws.headers
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(bytes(64 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)[:-4]
    with peak_growth() as growth:
        await ws.send_frame(TEXT, payload, rsv1=True)
        close = await ws.close_frame()
    assert growth.mib < 16
    assert close is None or close[0] == 1002  # dropped, or closed as a protocol error
    await ws.aclose()
    assert (await served.client.get("/v1/status")).status_code == 200


# ---- Origin ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://localhost:8080",  # another local server's page: another origin
        "null",  # a sandboxed frame or a file:// page
        "http://127.0.0.1.evil.example",
    ],
)
async def test_a_foreign_origin_is_refused_before_the_handshake(
    served: Served, channel: StubChannel, origin: str
) -> None:
    channel.topics.publish("runtime", {"tree": "secret-ish"})
    url = f"{served.ws_url}/v1/ws/runtime"
    async with open_websocket_url(url) as dashboard:  # no Origin: not a browser, allowed
        assert await next_data(dashboard) == {"tree": "secret-ish"}
        ws = await RawWebsocket.open(url, origin=origin)
        assert ws.status == 403
        assert "VVTV_ALLOWED_ORIGINS" in ws.error()
        assert await ws.close_frame() is None  # nothing of the live state was sent
        channel.topics.publish("runtime", {"tree": 2})
        assert await next_data(dashboard) == {"tree": 2}
    assert refused(channel, "foreign_origin") == 1


async def test_the_channels_own_pages_and_allowed_origins_are_accepted(
    channel: StubChannel,
) -> None:
    channel.topics.publish("buffer", {"v": 1})
    policy = HostPolicy.build(public_hosts=["tv.lan"], allowed_origins=["https://ops.example"])
    app = create_app(channel, verifier=Verifier("t", "s"), limits=limits(hosts=policy))
    async with serving(app) as served:
        port = served.url.rsplit(":", 1)[1]
        url = f"{served.ws_url}/v1/ws/buffer"
        for origin, host in [
            (served.url, None),  # the dashboard itself: http://127.0.0.1:<port>
            (f"http://localhost:{port}", None),  # loopback by name, the server's port
            ("https://ops.example", None),  # VVTV_ALLOWED_ORIGINS
            ("https://tv.lan", "tv.lan"),  # behind a TLS proxy: same name, default port
            (f"http://tv.lan:{port}", f"tv.lan:{port}"),
        ]:
            ws = await RawWebsocket.open(url, origin=origin, host=host)
            assert ws.accepted, (origin, ws.status, ws.body)
            frame = await ws.receive_frame()
            assert frame is not None and json.loads(frame[1])["data"] == {"v": 1}
            await ws.aclose()


# ---- caps --------------------------------------------------------------------------------


async def test_the_caps_hold_and_say_which_one(channel: StubChannel) -> None:
    """At most 3 live streams per client address and 5 in all: the 4th from one address
    and the 6th overall are closed at once with 1013 and a reason naming the setting;
    the admitted ones keep flowing, and a freed place is taken again."""
    channel.topics.publish("buffer", {"v": 0})
    app = create_app(
        channel,
        verifier=Verifier("t", "s"),
        limits=limits(ws_max_clients=5, ws_max_clients_per_address=3),
    )
    async with serving(app) as served:
        url = f"{served.ws_url}/v1/ws/buffer"
        first = [await RawWebsocket.open(url) for _ in range(3)]
        over = await RawWebsocket.open(url)
        assert over.accepted
        code, reason = await over.close_frame() or (0, "")
        assert code == 1013
        assert "from 127.0.0.1" in reason and "VVTV_WS_MAX_CLIENTS_PER_ADDRESS" in reason
        # Another client address (a second loopback address stands for another machine).
        second = [await RawWebsocket.open(url, source="127.0.0.2") for _ in range(2)]
        third = await RawWebsocket.open(url, source="127.0.0.3")
        code, reason = await third.close_frame() or (0, "")
        assert code == 1013 and "at most 5: VVTV_WS_MAX_CLIENTS" in reason
        admitted = first + second
        for ws in admitted:
            frame = await ws.receive_frame()
            assert frame is not None and json.loads(frame[1])["data"] == {"v": 0}
        channel.topics.publish("buffer", {"v": 1})
        for ws in admitted:
            frame = await ws.receive_frame()
            assert frame is not None and json.loads(frame[1])["data"] == {"v": 1}
        # One leaves: its place is free again.
        await first[0].aclose()
        await wait_until("the place freed", lambda: len(app.extensions["vvtv.live_clients"]) == 4)
        again = await RawWebsocket.open(url, source="127.0.0.3")
        frame = await again.receive_frame()
        assert frame is not None and frame[0] == TEXT
        assert refused(channel, "ws_address_cap") == 1 and refused(channel, "ws_cap") == 1
        for ws in [*admitted[1:], again]:
            await ws.aclose()
