"""Real servers a push output sends to, and what ffprobe says about what they received.

``RtmpServer``: nginx with Debian's ``libnginx-mod-rtmp`` on a loopback port, from a temporary
config (``load_module``, ``daemon off``, a temporary prefix, ``record all``): every publish is
recorded to its own FLV file (``record_unique``). ``await server.start()``, ``server.kill()``
(SIGKILL, the server dies mid-stream), ``await server.start()`` again on the same port,
``await server.stop()``; ``server.recordings()`` lists the files, oldest first.

``SrtListener``: ``ffmpeg -i 'srt://127.0.0.1:PORT?mode=listener'`` writing what it receives
to an MPEG-TS file, ended with ``stop()``.

``TlsRelay`` (trio): a TLS terminator on loopback in front of another port, so an
``rtmps://`` push can be tested against the RTMP server with a throwaway CA
(``tests.support.certs``); ``forwarded`` counts the bytes clients sent through it (a client
that refuses its certificate completes the server's side of a TLS 1.3 handshake, then hangs
up without a byte).

``probe_packets(path)``: per stream (``video``/``audio``), the packets' DTS and durations in
seconds; ``regressions(packets)`` counts DTS that did not increase; ``media_span(packets)``
is first DTS to the end of the last packet.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import ssl
import subprocess
from pathlib import Path

import attrs
import trio

from tests.support.loopback import closed_port

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def have_rtmp_server() -> bool:
    return shutil.which("nginx") is not None and RTMP_MODULE.is_file()


async def _until_listening(port: int, what: str, within: float = 10.0) -> None:
    with trio.fail_after(within):
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return


class RtmpServer:
    """nginx-rtmp on 127.0.0.1, recording every stream published to application ``live``."""

    def __init__(self, root: Path, *, port: int | None = None, application: str = "live") -> None:
        self.root = root
        self.port = port or closed_port()
        self.application = application
        self.records = root / "records"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "nginx.log"

    @property
    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/{self.application}"

    def _config(self) -> Path:
        prefix = self.root / "prefix"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        self.records.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
error_log {self.log} info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        chunk_size 4096;
        application {self.application} {{
            live on;
            record all;
            record_path {self.records};
            record_unique on;
        }}
    }}
}}
"""
        )
        return conf

    async def start(self) -> None:
        conf = self._config()
        prefix = self.root / "prefix"
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(prefix), "-e", str(self.log), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _until_listening(self.port, "nginx-rtmp")

    def kill(self) -> None:
        """The server dies at once (SIGKILL): connections reset, recordings cut short."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    async def stop(self) -> None:
        """Graceful stop (SIGQUIT: nginx finishes its recordings)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            with trio.move_on_after(10):
                while self.proc.poll() is None:
                    await trio.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()

    def recordings(self) -> list[Path]:
        return sorted(self.records.glob("*.flv"), key=lambda p: p.stat().st_mtime_ns)


class SrtListener:
    """An ffmpeg SRT listener on 127.0.0.1 writing what it receives to ``path`` (MPEG-TS)."""

    def __init__(self, path: Path, *, port: int | None = None) -> None:
        self.path = path
        self.port = port or closed_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"srt://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-i", f"srt://127.0.0.1:{self.port}?mode=listener",
            "-c", "copy", "-f", "mpegts", str(self.path),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> str:
        """Stop listening; what ffmpeg printed on stderr."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")


class TlsRelay:
    """TLS on a loopback port, relayed in clear to ``target_port`` (an RTMPS front)."""

    def __init__(self, context: ssl.SSLContext, target_port: int) -> None:
        self.context = context
        self.target_port = target_port
        self.port = 0
        self.handshakes = 0
        self.forwarded = 0

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._relay, listeners)

    async def _relay(self, client: trio.SocketStream) -> None:
        tls = trio.SSLStream(client, self.context, server_side=True)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError):
            return
        self.handshakes += 1
        try:
            upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        except OSError:
            await tls.aclose()
            return
        async with trio.open_nursery() as nursery:

            async def pump(src: trio.abc.Stream, dst: trio.abc.Stream) -> None:
                try:
                    async for chunk in src:
                        if src is tls:
                            self.forwarded += len(chunk)
                        await dst.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError):
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(pump, tls, upstream)
            nursery.start_soon(pump, upstream, tls)
        await upstream.aclose()


@attrs.frozen
class Packet:
    dts: float
    duration: float


def probe_packets(path: Path) -> dict[str, list[Packet]]:
    """Every packet's DTS and duration (seconds), by stream type, in file order."""
    args = [
        "ffprobe", "-v", "error", "-show_entries",
        "packet=codec_type,dts_time,duration_time:stream=index,codec_type",
        "-of", "json", str(path),
    ]  # fmt: skip
    out = subprocess.run(args, capture_output=True, check=True).stdout
    packets: dict[str, list[Packet]] = {}
    for p in json.loads(out).get("packets", []):
        if p.get("dts_time") in (None, "N/A"):
            continue
        duration = p.get("duration_time")
        packets.setdefault(p["codec_type"], []).append(
            Packet(float(p["dts_time"]), float(duration) if duration not in (None, "N/A") else 0.0)
        )
    return packets


def regressions(packets: list[Packet]) -> int:
    """How many packets have a DTS not above the one before."""
    return sum(1 for a, b in itertools.pairwise(packets) if b.dts <= a.dts)


def media_span(packets: list[Packet]) -> float:
    """Seconds from the first packet's DTS to the end of the last one."""
    if not packets:
        return 0.0
    return packets[-1].dts + packets[-1].duration - packets[0].dts


def gaps(packets: list[Packet], longer_than: float) -> list[tuple[float, float]]:
    """``(at, seconds)`` of every hole between packets longer than ``longer_than``."""
    return [
        (a.dts, b.dts - a.dts)
        for a, b in itertools.pairwise(packets)
        if b.dts - a.dts > longer_than
    ]
