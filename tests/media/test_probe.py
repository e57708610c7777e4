"""Probing and HD confirmation on real clips: local files only (a URL is refused; remote
media is probed on a head fetched through the vetted client)."""

from __future__ import annotations

from functools import partial

import pytest

from tests.media.conftest import Clips
from tests.support.loopback import Loopback, Reply
from vvtv.guard.addresses import AddressPolicy
from vvtv.media.fetch import FetchError, fetch_head
from vvtv.media.probe import ProbeError, confirm_hd, parse_ffprobe_json, probe

LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])  # the server stands for the internet


async def test_probe_reports_the_streams_of_a_good_clip(clips: Clips) -> None:
    info = await probe(str(clips.conforming))
    assert (info.width, info.height, info.fps) == (1280, 720, 25.0)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.duration_sec == pytest.approx(6.0, abs=0.1)
    assert "mp4" in info.format_name


async def test_probe_reads_title_and_comma_separated_tags_from_metadata(clips: Clips) -> None:
    info = await probe(str(clips.tagged))
    assert info.title == "Ocean Waves"
    assert info.tags == ("nature", "calm")


async def test_probe_of_a_missing_file_names_the_file(tmp_path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(ProbeError, match=r"nope\.mp4: no such file"):
        await probe(str(missing))


async def test_probe_of_garbage_is_a_probe_error_naming_the_target(clips: Clips) -> None:
    with pytest.raises(ProbeError) as info:
        await probe(str(clips.garbage))
    assert str(clips.garbage) in info.value.reason


def test_ffprobe_json_without_streams_is_rejected_with_a_reason() -> None:
    with pytest.raises(ProbeError, match="no format/streams"):
        parse_ffprobe_json({"format": {}}, "x.mp4")
    with pytest.raises(ProbeError, match="no audio or video stream"):
        parse_ffprobe_json({"format": {"format_name": "mp4"}, "streams": []}, "x.mp4")


async def test_confirm_hd_accepts_a_720p_clip_that_decodes(clips: Clips) -> None:
    check = await confirm_hd(str(clips.conforming), 720)
    assert check.ok, check.reason
    assert check.height == 720


async def test_confirm_hd_rejects_480p_naming_height_and_minimum(clips: Clips) -> None:
    check = await confirm_hd(str(clips.small_480), 720)
    assert not check.ok
    assert check.height == 480
    assert "480p is below the minimum 720p" in check.reason


async def test_confirm_hd_rejects_a_file_that_is_not_media(clips: Clips) -> None:
    check = await confirm_hd(str(clips.garbage), 720)
    assert not check.ok
    assert str(clips.garbage) in check.reason


async def test_confirm_hd_rejects_a_truncated_stream_that_claims_720p(clips: Clips) -> None:
    # Long enough a decode window to run into the cut.
    check = await confirm_hd(str(clips.truncated), 360, seconds=20)
    assert not check.ok, check.reason


async def test_confirm_hd_never_opens_a_url(clips: Clips, server: Loopback) -> None:
    # ffprobe follows redirects and playlist links to any host: it is never given a URL.
    good = server.serve("/good.mp4", clips.conforming.read_bytes())
    check = await confirm_hd(good, 720)
    assert not check.ok
    assert "ffprobe reads only local files" in check.reason
    with pytest.raises(ProbeError, match="reads only local files"):
        await probe(good)
    assert server.requests == []


async def test_confirm_hd_on_a_head_fetched_through_the_vetted_client(
    clips: Clips, server: Loopback, tmp_path
) -> None:
    good = server.serve("/good.mp4", clips.conforming.read_bytes())
    low = server.serve("/low.mp4", clips.small_480.read_bytes())
    head = partial(fetch_head, max_bytes=1 << 30, addresses=LOOPBACK)
    assert (await confirm_hd(str(await head(good, tmp_path)), 720)).ok
    assert not (await confirm_hd(str(await head(low, tmp_path)), 720)).ok
    server.serve("/gone.mp4", Reply(404, b"", "text/plain"))
    with pytest.raises(FetchError) as info:
        await head(server.url_for("/gone.mp4"), tmp_path)
    assert info.value.reason_code == "HTTP_404"
