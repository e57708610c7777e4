"""A raw websocket client for hostile-client tests: it says exactly what a test tells it to.

trio-websocket is a polite client (it answers pings, refuses to send oversized messages,
always completes a close handshake). The hostile cases need the opposite: a message that
announces 16 MiB and streams it without ever holding it, a flood of small messages
without reading a byte back, an ``Origin`` of the test's choosing, a connection from
another loopback address (``source="127.0.0.2"``)::

    ws = await RawWebsocket.open(url + "/v1/ws/buffer", origin="https://evil.example")
    assert ws.status == 403
    ws = await RawWebsocket.open(url + "/v1/ws/buffer")
    await ws.send_huge(16 << 20)          # one frame, streamed from a 64 KiB buffer
    assert (await ws.close_frame())[0] == 1009

Frames are masked with a zero key (legal, RFC 6455 §5.3, and free: no XOR pass), so
sending costs the test no memory beyond its one chunk.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from urllib.parse import urlsplit

import trio

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
CHUNK = 64 * 1024


class RawWebsocket:
    """One connection: the handshake's answer (``status``, ``headers``, ``body``) and, when
    it was accepted (101), frames to send and read."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self._buffer = b""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        origin: str | None = None,
        host: str | None = None,
        source: str | None = None,
        deflate: bool = False,
    ) -> RawWebsocket:
        """Connect and send the handshake; a refused one leaves its HTTP answer in
        ``status`` / ``body`` (and the connection closed)."""
        parts = urlsplit(url)
        assert parts.hostname and parts.port, url
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if source is not None:
            await sock.bind((source, 0))
        await sock.connect((parts.hostname, parts.port))
        ws = cls(trio.SocketStream(sock))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path or '/'} HTTP/1.1",
            f"Host: {host or parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate")
        await ws.stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        await ws._read_answer()
        return ws

    @property
    def accepted(self) -> bool:
        return self.status == 101

    def error(self) -> str:
        """The ``error`` of a refused handshake's JSON answer."""
        return str(json.loads(self.body)["error"])

    async def send_frame(
        self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False
    ) -> None:
        await self.stream.send_all(_header(opcode, len(payload), fin, rsv1) + payload)

    async def send_text(self, text: str) -> None:
        await self.send_frame(TEXT, text.encode())

    async def send_huge(self, size: int, *, opcode: int = BINARY) -> int:
        """One frame announcing ``size`` bytes, streamed in 64 KiB chunks until done or the
        server stops taking them; returns how many payload bytes were sent."""
        chunk = bytes(CHUNK)
        sent = 0
        try:
            await self.stream.send_all(_header(opcode, size, True, False))
            while sent < size:
                part = chunk[: min(CHUNK, size - sent)]
                await self.stream.send_all(part)
                sent += len(part)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return sent

    async def receive_frame(self) -> tuple[int, bytes] | None:
        """The next frame from the server (opcode, payload); None at end of stream."""
        head = await self._read_exactly(2)
        if head is None:
            return None
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            raw = await self._read_exactly(2)
            length = struct.unpack("!H", raw or b"\0\0")[0]
        elif length == 127:
            raw = await self._read_exactly(8)
            length = struct.unpack("!Q", raw or bytes(8))[0]
        payload = await self._read_exactly(length)
        return None if payload is None else (opcode, payload)

    async def close_frame(self) -> tuple[int, str] | None:
        """Read (and drop) frames until the server's close frame: (code, reason); None if
        the connection ended without one."""
        while True:
            try:
                frame = await self.receive_frame()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if frame is None:
                return None
            opcode, payload = frame
            if opcode == CLOSE:
                if len(payload) < 2:
                    return (1005, "")
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)

    async def _read_answer(self) -> None:
        while b"\r\n\r\n" not in self._buffer:
            data = await self.stream.receive_some(CHUNK)
            if not data:
                break
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._buffer = rest
        if self.status != 101:
            length = int(self.headers.get("content-length", "0") or 0)
            while len(self._buffer) < length:
                data = await self.stream.receive_some(CHUNK)
                if not data:
                    break
                self._buffer += data
            self.body = self._buffer[:length]

    async def _read_exactly(self, n: int) -> bytes | None:
        while len(self._buffer) < n:
            data = await self.stream.receive_some(max(CHUNK, n - len(self._buffer)))
            if not data:
                return None
            self._buffer += data
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def _header(opcode: int, length: int, fin: bool, rsv1: bool) -> bytes:
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask = b"\0\0\0\0"  # a zero key: the payload goes out as it is
    if length < 126:
        return bytes([first, 0x80 | length]) + mask
    if length < 1 << 16:
        return bytes([first, 0x80 | 126]) + struct.pack("!H", length) + mask
    return bytes([first, 0x80 | 127]) + struct.pack("!Q", length) + mask
