"""Benchmark of vvtv's HTTP face (issue 7).

1. HTTP: a bare ASGI app on hypercorn-trio vs vvtv's ``GET /v1/status`` (the full
   app: read fast path, request metrics, the port call, JSON), 10 concurrent keep-alive
   connections. Both servers stay up while ``--http-runs`` short measurements alternate
   between them; medians reported (this machine is noisy). Load comes from ``wrk``
   when installed (``apt-get install wrk``), else from an httpx load process.
2. Websockets: ``--clients`` dashboard clients on ``/v1/ws/buffer`` while the server
   publishes one buffer update per second (a status-sized frame stamped with its send
   time); delivery latency = receive time - send time, measured by the clients. Once
   with every client reading, once with one more client stalled (a raw socket with a
   4 KiB receive buffer that completes the handshake and never reads again); the
   slowdown ratio compares the delivery p99 of the two (medians over ``--runs``). Baseline,
   same run: the same clients on hypercorn-trio with a bare ASGI websocket app that sends
   each published frame to every connection (no topics, pacing or framework);
   ``ws_delivery_vs_bare`` = vvtv's delivery p99 (every client reading) ÷ the bare one's.
   The readers (lean raw-socket websocket clients, so the load generator costs far
   less than the server) are spread over ``--ws-procs`` load processes.

Servers and load generators always run in separate processes, so they never share an
event loop. The last line printed is one JSON object.

    .venv/bin/python ops/bench/api.py [--http-runs 9] [--seconds 3] [--runs 5]
        [--clients 500] [--ws-seconds 12] [--ws-procs 2]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vvtv.cli.run import tune_gc  # noqa: E402
from vvtv.core.model import PlanItem  # noqa: E402
from vvtv.core.signing import Verifier  # noqa: E402
from vvtv.iptv.channel import ChannelInfo  # noqa: E402
from vvtv.observe.metrics import ChannelMetrics  # noqa: E402
from vvtv.observe.topics import TopicHub  # noqa: E402
from vvtv.web import create_app  # noqa: E402
from vvtv.web.limits import WebLimits  # noqa: E402
from vvtv.web.server import hypercorn_config  # noqa: E402

PY = sys.executable


# ------------------------------------------------------------------ the server side


class BenchChannel:
    """A ChannelPort with fixed, realistic values (the bench measures the web layer)."""

    def __init__(self) -> None:
        self.topics = TopicHub()
        self.metrics = ChannelMetrics()
        self.buffer_minutes = 61.5

    def now(self) -> datetime:
        return datetime.now(UTC)

    def status(self, sent_at: float | None = None) -> dict:
        body: dict[str, Any] = {
            "state": "RUNNING",
            "buffer_minutes": self.buffer_minutes,
            "buffer_target_minutes": 60,
            "buffer_critical_minutes": 20,
            "timestamp": "2026-03-01T12:00:00+00:00",
            "now_playing": {
                "title": "Harbour at dawn, a long title as real ones are",
                "asset_id": "asset-3f9a1c2b7d4e5f60",
                "start_at": "2026-03-01T11:57:00+00:00",
                "duration_sec": 912.4,
                "slot_type": "MAIN",
                "fallback_level": 0,
            },
            "next": {
                "title": "City lights",
                "asset_id": "asset-9b1c2d3e4f5a6b7c",
                "start_at": "2026-03-01T12:12:12+00:00",
                "duration_sec": 845.0,
            },
            "emergency_override": None,
            "last_segment_age_s": 1.52,
        }
        if sent_at is not None:
            body["sent_at"] = sent_at
        return body

    def queue(self) -> list[dict]:
        return []

    def channel_info(self) -> ChannelInfo:
        return ChannelInfo()

    async def upcoming_plans(self, start: datetime, end: datetime) -> list[PlanItem]:
        return []

    async def plans(self, state: str | None, limit: int, offset: int) -> dict:
        return {"total": 0, "items": []}

    async def daily_report(self, day: date) -> dict | None:
        return None

    async def weekly_report(self, week: str) -> dict | None:
        return None

    def alerts(self) -> list[dict]:
        return []

    def alerts_grace_until(self) -> str | None:
        return None

    def runtime_snapshot(self) -> dict:
        return {}

    def readiness(self) -> dict[str, bool]:
        return {"store": True, "tree": True, "slate": True}

    def live_playlist(self) -> str:
        return "#EXTM3U\n"

    def live_master(self) -> str:
        return "#EXTM3U\n"

    def live_rung(self, name: str) -> str | None:
        return None

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        return None

    async def reload_owner_card(self) -> tuple[bool, list[str], dict]:
        return True, [], {}

    async def set_emergency(self, enabled: bool | None) -> dict:
        return self.status()

    async def set_curator_mode(self, mode: str, limits: dict) -> dict:
        return {"mode": mode}

    async def audit_control(self, who: str, action: str, details: dict) -> None:
        return None

    async def audit_refusal(self, who: str, action: str, details: dict) -> None:
        return None


STATUS_BODY = json.dumps(BenchChannel().status(), separators=(",", ":")).encode()


# The bare websocket baseline's subscribers: one frame channel per connection.
BARE_SUBSCRIBERS: set[trio.MemorySendChannel[str]] = set()


async def bare_websocket(receive: Any, send: Any) -> None:
    """The websocket baseline: accept, then send every published frame, nothing else (no
    topics, no pacing, no conflation, no framework)."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    frames_in, frames_out = trio.open_memory_channel[str](8)
    BARE_SUBSCRIBERS.add(frames_in)
    try:
        async for frame in frames_out:
            await send({"type": "websocket.send", "text": frame})
    except Exception:  # the client went away: the connection ends
        return
    finally:
        BARE_SUBSCRIBERS.discard(frames_in)


