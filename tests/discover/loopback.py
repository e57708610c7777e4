"""A tiny HTTP/1.1 server on 127.0.0.1 inside the test's Trio run: it stands in for feed
hosts and media hosts. It records every request, can stall before the body (for read
timeouts), stream a huge body without a length (for the size cap), and answers ffmpeg's
range requests so real ffprobe can read media from it."""

from __future__ import annotations

from functools import partial

import attrs
import trio


@attrs.define
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/rss+xml"
    stall_before_body: float = 0.0
    advertise_length: bool = True
    repeat: int = 1  # send the body this many times (a huge body without holding it)
    location: str | None = None
    trickle: float = 0.0  # seconds between repeats (a server that drips bytes)
    headers: dict[str, str] = attrs.Factory(dict)  # extra response headers (Retry-After)


@attrs.define
class Loopback:
    routes: dict[str, Reply | list[Reply]] = attrs.Factory(dict)
    requests: list[str] = attrs.Factory(list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, reply: Reply, *then: Reply) -> str:
        """Answer ``path`` with ``reply``; with ``then``, the n-th request gets the n-th
        reply of ``reply, *then`` and every request after the last gets the last."""
        self.routes[path] = [reply, *then] if then else reply
        return self.url(path)

    def hits(self, path: str) -> int:
        return self.requests.count(path)

    async def handle(self, stream: trio.SocketStream) -> None:
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
            self.requests.append(path)
            route = self.routes.get(path, Reply(404, b"not found", "text/plain"))
            if isinstance(route, list):
                route = route[min(self.hits(path), len(route)) - 1]
            reply = route
            await self.send(stream, method, headers, reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()

    async def send(
        self, stream: trio.SocketStream, method: str, headers: dict[str, str], reply: Reply
    ) -> None:
        body, status, extra = reply.body, reply.status, ""
        rng = headers.get("range", "")
        if status == 200 and reply.repeat == 1 and rng.startswith("bytes="):
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
            head += f"Content-Length: {len(body) * reply.repeat}\r\n"
        await stream.send_all((head + "\r\n").encode("latin-1"))
        if reply.stall_before_body:
            await trio.sleep(reply.stall_before_body)
        if method != "HEAD":
            for _ in range(reply.repeat):
                await stream.send_all(body)
                if reply.trickle:
                    await trio.sleep(reply.trickle)


async def start_loopback(nursery: trio.Nursery) -> Loopback:
    server = Loopback()
    listeners = await nursery.start(partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    server.port = listeners[0].socket.getsockname()[1]
    return server
