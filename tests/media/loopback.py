"""A tiny HTTP/1.1 server on 127.0.0.1 running inside the test's own Trio run.

It stands in for the media hosts on the internet. Running it in the same Trio run (rather than in a
thread) keeps ``MockClock`` autojump deterministic: while the client waits, the server task is
runnable, so virtual time only jumps when both really wait (a deliberate stall or a back-off).
Every request is recorded so tests can assert how many times the client came back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
import trio


@attrs.define
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "video/mp4"
    stall_before_body: float = 0.0  # seconds (virtual under MockClock) before the body is sent
    advertise_length: bool = True
    location: str = ""  # a Location header (for redirects)
    headers: dict[str, str] = attrs.Factory(dict)  # extra response headers (Retry-After)


Route = Callable[[int], Reply]  # called with the 1-based count of requests to this path


@attrs.define
class LoopbackServer:
    routes: dict[str, Route] = attrs.Factory(dict)
    requests: list[tuple[str, str, dict[str, str]]] = attrs.Factory(list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)

    def serve_bytes(self, path: str, data: bytes, content_type: str = "video/mp4") -> str:
        self.routes[path] = lambda _n: Reply(200, data, content_type)
        return self.url(path)

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:])
            }
            self.requests.append((method, path, headers))
            route = self.routes.get(path)
            reply = route(self.hits(path)) if route else Reply(404, b"not found", "text/plain")
            await self._send(stream, method, headers, reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()

    async def _send(
        self, stream: trio.SocketStream, method: str, headers: dict[str, str], reply: Reply
    ) -> None:
        body, status = reply.body, reply.status
        extra = ""
        rng = headers.get("range", "")
        if status == 200 and rng.startswith("bytes="):
            # ffmpeg's HTTP reader asks for ranges; honour the open-ended form it uses.
            start_text, _, end_text = rng[6:].partition("-")
            start = int(start_text or 0)
            end = int(end_text) if end_text else len(body) - 1
            extra = f"Content-Range: bytes {start}-{end}/{len(body)}\r\n"
            body, status = body[start : end + 1], 206
        head = f"HTTP/1.1 {status} X\r\nContent-Type: {reply.content_type}\r\n"
        head += "Accept-Ranges: bytes\r\nConnection: close\r\n" + extra
        if reply.location:
            head += f"Location: {reply.location}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        if reply.advertise_length:
            head += f"Content-Length: {len(body)}\r\n"
        await stream.send_all((head + "\r\n").encode("latin-1"))
        if reply.stall_before_body:
            await trio.sleep(reply.stall_before_body)
        if method != "HEAD" and body:
            await stream.send_all(body)


async def start_server(nursery: trio.Nursery) -> LoopbackServer:
    server = LoopbackServer()
    listeners = await nursery.start(partial(trio.serve_tcp, server._handle, 0, host="127.0.0.1"))
    server.port = listeners[0].socket.getsockname()[1]
    return server
