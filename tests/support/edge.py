"""The edge (``cloud/worker``, the Cloudflare Worker) in workerd on 127.0.0.1, for tests.

``EdgeWorker`` runs ``node cloud/worker/test/serve.mjs``: the Worker as deployed (wrangler.toml's
vars, the D1 migrations) in workerd through miniflare, on an ephemeral port, with D1, R2 and
the cache persisted to a directory, so ``stop()`` then ``start(port=edge.port)`` is the same
edge coming back (an outage). Each channel gets fresh credentials: ``ingest`` (the channel's
daemon: ``/v1/ingest/*``, ``/v1/agent/*``) and ``control`` (its operator: ``/v1/control/*``).

    with running_edge(tmp_path) as edge:
        body = b'{"state": "RUNNING", "buffer_minutes": 60}'
        httpx.post(edge.url + "/v1/ingest/status", content=body,
                   headers=edge.headers("POST", "/v1/ingest/status", body))

The fixture ``edge_worker`` (tests/cloud/conftest.py) is one such edge per test. Nothing here
skips: without Node or ``npm ci`` in cloud/worker the edge cannot start and the test fails,
saying so. The protocol is cloud/worker/PROTOCOL.md.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from tests.support.loopback import Loopback, Reply, Request, loopback_in_thread
from vvtv.core.signing import signed_headers

REPO = Path(__file__).resolve().parents[2]
WORKER_DIR = REPO / "cloud" / "worker"
SERVE = WORKER_DIR / "test" / "serve.mjs"
ROLES = ("ingest", "control")


@attrs.frozen
class Credential:
    token: str
    secret: str


def new_credential(label: str) -> Credential:
    return Credential(f"{label}-{secrets.token_hex(8)}", secrets.token_hex(32))


def edge_headers(
    credential: Credential,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    nonce: str | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """The edge's signed headers: SPEC §3's, plus ``x-vvtv-nonce`` (signed as ``TS:NONCE``)."""
    return signed_headers(
        credential.token,
        credential.secret,
        method,
        path,
        body,
        time.time() if now is None else now,
        nonce=nonce,
    )


class EdgeWorker:
    """One edge process; ``channels`` are ids, the first the default (served un-prefixed)."""

    def __init__(
        self,
        persist: Path,
        channels: tuple[str, ...] = ("main",),
        *,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.persist = persist
        self.default = channels[0]
        self.credentials = {
            ch: {role: new_credential(f"{ch}-{role}") for role in ROLES} for ch in channels
        }
        self.variables = dict(variables or {})
        self.url = ""
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = persist / "serve.log"

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, port: int = 0, timeout: float = 90.0) -> None:
        """Start the edge (``port`` 0: any free one) and wait until it answers."""
        if self._proc is not None:
            raise RuntimeError("edge already running")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed: the edge's tests need Node 20 and npm")
        if not (WORKER_DIR / "node_modules" / "miniflare").is_dir():
            raise RuntimeError(
                f"{WORKER_DIR}/node_modules is missing: run `npm ci` there "
                "(bash ops/bootstrap.sh test does)"
            )
        self.persist.mkdir(parents=True, exist_ok=True)
        config = self.persist / "serve-config.json"
        config.write_text(json.dumps(self._config()))
        log = self._log.open("ab")
        proc = subprocess.Popen(
            [node, str(SERVE), "--persist", str(self.persist / "state"), "--port", str(port),
             "--config", str(config)],
            cwd=WORKER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "WRANGLER_SEND_METRICS": "false", "NO_COLOR": "1"},
        )  # fmt: skip
        log.close()
        self._proc = proc
        try:
            assert proc.stdout is not None
            line = _read_line(proc.stdout, timeout)
            if not line:
                raise RuntimeError(
                    f"edge exited ({proc.poll()}) before answering: {self.log_tail()}"
                )
            ready = json.loads(line)
        except BaseException:
            self.stop()
            raise
        self.url = ready["url"]
        self.port = urlsplit(self.url).port or 0

    def stop(self) -> None:
        """Stop the edge (its state stays in ``persist``)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> None:
        """The same edge (state, port, credentials) back after a stop."""
        port = self.port
        self.stop()
        self.start(port=port)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.exists():
            return "(no log)"
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    # --- talking to it --------------------------------------------------------------------

    def credential(self, channel: str | None = None, role: str = "ingest") -> Credential:
        return self.credentials[channel or self.default][role]

    def path(self, path: str, channel: str | None = None) -> str:
        """``path`` for ``channel``: as is for the default channel, else under /c/<id>."""
        if channel is None or channel == self.default:
            return path
        return f"/c/{channel}{path}"

    def headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        channel: str | None = None,
        role: str = "ingest",
        nonce: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for ``path`` (the full path sent, prefixes included)."""
        return edge_headers(self.credential(channel, role), method, path, body, nonce=nonce)

    def _config(self) -> dict[str, Any]:
        return {
            "channels": {
                ch: {role: attrs.asdict(cred) for role, cred in roles.items()}
                for ch, roles in self.credentials.items()
            },
            "default": self.default,
            "vars": self.variables,
        }


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """The first line of ``stream``, waiting at most ``timeout`` s ("" at EOF)."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the edge did not start within {timeout:g} s")
            if sel.select(left):
                return stream.readline().decode()


