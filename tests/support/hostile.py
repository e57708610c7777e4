"""Hostile hosts and bodies for the untrusted-input tests, on ``tests.support.loopback``.

The usual cast of a hostile-input test:

- ``await internal_host(nursery)``: a loopback server standing for something the channel
  must never reach (the cloud metadata service, an admin page on the LAN). It answers
  every path, so a request that got through would succeed; its ``requests`` must stay
  empty.
- ``await second_host(nursery, port)``: another "machine" on 127.0.0.2, on the same port as
  a server on 127.0.0.1, so one address range can be allowed and the other not.
- ``gzip_bomb(size)``: a tiny body that inflates to ``size`` bytes (``layers=2`` for
  ``Content-Encoding: gzip, gzip``), made without ever holding ``size`` bytes.
- a drip: ``Reply(body=drip(b"x", times=10_000, every=2.0))``, a byte every two seconds.
- ``hls_playlist(url, ...)``: a playlist naming other files, served as ``x.mp4``;
  ``make_secret_ts(path)``: a private file of red frames it may point at, and
  ``mean_rgb(output)`` to show its frames never reached what the channel prepared.
"""

from __future__ import annotations

import functools
import subprocess
import zlib
from pathlib import Path

import trio

from tests.support.loopback import Loopback, Reply, start_loopback

METADATA = b'{"Code": "Success", "AccessKeyId": "ASIA-INTERNAL-SECRET"}'


async def internal_host(nursery: trio.Nursery, host: str = "127.0.0.1") -> Loopback:
    """A server that must see zero requests: it answers anything with a secret."""
    server = Loopback(host=host, default=Reply(200, METADATA, "application/json"))
    return await start_loopback(nursery, server)


async def second_host(nursery: trio.Nursery, port: int, host: str = "127.0.0.2") -> Loopback:
    """A loopback server on another loopback address, on ``port``."""
    return await start_loopback(nursery, Loopback(host=host, port=port))


@functools.cache
def gzip_bomb(decoded_size: int, *, layers: int = 1) -> bytes:
    """A valid gzip stream of ``decoded_size`` zero bytes (``layers`` times gzipped), made cheaply.

    Deflating zeros after a full flush gives the same bytes for every equal block, so the
    stream is one compressed 1 MiB block repeated, wrapped in a gzip header and trailer by
    hand: a 2 GiB bomb (about 2 MB; 5 KB once gzipped again) costs a fraction of a second,
    not the many seconds of really compressing 2 GiB.
    """
    block = 1 << 20
    zeros = bytes(block)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeat = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor starts afresh: the next block compresses the same.
    assert comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH) == repeat
    blocks, rest = divmod(decoded_size, block)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    deflated = repeat * blocks + comp.compress(bytes(rest)) + comp.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (decoded_size & 0xFFFFFFFF).to_bytes(4, "little")
    data = header + deflated + trailer
    for _ in range(layers - 1):
        data = zlib.compress(data, 9, wbits=31)
    return data


def hls_playlist(*segments: str, seconds: int = 2) -> bytes:
    """A VOD HLS playlist naming ``segments`` (URLs or ``file://`` paths)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{seconds}"]
    for segment in segments:
        lines += [f"#EXTINF:{seconds},", segment]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


def make_secret_ts(path: Path, *, seconds: float = 2.0) -> Path:
    """A private 720p MPEG-TS file of pure red frames: if its frames reach anything the
    channel prepared, ``mean_rgb`` of that output says so."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=red:s=1280x720:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=330:sample_rate=48000:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ac", "2", "-f", "mpegts", str(path),
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, check=True)
    return path


def mean_rgb(media: Path) -> tuple[int, int, int]:
    """The average colour of a file's first frame (a trusted tool run on our own output)."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(media),
        "-frames:v", "1", "-vf", "scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    out = subprocess.run(args, check=True, capture_output=True).stdout
    return out[0], out[1], out[2]
