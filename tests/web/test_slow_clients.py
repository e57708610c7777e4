"""The HTTP server against slow and greedy clients, over real sockets on 127.0.0.1.

Each hostile case runs next to a well-behaved client that must keep being served: half-sent
requests (slowloris) under a low file-descriptor limit, a body that never finishes, headers
too large, a connection cap full of live streams, an HTTP/2 upgrade nobody asked for.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.support.waiting import wait_until
from tests.web.conftest import Served, StubChannel, limits, serving
from vvtv.core.signing import Verifier
from vvtv.web import create_app
from vvtv.web.server import FD_RESERVE, connection_cap

ROOT = Path(__file__).resolve().parents[2]
HALF_SENT = b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"


async def connect(url: str) -> trio.SocketStream:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return await trio.open_tcp_stream(host, int(port))


async def closed_by_server(stream: trio.SocketStream, within: float) -> bool:
    """Whether the server closes ``stream`` within ``within`` seconds (reading what it
    sends until then)."""
    with trio.move_on_after(within):
        try:
            while await stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass
        return True
    return False


def serve_with(channel: StubChannel, **over: object) -> object:
    app = create_app(channel, verifier=Verifier("t", "s"), limits=limits(**over))
    return serving(app)


# ---- slowloris under a low fd limit ------------------------------------------------------


@pytest.fixture
def low_fd_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The app in its own process with RLIMIT_NOFILE 128, idle connections kept a minute
    (so only the connection cap, not a timeout, can let a newcomer in)."""
    command = [sys.executable, "-m", "tests.web.server_process", str(tmp_path)]
    proc = subprocess.Popen(
        [*command, "--nofile", "128", "--keepalive", "60"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        yield url, proc
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_140_half_sent_requests_under_a_low_fd_limit_do_not_stop_status(
    low_fd_server: tuple[str, subprocess.Popen[str]],
) -> None:
    """The issue's reproduction: 140 half-sent requests against a server allowed 128 file
    descriptors stopped /v1/status. Now the server takes at most 128 - FD_RESERVE
    connections and a newcomer takes the place of the one waiting longest on its client:
    a well-behaved client is answered at once, every time, while the attack goes on."""
    url, proc = low_fd_server
    attackers = []
    for _ in range(140):
        stream = await connect(url)
        await stream.send_all(HALF_SENT)
        attackers.append(stream)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        for _ in range(5):
            with trio.fail_after(5):
                r = await client.get("/v1/status", headers={"Connection": "close"})
            assert r.status_code == 200 and r.json()["state"] == "RUNNING"
            # The attacker comes straight back: still nothing stops a good client.
            for _ in range(10):
                stream = await connect(url)
                await stream.send_all(HALF_SENT)
                attackers.append(stream)
    assert proc.poll() is None, "the server must survive the attack"
    for stream in attackers:
        await trio.aclose_forcefully(stream)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.close()
    assert await trio.to_thread.run_sync(lambda: proc.wait(timeout=10)) == 0
    log = proc.stderr.read()
    # Never out of descriptors: the cap kept FD_RESERVE of them free.
    assert "EMFILE" not in log and "Traceback" not in log, log[-3000:]


def test_the_connection_cap_leaves_room_below_the_fd_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_cap(10**9) == soft - FD_RESERVE
    assert connection_cap(10) == min(10, soft - FD_RESERVE)


# ---- timeouts ------------------------------------------------------------------------------


async def test_a_half_sent_request_is_cut_after_the_keepalive_timeout(
    channel: StubChannel,
) -> None:
    async with serve_with(channel, keepalive_s=0.5) as served:
        slow = await connect(served.url)
        await slow.send_all(HALF_SENT)
        started = trio.current_time()
        assert await closed_by_server(slow, within=5)
        assert 0.4 < trio.current_time() - started < 3
        # Dribbling does not reset the clock: the headers must be complete in time.
        slow = await connect(served.url)
        started = trio.current_time()
        with trio.move_on_after(5):
            try:
                for byte in HALF_SENT:
                    await slow.send_all(bytes([byte]))
                    await trio.sleep(0.05)
            except trio.BrokenResourceError:
                pass
        assert await closed_by_server(slow, within=5)
        assert trio.current_time() - started < 3
        assert (await served.client.get("/v1/status")).status_code == 200


async def test_a_body_that_never_finishes_is_a_408_after_the_read_timeout(
    served: Served, channel: StubChannel
) -> None:
    async with serve_with(channel, read_timeout_s=0.5) as slow_served:
        stream = await connect(slow_served.url)
        await stream.send_all(
            b"POST /v1/control/emergency-mode HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"enab'
        )
        started = trio.current_time()
        answer = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                answer += chunk
        assert 0.4 < trio.current_time() - started < 3
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"request body not received within 0.5 s" in answer
        assert channel.emergency_override is None and channel.refusals == []
        refused = channel.metrics.registry.get_sample_value(
            "vvtv_http_refused_total", {"reason": "body_timeout"}
        )
        assert refused == 1
        # A complete request on the same server is untouched by the deadline.
        assert (await slow_served.client.get("/v1/status")).status_code == 200


async def test_headers_over_the_limit_are_refused(channel: StubChannel) -> None:
    async with serve_with(channel, max_header_bytes=4096) as served:
        r = await served.client.get("/v1/status", headers={"X-Pad": "x" * 8000})
        assert r.status_code == 431 and "at most 4096" in r.json()["error"]
        # Sent a byte at a time, too (h11's own bound on an incomplete request).
        slow = await connect(served.url)
        await slow.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"x" * 8000)
        answer = await read_head(slow)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert (await served.client.get("/v1/status")).status_code == 200


# ---- the connection cap ------------------------------------------------------------------


async def test_at_the_cap_a_newcomer_takes_an_idle_place_but_never_a_busy_one(
    channel: StubChannel,
) -> None:
    """Three places: two live streams (busy) and a half-sent request (idle). A newcomer
    takes the idle one's place; once all three are live streams, the next newcomer is
    refused with a 503 saying why, and the streams keep flowing."""
    channel.topics.publish("buffer", {"v": 0})
    async with serve_with(channel, max_connections=3, keepalive_s=60) as served:
        ws_url = served.ws_url + "/v1/ws/buffer"
        async with open_websocket_url(ws_url) as a, open_websocket_url(ws_url) as b:
            for ws in (a, b):
                with trio.fail_after(5):
                    await ws.get_message()
            slow = await connect(served.url)
            await slow.send_all(HALF_SENT)
            gate = served.app.extensions["vvtv.connections"]
            await wait_until("three connections", lambda: gate.states()["idle"] == 1)
            async with httpx.AsyncClient(base_url=served.url, timeout=5) as fresh:
                r = await fresh.get("/v1/status", headers={"Connection": "close"})
                assert r.status_code == 200
            assert await closed_by_server(slow, within=5)  # it was the one evicted
            await wait_until("the two streams alone", lambda: len(gate) == 2)
            async with open_websocket_url(ws_url) as c:
                with trio.fail_after(5):
                    await c.get_message()
                refused = await connect(served.url)
                await refused.send_all(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = b""
                with trio.fail_after(5):
                    while chunk := await refused.receive_some(65536):
                        answer += chunk
                assert answer.startswith(b"HTTP/1.1 503 ")
                assert b"too many connections" in answer
                channel.topics.publish("buffer", {"v": 1})
                for ws in (a, b, c):
                    with trio.fail_after(5):
                        assert b'"v":1' in (await ws.get_message()).encode()
        metric = channel.metrics.registry.get_sample_value
        assert metric("vvtv_http_refused_total", {"reason": "connection_busy"}) == 1
        assert metric("vvtv_http_refused_total", {"reason": "connection_evicted"}) >= 1


async def test_a_stalled_body_counts_as_waiting_on_its_client(channel: StubChannel) -> None:
    async with serve_with(channel, max_connections=2, keepalive_s=60, read_timeout_s=60) as s:
        stalled = []
        for _ in range(2):
            stream = await connect(s.url)
            await stream.send_all(
                b"POST /v1/control/curator-mode HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            stalled.append(stream)
        gate = s.app.extensions["vvtv.connections"]
        await wait_until("both bodies awaited", lambda: gate.states()["receiving_body"] == 2)
        async with httpx.AsyncClient(base_url=s.url, timeout=5) as fresh:
            r = await fresh.get("/v1/status", headers={"Connection": "close"})
            assert r.status_code == 200
        for stream in stalled:
            await trio.aclose_forcefully(stream)


# ---- HTTP/2 only when configured ----------------------------------------------------------


H2C_UPGRADE = (
    b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
)


async def read_head(stream: trio.SocketStream) -> bytes:
    head = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in head:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            head += chunk
    return head


async def test_an_h2c_upgrade_is_ignored_unless_configured(channel: StubChannel) -> None:
    async with serve_with(channel) as served:
        stream = await connect(served.url)
        await stream.send_all(H2C_UPGRADE)
        assert (await read_head(stream)).startswith(b"HTTP/1.1 200 ")
        preface = await connect(served.url)
        await preface.send_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        head = await read_head(preface)
        assert not head.startswith(b"\x00")  # no HTTP/2 SETTINGS frame: still HTTP/1.1
    async with serve_with(channel, h2c=True) as served:
        stream = await connect(served.url)
        await stream.send_all(H2C_UPGRADE)
        assert (await read_head(stream)).startswith(b"HTTP/1.1 101 ")