def bare_publish(frame: str) -> None:
    for subscriber in list(BARE_SUBSCRIBERS):
        # A reader 8 frames behind misses this one.
        with contextlib.suppress(trio.WouldBlock):
            subscriber.send_nowait(frame)


async def bare_app(scope: dict, receive: Any, send: Any) -> None:
    """The baseline: hypercorn-trio with the smallest possible ASGI app, same body size."""
    if scope["type"] == "websocket":
        await bare_websocket(receive, send)
        return
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(STATUS_BODY)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": STATUS_BODY})


def plain_quart_app() -> Any:
    """quart-trio with one route and nothing else: what the framework alone costs."""
    from quart import Response
    from quart_trio import QuartTrio

    app = QuartTrio(__name__)

    @app.get("/v1/status")
    async def status() -> Response:
        return Response(STATUS_BODY, content_type="application/json")

    return app


async def run_server(kind: str, port_file: Path, publish: bool) -> None:
    import hypercorn.trio

    channel = BenchChannel()
    app: Any = bare_app
    if kind == "vvtv":
        # Every reader connects from 127.0.0.1: caps with room for all of them.
        room = WebLimits(ws_max_clients=100_000, ws_max_clients_per_address=100_000)
        app = create_app(channel, verifier=Verifier("bench-token", "bench-secret"), limits=room)
        tune_gc()  # as `vvtv run` does: this process stands for the daemon's web server
    elif kind == "quart":
        app = plain_quart_app()
    config = hypercorn_config("127.0.0.1:0")
    config.backlog = 1024
    stop = trio.Event()

    async def trigger() -> None:
        await stop.wait()

    async def publisher() -> None:
        while True:
            if kind == "bare":
                data = channel.status(sent_at=time.time())
                bare_publish(json.dumps({"topic": "buffer", "data": data}))
            else:
                channel.topics.publish("buffer", channel.status(sent_at=time.time()))
            await trio.sleep(1.0)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: hypercorn.trio.serve(
                app, config, shutdown_trigger=trigger, task_status=task_status
            )
        )
        port_file.write_text(binds[0].rsplit(":", 1)[1])
        if publish:
            nursery.start_soon(publisher)
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async for _ in signals:
                break
        stop.set()
        nursery.cancel_scope.deadline = trio.current_time() + 3


class Server:
    """A server subprocess; ``with Server(kind) as port: ...``."""

    def __init__(self, kind: str, publish: bool = False) -> None:
        self.kind = kind
        self.publish = publish

    def __enter__(self) -> int:
        self._dir = tempfile.TemporaryDirectory()
        port_file = Path(self._dir.name) / "port"
        args = [PY, __file__, "--serve", self.kind, "--port-file", str(port_file)]
        if self.publish:
            args.append("--publish")
        self._proc = subprocess.Popen(args)
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server did not start")
            time.sleep(0.05)
        return int(port_file.read_text())

    def __exit__(self, *exc: object) -> None:
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._dir.cleanup()


