"""Reading untrusted bodies: bounded in decoded bytes, one encoding at most, a minimum rate.

Real servers on loopback send the hostile bodies; the process's peak memory is measured
by the kernel around the read.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
import trio
import trio.testing

from tests.support.hostile import gzip_bomb
from tests.support.loopback import Reply, drip, start_loopback
from tests.support.memory import peak_growth
from vvtv.guard.addresses import AddressPolicy
from vvtv.guard.body import BodyRefused, read_body
from vvtv.guard.http import client

LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])
FEED = b"<rss><channel>" + b"<item><title>a video</title></item>" * 2000 + b"</channel></rss>"
CAP = 5 * 1024 * 1024


def enc(encoding: str | None) -> dict[str, str]:
    return {} if encoding is None else {"Content-Encoding": encoding}


async def fetch(reply: Reply, nursery: trio.Nursery, **limits) -> bytes:
    server = await start_loopback(nursery)
    url = server.serve("/feed.xml", reply)
    async with client(LOOPBACK) as c, c.stream("GET", url) as response:
        return await read_body(response, **{"max_bytes": CAP, **limits})


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (None, FEED),
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("gzip", gzip.compress(FEED[:5000]) + gzip.compress(FEED[5000:])),  # two members
        ("deflate", zlib.compress(FEED)),  # zlib-wrapped, as the RFC says
        ("deflate", zlib.compress(FEED, wbits=-15)),  # raw, as many servers send it
        ("identity", FEED),
    ],
)
async def test_plain_and_compressed_bodies_decode_to_the_same_bytes(
    nursery: trio.Nursery, encoding: str | None, body: bytes
) -> None:
    reply = Reply(200, body, "application/rss+xml", headers=enc(encoding))
    assert await fetch(reply, nursery) == FEED


async def test_a_gzip_bomb_is_cut_off_at_the_cap_without_growing_the_process(
    nursery: trio.Nursery,
) -> None:
    bomb = gzip_bomb(2 << 30)  # 2 GiB of zeros in about 2 MB
    reply = Reply(200, bomb, "application/rss+xml", headers=enc("gzip"))
    with peak_growth() as growth, pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery)
    assert info.value.code == "TOO_LARGE"
    assert growth.mib < 64, f"peak memory grew by {growth.mib:.0f} MiB"


async def test_stacked_encodings_are_refused_before_inflating_anything(
    nursery: trio.Nursery,
) -> None:
    bomb = gzip_bomb(2 << 30, layers=2)  # a few KB on the wire
    assert len(bomb) < 8192
    reply = Reply(200, bomb, "application/rss+xml", headers=enc("gzip, gzip"))
    with peak_growth() as growth, pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery)
    assert info.value.code == "ENCODING_REFUSED"
    assert "stacked content encodings (gzip, gzip) are refused" in info.value.message
    assert growth.mib < 64, f"peak memory grew by {growth.mib:.0f} MiB"


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip;q=1, x-custom"])
async def test_encodings_we_never_offered_are_refused(nursery: trio.Nursery, encoding: str) -> None:
    reply = Reply(200, b"\x00" * 100, "application/rss+xml", headers=enc(encoding))
    with pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery)
    assert info.value.code == "ENCODING_REFUSED"


async def test_corrupt_compressed_data_is_a_clear_refusal(nursery: trio.Nursery) -> None:
    body = gzip.compress(FEED)
    reply = Reply(200, body[:40] + b"\xff" * 64 + body[104:], "text/xml", headers=enc("gzip"))
    with pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery)
    assert info.value.code == "BAD_ENCODING"
    assert "corrupt gzip data" in info.value.message


async def test_a_plain_body_over_the_cap_is_cut_off(nursery: trio.Nursery) -> None:
    reply = Reply(200, b"x" * (CAP + 1), "application/rss+xml", advertise_length=False)
    with pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery)
    assert info.value.code == "TOO_LARGE"


async def test_a_drip_server_is_cut_off_once_it_falls_behind_the_minimum_rate(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # One byte every 2 s: under any read timeout, forever. Virtual time.
    reply = Reply(200, drip(b"<", times=len(FEED), every=2.0), "application/rss+xml")
    started = trio.current_time()
    with pytest.raises(BodyRefused) as info:
        await fetch(reply, nursery, min_rate=1024, grace=30)
    assert info.value.code == "TOO_SLOW"
    assert "under the minimum of 1024 bytes/s (after a 30 s grace)" in info.value.message
    assert trio.current_time() - started < 35


async def test_a_steady_server_above_the_minimum_rate_is_read_to_the_end(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    reply = Reply(200, drip(b"x", times=200, every=0.01), "application/rss+xml")  # 100 B/s
    assert await fetch(reply, nursery, min_rate=50, grace=1) == b"x" * 200
