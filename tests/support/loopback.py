"""One real HTTP/1.1 server on 127.0.0.1 for every test that needs "someone else's server".

It stands in for what lies off this machine (feed hosts, media hosts, the cloud ingest API,
a webhook endpoint, an operator's daemon) and for the hostile hosts of the hardening tests.
It is a real listening socket on an ephemeral port, answering from a script the test writes,
and it records every request it received (method, target, headers, body) and how much of
each answer it sent.

Two ways to run it, one implementation:

- ``await start_loopback(nursery)`` serves inside the test's own Trio run. Under
  ``MockClock(autojump_threshold=0)`` its pauses are virtual: while the client waits, the
  server task is runnable, so virtual time only jumps when both really wait.
- ``with loopback_in_thread() as server:`` runs the same server in a thread with its own
  Trio loop and real clock, for tests that drive a subprocess (a whole ``vvtv run``).

Replies are plain values (``Reply``) or functions of the ``Request`` (sync or async). A body is
bytes, or an iterable of byte chunks and ``Pause``s, sent as it is iterated: a drip, a stall,
an endless stream and a lying ``Content-Length`` are one line each. See ``tests/support``'s
docstring for recipes.
"""

from __future__ import annotations

import http
import json
import mimetypes
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import attrs
import trio

MAX_HEAD_BYTES = 64 * 1024


@attrs.frozen
class Pause:
    """In a body: wait this many seconds (virtual under MockClock) before the next chunk.

    ``Pause(math.inf)`` holds the connection open until the client gives up or the server
    stops: a server that promised more than it sends.
    """

    seconds: float


@attrs.frozen
class Reply:
    """One scripted answer.

    ``body`` is bytes, or an iterable of ``bytes`` and ``Pause`` iterated afresh for each
    request it answers (a list, or ``drip()``; a one-shot generator only answers once).

    The ``Content-Length`` header is ``length`` when given, else the size of a bytes body;
    an iterable body gets none (it ends when the connection closes) unless ``chunked``.
    Headers in ``headers`` replace the defaults of the same name (``Content-Type`` from
    ``content_type``, ``Content-Length``, ``Accept-Ranges``, ``Connection: close``).
    A 200 with a bytes body honours ``Range`` requests (ffmpeg's HTTP reader sends them).
    """

    status: int = 200
    body: bytes | Iterable[bytes | Pause] = b""
    content_type: str = ""  # "": guessed from the path, like a file server (.mp4: video/mp4)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0  # seconds before the status line: a server slow to answer at all
    stall_before_body: float = 0.0  # seconds between the headers and the first body byte
    length: int | None = None  # the Content-Length to claim (None: the bytes body's size)
    advertise_length: bool = True  # False: no Content-Length even for a bytes body
    chunked: bool = False  # Transfer-Encoding: chunked (each body chunk is one HTTP chunk)
    location: str = ""  # a Location header (redirects; see also ``redirect()``)

    def json(self) -> Any:
        assert isinstance(self.body, bytes)
        return json.loads(self.body)