# ------------------------------------------------------------------ HTTP load


_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_P99 = re.compile(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def http_load(url: str, connections: int, seconds: float) -> tuple[float, float, str]:
    """(requests/s, p99 ms, generator) for ``connections`` keep-alive clients."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(_WRK_RPS.search(out)[1])
        p99 = _WRK_P99.search(out)
        return rps, float(p99[1]) * _UNIT_MS[p99[2]], "wrk"
    out = subprocess.run(
        [
            PY,
            __file__,
            "--http-load",
            url,
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["rps"], result["p99_ms"], "httpx"


async def httpx_load(url: str, connections: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    end = time.perf_counter() + seconds

    async def worker() -> None:
        async with httpx.AsyncClient() as client:
            while (start := time.perf_counter()) < end:
                r = await client.get(url)
                r.raise_for_status()
                latencies.append(time.perf_counter() - start)

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(worker)
    latencies.sort()
    return {"rps": len(latencies) / seconds, "p99_ms": 1000 * latencies[int(0.99 * len(latencies))]}


# ------------------------------------------------------------------ websocket load


def _stalled_socket(port: int) -> socket.socket:
    """A websocket client that completes the handshake and never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(_handshake(port))
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    if b" 101 " not in response.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"stalled client was refused: {response[:80]!r}")
    return sock


def _handshake(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /v1/ws/buffer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class LeanReader:
    """The reading half of a websocket client, as cheap as Python allows.

    The load generator must cost far less than the server it measures: a full client
    library (trio-websocket + wsproto) spends more per message than hypercorn does.
    Server frames are unmasked; text frames are all the buffer topic sends.
    """

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data
        frames = []
        while len(buf) >= 2:
            size = buf[1] & 0x7F
            start = 2
            if size == 126:
                if len(buf) < 4:
                    break
                size, start = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + size:
                break
            if buf[0] & 0x0F == 0x1:
                frames.append(buf[start : start + size])
            buf = buf[start + size :]
        self._buf = buf
        return frames


async def ws_load(port: int, clients: int, seconds: float, stall: bool) -> dict:
    latencies: list[float] = []
    connected = 0
    all_connected = trio.Event()
    measure_from = [float("inf")]

    async def client() -> None:
        nonlocal connected
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(_handshake(port))
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(4096)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"websocket refused: {head[:80]!r}")
        reader = LeanReader()
        pending = reader.feed(head.split(b"\r\n\r\n", 1)[1])
        connected += 1
        if connected == clients:
            all_connected.set()
        while True:
            for payload in pending:
                received = time.time()
                sent_at = json.loads(payload)["data"].get("sent_at")
                if sent_at is not None and sent_at >= measure_from[0]:
                    latencies.append(received - sent_at)
            data = await stream.receive_some(65536)
            if not data:
                return
            pending = reader.feed(data)

    stalled = _stalled_socket(port) if stall else None
    async with trio.open_nursery() as nursery:
        for i in range(clients):
            nursery.start_soon(client)
            if i % 50 == 49:
                await trio.sleep(0.05)  # don't overflow the listen backlog
        with trio.fail_after(60):
            await all_connected.wait()
        await trio.sleep(1.0)
        measure_from[0] = time.time()
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    if stalled is not None:
        stalled.close()
    return {"clients": connected, "latencies": latencies}


