"""Reading a response body from an untrusted host: bounded in decoded bytes and in time.

httpx decodes ``Content-Encoding`` a whole network chunk at a time: one 16 KiB chunk of
a gzip bomb inflates to gigabytes inside a single ``aiter_bytes()`` step, before any
size cap can look at it (1,827 bytes of ``gzip, gzip`` took the daemon to 2 GiB). So the
body is read raw and inflated here with zlib's ``max_length``: at most ``PIECE`` bytes
come out of each step, and the count of decoded bytes is checked as they come.

Encodings: ``gzip``/``x-gzip`` and ``deflate`` (zlib-wrapped or raw, as httpx does),
and ``identity``. Anything stacked (``gzip, gzip``) is refused: no legitimate server
compresses twice, and each layer multiplies the ratio. Anything else (``br``, ``zstd``,
``compress``) is refused too: we never offer it (``ACCEPT_ENCODING``).

Rate: ``min_rate`` bytes per second on the wire, after ``grace`` seconds. A server
that drips one byte every two seconds stays under every read timeout forever; here it
is cut off as soon as it falls behind ``min_rate × (elapsed − grace)``.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx
import trio

PIECE = 1 << 20  # the most one inflate step produces
ACCEPT_ENCODING = "gzip, deflate"  # what untrusted hosts are offered (feeds)
IDENTITY = "identity"  # media: already compressed, never worth a second layer
_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


class BodyRefused(Exception):
    """A body that was cut off. ``code`` is one of ``TOO_LARGE``, ``ENCODING_REFUSED``,
    ``TOO_SLOW``, ``BAD_ENCODING`` (corrupt compressed data); ``message`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Inflate:
    """zlib inflation that never produces more than ``PIECE`` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.wbits = _GZIP if encoding in ("gzip", "x-gzip") else _ZLIB
        self.inflater = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self.inflater.decompress(data, PIECE)
            except zlib.error as exc:
                if self.wbits == _ZLIB and not self.started:
                    # "deflate" sent raw, without the zlib wrapper: common, and what
                    # browsers and httpx accept.
                    self.wbits = _RAW
                    self.inflater = zlib.decompressobj(_RAW)
                    continue
                raise BodyRefused("BAD_ENCODING", f"corrupt {self.encoding} data ({exc})") from None
            self.started = True
            data = self.inflater.unconsumed_tail
            if out:
                yield out
            if self.inflater.eof:
                rest = self.inflater.unused_data
                if not rest or self.wbits != _GZIP:
                    return  # trailing bytes after the stream are ignored, as httpx does
                # A gzip body may hold several members, one after the other.
                self.inflater = zlib.decompressobj(_GZIP)
                data = rest

    def finish(self) -> Iterator[bytes]:
        while True:
            out = self.inflater.flush(PIECE) if not self.inflater.eof else b""
            if not out:
                return
            yield out


def _decoder(response: httpx.Response) -> _Identity | _Inflate:
    encodings = [
        e.strip().lower()
        for e in response.headers.get_list("content-encoding", split_commas=True)
        if e.strip() and e.strip().lower() != "identity"
    ]
    if not encodings:
        return _Identity()
    if len(encodings) > 1:
        raise BodyRefused(
            "ENCODING_REFUSED",
            f"stacked content encodings ({', '.join(encodings)}) are refused",
        )
    (encoding,) = encodings
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyRefused(
            "ENCODING_REFUSED",
            f"content encoding {encoding!r} was not offered (only {ACCEPT_ENCODING})",
        )
    return _Inflate(encoding)


async def iter_body(
    response: httpx.Response,
    *,
    max_bytes: int,
    min_rate: float | None = None,
    grace: float = 0.0,
) -> AsyncIterator[bytes]:
    """The decoded body of a streamed ``response``, piece by piece.

    Raises ``BodyRefused`` with ``TOO_LARGE`` as soon as more than ``max_bytes`` decoded
    bytes have come (having produced at most ``max_bytes + PIECE``), ``ENCODING_REFUSED``
    for a stacked or unknown ``Content-Encoding`` before reading anything, ``TOO_SLOW``
    when ``min_rate`` is set and the wire falls behind it after ``grace`` seconds.
    """
    decoder = _decoder(response)
    started = trio.current_time()
    wire = 0
    decoded = 0

    def count(piece: bytes) -> bytes:
        nonlocal decoded
        decoded += len(piece)
        if decoded > max_bytes:
            raise BodyRefused("TOO_LARGE", f"more than {max_bytes} bytes (decoded), cut off")
        return piece

    async for raw in response.aiter_raw():
        wire += len(raw)
        if min_rate is not None:
            late = trio.current_time() - started - grace
            if late > 0 and wire < min_rate * late:
                raise BodyRefused(
                    "TOO_SLOW",
                    f"{wire} bytes in {late + grace:.0f} s, under the minimum of "
                    f"{min_rate:.0f} bytes/s (after a {grace:g} s grace)",
                )
        for piece in decoder.feed(raw):
            yield count(piece)
    for piece in decoder.finish():
        yield count(piece)


async def read_body(
    response: httpx.Response, *, max_bytes: int, min_rate: float | None = None, grace: float = 0.0
) -> bytes:
    """``iter_body`` gathered into one ``bytes`` (for bodies small enough to hold: feeds)."""
    body = bytearray()
    async for piece in iter_body(response, max_bytes=max_bytes, min_rate=min_rate, grace=grace):
        body += piece
    return bytes(body)