def json_reply(status: int = 200, value: Any = None, **fields: Any) -> Reply:
    """A JSON answer: ``value``, or ``{"ok": status < 300}`` (the receivers' answer)."""
    body = {"ok": status < 300} if value is None else value
    return Reply(status, json.dumps(body).encode(), "application/json", **fields)


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect to ``location`` (a path on this server or any URL, e.g. an internal host)."""
    return Reply(status, b"", "text/plain", location=location)


@attrs.frozen
class drip(Iterable[bytes | Pause]):  # lower case: reads as a verb in a Reply
    """``chunk`` ``times`` times (``None``: for ever) with ``every`` seconds between chunks.

    A huge body without holding it in memory, or a server that drips bytes slowly.
    """

    chunk: bytes
    times: int | None = 1
    every: float = 0.0

    def __iter__(self) -> Iterator[bytes | Pause]:
        n = 0
        while self.times is None or n < self.times:
            if n and self.every:
                yield Pause(self.every)
            yield self.chunk
            n += 1

    @property
    def size(self) -> int:
        assert self.times is not None, "an endless drip has no size"
        return len(self.chunk) * self.times


@attrs.define(eq=False)
class Request:
    """One request as the server received it, and what it answered."""

    method: str
    target: str  # as sent: path and query
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # trio.current_time() in the server's run when the request was read
    n: int  # 1-based: this is the n-th request to this target
    answered: int | None = None  # the status sent, once the status line went out
    sent: int = 0  # body bytes sent so far
    finished: bool = False  # the whole answer was sent

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def json(self) -> Any:
        return json.loads(self.body)


class Requests(list[Request]):
    """The requests received, in order. Asking it about a path string is refused: it holds
    ``Request``s, so ``"/x" in server.requests`` would quietly be False; ask
    ``server.hits("/x")`` or ``server.targets()``."""

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            raise TypeError(f"requests holds Request objects: use hits({item!r}) or targets()")
        return super().__contains__(item)

    def count(self, item: object) -> int:
        if isinstance(item, str):
            raise TypeError(f"requests holds Request objects: use hits({item!r})")
        return super().count(item)  # type: ignore[arg-type]


Handler = Callable[[Request], "Reply | Awaitable[Reply]"]
Route = Reply | Sequence[Reply] | Handler

NOT_FOUND = Reply(404, b"not found", "text/plain")


@attrs.define(eq=False)
class Loopback:
    """The server: routes by request target, records every request.

    ``routes`` maps a target (``/feed.xml``, or with its query) to a ``Route``: a ``Reply``
    for every request, a sequence of replies answered in turn (the last one repeats), or a
    handler ``f(request) -> Reply`` (sync or async). A target with no route gets
    ``default`` (404 unless set). ``then(*replies)`` queues one-shot replies that answer the
    next requests to any target first.
    """

    routes: dict[str, Route] = attrs.Factory(dict)
    default: Route = NOT_FOUND
    requests: Requests = attrs.Factory(Requests)
    port: int = 0
    errors: list[Exception] = attrs.Factory(list)  # raised by the test's handlers
    crash_on_error: bool = True  # a handler's error (after its 500) crashes the server's run
    host: str = "127.0.0.1"  # any loopback address: 127.0.0.2 stands for a second machine
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context (tests.support.certs)
    sni: list[str | None] = attrs.Factory(list)  # server names the TLS clients asked for
    _script: list[Reply] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)
    _scope: trio.CancelScope | None = None
    _nursery: trio.Nursery | None = None
    _stopped: trio.Event | None = None
    _failed: trio.Event | None = None

    # -- scripting -------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def url(self) -> str:  # the receivers' spelling: where to point a client
        return self.base

    def url_for(self, target: str, host: str | None = None) -> str:
        """The URL of ``target``; with ``host``, spelled with that name instead of the
        address (for a client whose resolver maps the name here)."""
        if host is None:
            return self.base + target
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{target}"

    def serve(self, target: str, route: Route | bytes, *then: Reply, content_type: str = "") -> str:
        """Answer ``target`` with ``route`` (bytes: a 200 of them); the URL to ask for it.

        With ``then``, the replies ``route, *then`` answer in turn, the last one repeating.
        """
        if isinstance(route, bytes):
            route = Reply(200, route, content_type)
        if then:
            assert isinstance(route, Reply), "a sequence is of replies"
            route = [route, *then]
        self.routes[target] = route
        return self.url_for(target)

    def then(self, *replies: Reply) -> None:
        """The next requests, whatever their target, get these replies in order."""
        with self._lock:
            self._script.extend(replies)

    def answer_always(self, route: Route) -> None:
        """From now on every request without a route gets ``route`` (the script is dropped)."""
        with self._lock:
            self._script.clear()
        self.default = route

    # -- what it received ------------------------------------------------------------------

    def hits(self, target: str) -> int:
        """How many requests asked for ``target`` (compared with the query if it has one)."""
        key = (lambda r: r.target) if "?" in target else (lambda r: r.path)
        return sum(1 for r in list(self.requests) if key(r) == target)

    def targets(self) -> list[str]:
        return [r.target for r in list(self.requests)]

    @property
    def accepted(self) -> list[Request]:
        """Requests answered with a 2xx: what the server actually took in."""
        return [r for r in list(self.requests) if r.answered and 200 <= r.answered < 300]

    def sent_to(self, target: str) -> int:
        """Body bytes sent, over every request for ``target``."""
        return sum(r.sent for r in list(self.requests) if r.target == target)

    # -- running ---------------------------------------------------------------------------

    async def up(self, nursery: trio.Nursery | None = None) -> None:
        """Listen (again, on the same port if it had one) until ``down()``."""
        self._nursery = nursery or self._nursery
        assert self._nursery is not None, "up() needs a nursery the first time"
        if self.tls is not None:

            def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
                self.sni.append(name)

            self.tls.sni_callback = record_sni  # type: ignore[assignment]
        self.port = await self._nursery.start(self._listen)

    async def down(self) -> None:
        """Stop listening and drop open connections: clients now get connection refused."""
        assert self._scope is not None and self._stopped is not None
        self._scope.cancel()
        await self._stopped.wait()

    async def _listen(
        self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._stopped, self._failed = trio.Event(), trio.Event()
        try:
            with trio.CancelScope() as self._scope:
                listeners = await trio.open_tcp_listeners(self.port, host=self.host)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._crash_on_error)
                    task_status.started(listeners[0].socket.getsockname()[1])
                    await trio.serve_listeners(self._connection, listeners, handler_nursery=nursery)
        finally:
            self._stopped.set()

    async def _crash_on_error(self) -> None:
        """A handler's error (a bug in the test's script) crashes the run the server is in.

        Raised here, not in the connection's task: there, trio's forceful close of the stream
        may replace it with a ``Cancelled`` when the test is already failing for its effect.
        """
        assert self._failed is not None
        await self._failed.wait()
        raise self.errors[0]

    # -- one connection --------------------------------------------------------------------

    async def _connection(self, raw: trio.SocketStream) -> None:
        stream: trio.abc.Stream = raw
        try:
            if self.tls is not None:
                stream = trio.SSLStream(raw, self.tls, server_side=True)
                await stream.do_handshake()
            request = await self._read(stream)
            if request is None:
                return
            try:
                reply = await self._choose(request)
            except Exception as exc:
                self.errors.append(exc)
                reply = Reply(500, f"loopback handler failed: {exc!r}".encode(), "text/plain")
            await self._answer(stream, request, reply)
            request.finished = True
            if self.errors and self.crash_on_error and self._failed is not None:
                self._failed.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client hung up (it is allowed to), or refused our certificate
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _read(self, stream: trio.abc.Stream) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD_BYTES:
                return None
            chunk = await stream.receive_some(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(stream, rest)
        else:
            length = int(headers.get("content-length") or 0)
            while len(rest) < length:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                rest += chunk
            body = rest[:length]
        with self._lock:
            n = 1 + sum(1 for r in self.requests if r.target == target)
            request = Request(method, target, headers, body, trio.current_time(), n)
            self.requests.append(request)
        return request

    async def _choose(self, request: Request) -> Reply:
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            return scripted
        route = self.routes.get(request.target)
        if route is None:
            route = self.routes.get(request.path, self.default)
        if isinstance(route, Reply):
            return route
        if isinstance(route, Sequence):
            return route[min(request.n, len(route)) - 1]
        answer = route(request)
        return await answer if isinstance(answer, Awaitable) else answer

    async def _answer(self, stream: trio.abc.Stream, request: Request, reply: Reply) -> None:
        if reply.delay:
            await trio.sleep(reply.delay)
        status, body = reply.status, reply.body
        content_type = reply.content_type or _guess_type(request.path)
        headers: dict[str, str] = {"Content-Type": content_type, "Connection": "close"}
        if isinstance(body, bytes) and reply.status == 200:
            headers["Accept-Ranges"] = "bytes"
            ranged = _range(request.headers.get("range", ""), len(body))
            if ranged is not None:
                start, end = ranged
                headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
                body, status = body[start : end + 1], 206
        if reply.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif reply.length is not None:
            headers["Content-Length"] = str(reply.length)
        elif isinstance(body, bytes) and reply.advertise_length:
            headers["Content-Length"] = str(len(body))
        if reply.location:
            headers["Location"] = reply.location
        lowered = {k.lower() for k in reply.headers}
        headers = {k: v for k, v in headers.items() if k.lower() not in lowered}
        headers.update(reply.headers)
        reason = _reason(status)
        head = f"HTTP/1.1 {status} {reason}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        await stream.send_all((head + "\r\n").encode("latin-1"))
        request.answered = status
        if request.method == "HEAD":
            return
        if reply.stall_before_body:
            await trio.sleep(reply.stall_before_body)
        chunks: Iterable[bytes | Pause] = [body] if isinstance(body, bytes) else body
        for chunk in chunks:
            if isinstance(chunk, Pause):
                await trio.sleep(chunk.seconds)
                continue
            if not chunk:
                continue
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if reply.chunked else chunk
            await stream.send_all(framed)
            request.sent += len(chunk)
        if reply.chunked:
            await stream.send_all(b"0\r\n\r\n")


def _guess_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) of a ``bytes=a-b`` / ``bytes=a-`` request, or None to send it whole."""
    if not header.startswith("bytes=") or "," in header:
        return None
    start_text, _, end_text = header[6:].partition("-")
    if not start_text:
        return None
    start = int(start_text)
    end = min(int(end_text), size - 1) if end_text else size - 1
    return (start, end) if start <= end else None