@contextmanager
def running_edge(
    persist: Path, channels: tuple[str, ...] = ("main",), **kw: Any
) -> Iterator[EdgeWorker]:
    edge = EdgeWorker(persist, channels, **kw)
    edge.start()
    try:
        yield edge
    finally:
        edge.stop()


# --- a proxy in front of the edge, to catch the channel in the middle of a request ---------

_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


class EdgeProxy:
    """Forwards every request to an ``EdgeWorker`` (from a loopback server in a thread, real
    clock) and records what the edge answered, in order; ``hold_next(predicate)`` holds
    the next matching request instead, until ``release()``, then drops it (502, never
    forwarded): a request in flight when its sender dies, which never arrives.

        with running_edge(d) as edge, edge_proxy(edge) as proxy:
            channel = start a daemon with VVTV_CLOUDFLARE_BASE_URL=proxy.url
            proxy.hold_next(lambda r: r.method == "PUT" and "/hls/seg/" in r.path)
            proxy.held.wait(); kill the daemon; proxy.release()
    """

    def __init__(self, server: Loopback, edge: EdgeWorker) -> None:
        self.server = server
        self.edge = edge
        self.held = threading.Event()
        self.forwarded: list[tuple[Request, int]] = []  # (request, the edge's status)
        self._release = threading.Event()
        self._hold: Callable[[Request], bool] | None = None
        self._lock = threading.Lock()
        self._sent = 0

    @property
    def url(self) -> str:
        return self.server.url

    def hold_next(self, predicate: Callable[[Request], bool]) -> None:
        with self._lock:
            self.held.clear()
            self._release.clear()
            self._hold = predicate

    def release(self) -> None:
        self._release.set()

    def sent_bytes(self) -> int:
        """Bytes the channel sent through the proxy so far (request lines, headers, bodies)."""
        with self._lock:
            return self._sent

    async def handle(self, request: Request) -> Reply:
        with self._lock:
            self._sent += len(request.body) + len(request.method) + len(request.target) + 12
            self._sent += sum(len(k) + len(v) + 4 for k, v in request.headers.items())
            hold = self._hold is not None and self._hold(request)
            if hold:
                self._hold = None
        if hold:
            self.held.set()
            while not self._release.is_set():
                await trio.sleep(0.02)
            return Reply(502, b'{"error": "dropped by the test proxy"}', "application/json")
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
        async with httpx.AsyncClient(timeout=90) as client:
            answer = await client.request(
                request.method, self.edge.url + request.target, content=request.body,
                headers=headers,
            )  # fmt: skip
        with self._lock:
            self.forwarded.append((request, answer.status_code))
        return Reply(
            answer.status_code,
            answer.content,
            answer.headers.get("content-type", "application/octet-stream"),
        )

    def accepted(self, method: str, part: str) -> list[Request]:
        """Forwarded requests the edge answered 2xx, whose path contains ``part``."""
        with self._lock:
            return [
                r for r, status in self.forwarded
                if r.method == method and part in r.path and 200 <= status < 300
            ]  # fmt: skip


@contextmanager
def edge_proxy(edge: EdgeWorker) -> Iterator[EdgeProxy]:
    with loopback_in_thread() as server:
        proxy = EdgeProxy(server, edge)
        server.answer_always(proxy.handle)
        yield proxy
