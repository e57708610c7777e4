"""The loopback server does what the tests built on it rely on: real sockets, scripted
answers, a faithful record of every request, and pauses that follow Trio's clock."""

from __future__ import annotations

import math
import socket

import httpx
import pytest
import trio
import trio.testing

from tests.support.loopback import (
    Loopback,
    Pause,
    Reply,
    Request,
    closed_port,
    drip,
    json_reply,
    loopback_in_thread,
    redirect,
    start_loopback,
)


async def test_a_request_is_recorded_with_method_target_headers_and_body(
    loopback: Loopback,
) -> None:
    loopback.serve("/in", json_reply())
    async with httpx.AsyncClient() as client:
        r = await client.post(loopback.url_for("/in?team=ops"), json={"n": 1}, headers={"X-A": "b"})
    assert r.status_code == 200 and r.json() == {"ok": True}
    [got] = loopback.requests
    assert (got.method, got.target) == ("POST", "/in?team=ops")
    assert (got.path, got.query) == ("/in", "team=ops")
    assert got.headers["x-a"] == "b" and got.json() == {"n": 1}
    assert got.answered == 200 and got.finished and got.n == 1
    assert loopback.accepted == [got] and loopback.hits("/in") == 1
    assert loopback.hits("/in?team=ops") == 1 and loopback.hits("/in?team=dev") == 0


async def test_a_chunked_request_body_is_read_whole(loopback: Loopback) -> None:
    async def parts():  # type: ignore[no-untyped-def]
        yield b"hello, "
        yield b"world"

    async with httpx.AsyncClient() as client:
        await client.put(loopback.url_for("/up"), content=parts())
    assert loopback.requests[0].body == b"hello, world"


async def test_an_unrouted_target_is_404_and_still_recorded(loopback: Loopback) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(loopback.url_for("/nothing"))
    assert r.status_code == 404
    assert loopback.targets() == ["/nothing"] and loopback.accepted == []


def test_asking_the_requests_about_a_path_string_is_refused_not_quietly_false() -> None:
    server = Loopback()
    with pytest.raises(TypeError, match=r"use hits\('/x'\)"):
        assert "/x" not in server.requests
    with pytest.raises(TypeError, match="use hits"):
        server.requests.count("/x")


async def test_a_list_of_replies_is_answered_in_turn_and_the_last_repeats(
    loopback: Loopback,
) -> None:
    loopback.serve("/flaky", [Reply(503), Reply(200, b"ok")])
    async with httpx.AsyncClient() as client:
        codes = [(await client.get(loopback.url_for("/flaky"))).status_code for _ in range(3)]
    assert codes == [503, 200, 200]
    assert [r.n for r in loopback.requests] == [1, 2, 3]


async def test_scripted_replies_come_first_then_the_default(loopback: Loopback) -> None:
    loopback.serve("/a", Reply(200, b"a"))
    loopback.then(Reply(500), Reply(429))
    async with httpx.AsyncClient() as client:
        codes = [(await client.get(loopback.url_for(p))).status_code for p in ("/a", "/b", "/a")]
    assert codes == [500, 429, 200]
    loopback.answer_always(json_reply(503))
    async with httpx.AsyncClient() as client:
        r = await client.get(loopback.url_for("/elsewhere"))
    assert r.status_code == 503 and r.json() == {"ok": False}


async def test_a_handler_sees_the_request_and_may_be_async(loopback: Loopback) -> None:
    async def later(request):  # type: ignore[no-untyped-def]
        await trio.sleep(0)
        return Reply(body=request.query.encode())

    loopback.serve("/sync", lambda request: Reply(201, request.method.encode()))
    loopback.serve("/async", later)
    async with httpx.AsyncClient() as client:
        sync = await client.get(loopback.url_for("/sync"))
        asynchronous = await client.get(loopback.url_for("/async?x=1"))
    assert (sync.status_code, sync.text) == (201, "GET")
    assert asynchronous.text == "x=1"


async def test_ranges_are_honoured_on_a_bytes_body(loopback: Loopback) -> None:
    url = loopback.serve("/clip.mp4", bytes(range(100)), content_type="video/mp4")
    async with httpx.AsyncClient() as client:
        part = await client.get(url, headers={"Range": "bytes=10-19"})
        tail = await client.get(url, headers={"Range": "bytes=90-"})
        head = await client.head(url)
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/100"
    assert tail.content == bytes(range(90, 100))
    assert head.headers["content-length"] == "100" and head.content == b""
    assert head.headers["content-type"] == "video/mp4"