async def _read_chunked(stream: trio.abc.Stream, data: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in data:
            more = await stream.receive_some(65536)
            if not more:
                return body
            data += more
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(data) < size + 2:
            more = await stream.receive_some(65536)
            if not more:
                return body + data[:size]
            data += more
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


async def start_loopback(nursery: trio.Nursery, server: Loopback | None = None) -> Loopback:
    """A loopback server listening in ``nursery`` (the test's Trio run)."""
    server = server or Loopback()
    await server.up(nursery)
    return server


async def start_receiver(nursery: trio.Nursery) -> Loopback:
    """A receiver (a webhook endpoint, the cloud ingest API): ``{"ok": true}`` to any request."""
    return await start_loopback(nursery, Loopback(default=json_reply()))


@contextmanager
def loopback_in_thread(server: Loopback | None = None) -> Iterator[Loopback]:
    """The same server in a thread with its own Trio loop (real time), for subprocess tests.

    A handler that raises answers 500 and the error is raised again when the block ends,
    so a bug in the test's script fails the test instead of hanging it.
    """
    server = server or Loopback()
    server.crash_on_error = False  # keep answering (500s); the error is raised at the end
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            holder["token"] = trio.lowlevel.current_trio_token()
            holder["cancel"] = nursery.cancel_scope.cancel
            await start_loopback(nursery, server)
            ready.set()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # reported to the test's thread below
            if not server.errors:
                server.errors.append(exc)  # type: ignore[arg-type]
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="loopback", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if server.errors:
        raise server.errors[0]
    try:
        yield server
    finally:
        with suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(holder["cancel"], trio_token=holder["token"])
        thread.join(timeout=30)
    if server.errors:
        raise server.errors[0]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connection refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
