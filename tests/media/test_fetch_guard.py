"""Downloads and probe heads from untrusted media hosts: only allowed addresses, bounded in
decoded bytes, at a minimum rate and within a total deadline.

Real loopback servers (``tests.support.loopback``): the media host, and an internal host
that must see zero requests. Time is a MockClock where the test is about time.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support.hostile import gzip_bomb, hls_playlist, internal_host, second_host
from tests.support.loopback import Pause, Reply, drip, redirect, start_loopback
from tests.support.media import ClipCache
from tests.support.memory import peak_growth
from vvtv.guard.addresses import AddressPolicy
from vvtv.media.fetch import FetchError, Pace, fetch, fetch_head
from vvtv.media.formats import MediaFormatRefused
from vvtv.media.probe import confirm_hd, probe

LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])
ONLY_127_0_0_2 = AddressPolicy.from_entries(["127.0.0.2/32"])
BODY = bytes(range(256)) * 4096  # 1 MiB


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# --- addresses -----------------------------------------------------------------------


async def test_a_media_host_on_loopback_is_refused_by_default_before_any_request(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", BODY, content_type="video/mp4")
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=10 << 20)
    assert info.value.reason_code == "ADDRESS_REFUSED"
    assert "127.0.0.1 is loopback" in info.value.message
    assert web.requests == [] and leftovers(tmp_path) == []
    # The same host, once the card allows its range.
    got = await fetch(url, tmp_path, max_bytes=10 << 20, addresses=LOOPBACK)
    assert got.size_bytes == len(BODY)


async def test_a_redirect_to_an_internal_address_is_refused_and_not_retried(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internal = await internal_host(nursery)
    web = await second_host(nursery, internal.port)
    url = web.serve("/clip.mp4", redirect(internal.url_for("/latest/meta-data/iam")))
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=10 << 20, addresses=ONLY_127_0_0_2)
    assert info.value.reason_code == "ADDRESS_REFUSED"
    assert "redirected to http://127.0.0.1:" in info.value.message
    assert web.hits("/clip.mp4") == 1
    assert internal.requests == []


async def test_an_allowlisted_name_resolving_to_metadata_is_refused(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internal = await internal_host(nursery)

    async def hostile_dns(host: str, port: int) -> list[str]:
        return ["169.254.169.254"] if host == "media.example.com" else ["127.0.0.1"]

    with pytest.raises(FetchError) as info:
        await fetch(
            internal.url_for("/x.mp4", host="media.example.com"),
            tmp_path,
            max_bytes=1 << 20,
            addresses=LOOPBACK,
            resolver=hostile_dns,
        )
    assert info.value.reason_code == "ADDRESS_REFUSED"
    assert "169.254.169.254 is link-local" in info.value.message
    assert internal.requests == []


# --- bounded bodies ------------------------------------------------------------------


async def test_a_gzip_bomb_download_is_cut_at_the_cap_in_bounded_memory(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    web = await start_loopback(nursery)
    bomb = Reply(body=gzip_bomb(2 << 30), headers={"Content-Encoding": "gzip"})
    url = web.serve("/clip.mp4", bomb)
    with peak_growth() as growth, pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=5 << 20, addresses=LOOPBACK)
    assert info.value.reason_code == "TOO_LARGE"
    assert growth.mib < 64, f"peak memory grew by {growth.mib:.0f} MiB"
    assert leftovers(tmp_path) == []
    (request,) = web.requests
    assert request.headers["accept-encoding"] == "identity"


async def test_stacked_encodings_are_refused(nursery: trio.Nursery, tmp_path: Path) -> None:
    web = await start_loopback(nursery)
    body = gzip_bomb(2 << 30, layers=2)
    url = web.serve("/clip.mp4", Reply(body=body, headers={"Content-Encoding": "gzip, gzip"}))
    with peak_growth() as growth, pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=5 << 20, addresses=LOOPBACK)
    assert info.value.reason_code == "ENCODING_REFUSED"
    assert growth.mib < 64


# --- time ----------------------------------------------------------------------------


async def test_a_drip_server_is_cut_off_after_the_grace_and_not_retried(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # One byte every 2 s: under the 30 s read timeout for ever. Virtual time.
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", Reply(body=drip(b"\x00", times=100_000, every=2.0)))
    started = trio.current_time()
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=2 << 30, addresses=LOOPBACK, pace=Pace(65536, 30))
    elapsed = trio.current_time() - started
    assert info.value.reason_code == "TOO_SLOW"
    assert 30 <= elapsed < 40, elapsed
    assert web.hits("/clip.mp4") == 1
    assert leftovers(tmp_path) == []


async def test_every_download_ends_by_its_total_deadline_even_while_retrying(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # Headers at once, then silence: each attempt times out (30 s) and is retried; the
    # whole download still ends at grace + cap / rate = 30 + 1 MiB / 64 KiB/s = 46 s.
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", Reply(body=[b"\x00" * 10, Pause(math.inf)], length=1 << 20))
    started = trio.current_time()
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=1 << 20, addresses=LOOPBACK, pace=Pace(65536, 30))
    assert info.value.reason_code == "TOO_SLOW"
    assert trio.current_time() - started == pytest.approx(46, abs=1)
    assert web.hits("/clip.mp4") == 2  # one retry fitted in


async def test_a_steady_download_above_the_minimum_rate_completes(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    web = await start_loopback(nursery)
    # 64 KiB every 0.5 s (128 KiB/s) for 8 s, against a minimum of 64 KiB/s.
    url = web.serve("/clip.mp4", Reply(body=drip(b"\x07" * 65536, times=16, every=0.5)))
    got = await fetch(url, tmp_path, max_bytes=2 << 20, addresses=LOOPBACK, pace=Pace(65536, 5))
    assert got.size_bytes == 16 * 65536


# --- heads for discovery's probe ------------------------------------------------------


def without_faststart(source: Path, dest: Path) -> Path:
    """The same clip with its index (moov) written after the media data."""
    args = ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c", "copy", str(dest)]
    subprocess.run(args, check=True)
    return dest


async def test_a_head_is_a_local_file_of_the_real_size_and_probes_like_the_file(
    nursery: trio.Nursery, tmp_path: Path, clip_cache: ClipCache
) -> None:
    clip = clip_cache.clip(seconds=4)
    data = clip.read_bytes()
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", data, content_type="video/mp4")
    head_bytes = 192 << 10
    assert len(data) > head_bytes
    head = await fetch_head(
        url, tmp_path, max_bytes=1 << 30, head_bytes=head_bytes, addresses=LOOPBACK
    )
    assert head.parent == tmp_path and head.stat().st_size == len(data)  # sparse
    (request,) = web.requests
    assert request.headers["range"] == f"bytes=0-{head_bytes - 1}"
    assert web.sent_to("/clip.mp4") == head_bytes
    info = await probe(str(head))
    assert info.duration_sec == pytest.approx(4.0, abs=0.1) and info.height == 720
    assert (await confirm_hd(str(head), 720, seconds=0.5)).ok


async def test_an_mp4_with_its_index_at_the_end_gets_its_tail_too(
    nursery: trio.Nursery, tmp_path: Path, clip_cache: ClipCache
) -> None:
    clip = without_faststart(clip_cache.clip(seconds=4), tmp_path / "slow-start.mp4")
    data = clip.read_bytes()
    assert data.find(b"moov") > len(data) // 2
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", data, content_type="video/mp4")
    heads = tmp_path / "heads"
    head = await fetch_head(url, heads, max_bytes=1 << 30, head_bytes=96 << 10, addresses=LOOPBACK)
    ranges = [r.headers["range"] for r in web.requests]
    assert ranges[0] == "bytes=0-98303" and len(ranges) == 2
    assert ranges[1].endswith(f"-{len(data) - 1}")
    info = await probe(str(head))
    assert info.duration_sec == pytest.approx(4.0, abs=0.1) and info.height == 720


async def test_a_head_of_a_playlist_is_refused_by_the_probe_not_followed(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internal = await internal_host(nursery)
    web = await second_host(nursery, internal.port)
    playlist = hls_playlist(internal.url_for("/seg.ts"))
    as_mp4 = web.serve("/x.mp4", playlist, content_type="video/mp4")
    as_hls = web.serve("/x.m3u8", playlist, content_type="application/vnd.apple.mpegurl")
    head = await fetch_head(as_mp4, tmp_path, max_bytes=1 << 30, addresses=ONLY_127_0_0_2)
    with pytest.raises(MediaFormatRefused):
        await probe(str(head))
    with pytest.raises(FetchError) as info:
        await fetch_head(as_hls, tmp_path, max_bytes=1 << 30, addresses=ONLY_127_0_0_2)
    assert info.value.reason_code == "MEDIA_FORMAT_REFUSED"
    assert internal.requests == []


async def test_a_head_respects_its_limit_when_the_host_ignores_ranges(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    web = await start_loopback(nursery)
    # Answers 200 with an endless body, whatever the Range asked.
    url = web.serve("/clip.mp4", Reply(200, drip(b"\x00" * 65536, times=None), "video/mp4"))
    head = await fetch_head(
        url, tmp_path, max_bytes=1 << 30, head_bytes=1 << 20, addresses=LOOPBACK
    )
    assert head.stat().st_size == 1 << 20


async def test_a_file_over_the_download_cap_is_refused_at_its_head(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    web = await start_loopback(nursery)
    url = web.serve("/clip.mp4", BODY, content_type="video/mp4")
    with pytest.raises(FetchError) as info:
        await fetch_head(url, tmp_path, max_bytes=1000, head_bytes=100, addresses=LOOPBACK)
    assert info.value.reason_code == "TOO_LARGE"
    assert leftovers(tmp_path) == []