def ws_run(clients: int, seconds: float, stall: bool, procs: int = 2, kind: str = "vvtv") -> dict:
    """One websocket phase: a fresh server, ``clients`` readers spread over ``procs``
    load processes (the first also holds the stalled socket when ``stall``)."""
    with Server(kind, publish=True) as port:
        loads = []
        for i in range(procs):
            share = clients // procs + (1 if i < clients % procs else 0)
            args = [PY, __file__, "--ws-load", str(port), "--clients", str(share)]
            args += ["--seconds", str(seconds), *(["--stall"] if stall and i == 0 else [])]
            loads.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
        results = []
        for proc in loads:
            out, _ = proc.communicate(timeout=seconds + 120)
            if proc.returncode != 0:
                raise RuntimeError("websocket load process failed")
            results.append(json.loads(out.strip().splitlines()[-1]))
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "clients": sum(r["clients"] for r in results),
        "deliveries": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="websocket runs (each phase)")
    parser.add_argument("--http-runs", type=int, default=9, help="alternated HTTP pairs")
    parser.add_argument("--seconds", type=float, default=3.0, help="per HTTP measurement")
    parser.add_argument("--clients", type=int, default=500, help="websocket clients")
    parser.add_argument("--ws-seconds", type=float, default=12.0, help="per websocket phase")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--ws-procs", type=int, default=2, help="websocket load processes")
    # internal modes (subprocesses)
    parser.add_argument("--serve", choices=["bare", "quart", "vvtv"])
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--publish", action="store_true")
    parser.add_argument("--http-load")
    parser.add_argument("--ws-load", type=int)
    parser.add_argument("--stall", action="store_true")
    args = parser.parse_args()

    if args.serve:
        trio.run(run_server, args.serve, args.port_file, args.publish)
        return
    if args.http_load:
        print(json.dumps(trio.run(httpx_load, args.http_load, args.connections, args.seconds)))
        return
    if args.ws_load:
        print(json.dumps(trio.run(ws_load, args.ws_load, args.clients, args.seconds, args.stall)))
        return

    # Both servers stay up; short measurements alternate between them (order flipped
    # every round) so a burst of load from elsewhere hits both sides alike.
    bare, status, pair_ratios = [], [], []
    generator = ""
    with Server("bare") as bare_port, Server("vvtv") as vvtv_port:
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/",
            "vvtv": f"http://127.0.0.1:{vvtv_port}/v1/status",
        }
        for url in urls.values():
            http_load(url, args.connections, 1)  # warm-up
        for run in range(args.http_runs):
            order = ("bare", "vvtv") if run % 2 == 0 else ("vvtv", "bare")
            got = {}
            for kind in order:
                rps, p99, generator = http_load(urls[kind], args.connections, args.seconds)
                got[kind] = (rps, p99)
                print(f"run {run + 1} {kind}: {rps:.0f} req/s p99 {p99:.1f} ms", file=sys.stderr)
            bare.append(got["bare"])
            status.append(got["vvtv"])
            pair_ratios.append(got["vvtv"][0] / got["bare"][0])

    free, stalled, bare_ws = [], [], []
    for run in range(args.runs):
        phases = (("vvtv", False, free), ("vvtv", True, stalled), ("bare", False, bare_ws))
        for kind, stall, sink in phases:
            result = ws_run(args.clients, args.ws_seconds, stall, args.ws_procs, kind)
            sink.append(result)
            print(f"run {run + 1} ws {kind} stall={stall}: {result}", file=sys.stderr)

    bare_rps = statistics.median(r for r, _ in bare)
    status_rps = statistics.median(r for r, _ in status)
    free_p99 = statistics.median(r["p99_ms"] for r in free)
    stalled_p99 = statistics.median(r["p99_ms"] for r in stalled)
    bare_ws_p99 = statistics.median(r["p99_ms"] for r in bare_ws)
    print(
        json.dumps(
            {
                "load_generator": generator,
                "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                "http_runs": args.http_runs,
                "ws_runs": args.runs,
                "connections": args.connections,
                "bare_rps": round(bare_rps, 1),
                "status_rps": round(status_rps, 1),
                "status_ratio": round(status_rps / bare_rps, 3),
                "status_ratio_median_of_pairs": round(statistics.median(pair_ratios), 3),
                "bare_p99_ms": round(statistics.median(p for _, p in bare), 2),
                "status_p99_ms": round(statistics.median(p for _, p in status), 2),
                "ws_clients": min(r["clients"] for r in stalled),
                "ws_delivery_p50_ms": round(statistics.median(r["p50_ms"] for r in stalled), 2),
                "ws_delivery_p99_ms": round(stalled_p99, 2),
                "ws_delivery_p99_ms_no_stall": round(free_p99, 2),
                "stalled_slowdown_ratio": round(stalled_p99 / free_p99, 3),
                "stalled_slowdown_ratio_median_of_runs": round(
                    statistics.median(
                        s["p99_ms"] / f["p99_ms"] for s, f in zip(stalled, free, strict=True)
                    ),
                    3,
                ),
                "bare_ws_delivery_p99_ms": round(bare_ws_p99, 2),
                "ws_delivery_vs_bare": round(free_p99 / bare_ws_p99, 3),
                "ws_delivery_vs_bare_median_of_runs": round(
                    statistics.median(
                        f["p99_ms"] / b["p99_ms"] for f, b in zip(free, bare_ws, strict=True)
                    ),
                    3,
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