async def test_a_redirect_names_its_location(loopback: Loopback) -> None:
    loopback.serve("/old", redirect("/new", 301))
    loopback.serve("/new", b"here")
    async with httpx.AsyncClient(follow_redirects=True) as client:
        r = await client.get(loopback.url_for("/old"))
    assert r.text == "here" and [q.target for q in loopback.requests] == ["/old", "/new"]


async def test_pauses_in_a_body_follow_the_mock_clock(
    loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    loopback.serve("/drip", Reply(body=drip(b"ab", times=4, every=4.0)))
    start = trio.current_time()
    async with httpx.AsyncClient() as client:
        r = await client.get(loopback.url_for("/drip"))
    assert r.content == b"ab" * 4 and "content-length" not in r.headers
    # Three pauses, each shorter than the client's read timeout.
    assert trio.current_time() - start == pytest.approx(12.0)
    assert loopback.sent_to("/drip") == 8


async def test_a_slow_answer_and_a_stalled_body_time_out_a_client_in_virtual_time(
    loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    loopback.serve("/slow", Reply(delay=3600))
    loopback.serve("/stall", Reply(body=b"x", stall_before_body=3600))
    async with httpx.AsyncClient(timeout=5.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(loopback.url_for("/slow"))
        with pytest.raises(httpx.ReadTimeout):
            await client.get(loopback.url_for("/stall"))
    slow, stall = loopback.requests
    assert slow.answered is None and stall.answered == 200 and stall.sent == 0


async def test_a_lying_length_and_a_chunked_stream_are_sent_as_scripted(
    loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    loopback.serve("/liar", Reply(body=[b"<rss>", Pause(math.inf)], length=1 << 30))
    loopback.serve("/chunks", Reply(body=drip(b"xyz", times=3), chunked=True))
    async with httpx.AsyncClient(timeout=5.0) as client:
        async with client.stream("GET", loopback.url_for("/liar")) as liar:
            assert liar.headers["content-length"] == str(1 << 30)
            with pytest.raises(httpx.ReadTimeout):
                await liar.aread()
        chunks = await client.get(loopback.url_for("/chunks"))
    assert chunks.headers["transfer-encoding"] == "chunked" and chunks.content == b"xyz" * 3
    assert loopback.sent_to("/liar") == 5


async def test_headers_replace_the_defaults_of_the_same_name(loopback: Loopback) -> None:
    loopback.serve("/h", Reply(body=b"abc", headers={"content-type": "text/x-odd", "X-Y": "z"}))
    async with httpx.AsyncClient() as client:
        r = await client.get(loopback.url_for("/h"))
    assert r.headers.get_list("content-type") == ["text/x-odd"] and r.headers["x-y"] == "z"


async def test_down_refuses_connections_and_up_listens_on_the_same_port_again(
    loopback: Loopback,
) -> None:
    port = loopback.port
    await loopback.down()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(loopback.url_for("/x"))
        await loopback.up()
        assert loopback.port == port
        assert (await client.get(loopback.url_for("/x"))).status_code == 404


def broken(request: Request) -> Reply:
    raise RuntimeError(f"a bug in the script for {request.target}")


async def test_a_failing_handler_fails_the_trio_run_it_serves_in() -> None:
    with pytest.raises(BaseExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            server = await start_loopback(nursery)
            server.serve("/x", broken)
            async with httpx.AsyncClient() as client:
                await client.get(server.url_for("/x"))
    assert info.group_contains(RuntimeError, match="a bug in the script for /x", depth=None)


def test_in_a_thread_it_serves_plain_code_and_a_failing_handler_is_raised_at_the_end() -> None:
    with loopback_in_thread() as server:
        server.serve("/x", b"hello")
        assert httpx.get(server.url_for("/x")).text == "hello"
        assert server.requests[0].target == "/x"
    answered = []
    with (
        pytest.raises(RuntimeError, match="a bug in the script for /boom"),
        loopback_in_thread() as server,
    ):
        server.serve("/boom", broken)
        answered.append(httpx.get(server.url_for("/boom")))
    assert answered[0].status_code == 500 and "a bug in the script" in answered[0].text


def test_closed_port_refuses_connections() -> None:
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", closed_port()))
