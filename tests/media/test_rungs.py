"""The lower rung (``channel.renditions``): made with the main rendition, on its segment
boundaries, so a player can switch between them at any segment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import attrs
import pytest

from tests.media.conftest import PROFILE, QUALITY
from tests.support.media import make_clip
from vvtv.air.master import avc1, maxrate_kbps
from vvtv.media.playlist import Segment, parse_vod_playlist
from vvtv.media.prepare import load_prepared, prepare
from vvtv.media.probe import probe_own_hls
from vvtv.media.qa import qa_check
from vvtv.media.rungs import RungError, check_aligned, make_rungs, rung_playlist
from vvtv.ownercard.card import Rendition

RUNG = Rendition(height=480, video_bitrate_kbps=700)
LADDER = attrs.evolve(PROFILE, renditions=(RUNG,))


def first_video_pts(segment: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
         "-show_entries", "packet=pts_time,flags", "-of", "json", str(segment)],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    packet = json.loads(out)["packets"][0]
    assert packet["flags"].startswith("K"), f"{segment} does not start on a keyframe"
    return float(packet["pts_time"])


def keyframes(segment: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
         "-of", "csv=p=0", str(segment)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return sum(1 for line in out.splitlines() if line.startswith("K"))


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rung-sources")
    return {
        # at the profile: the main rendition is a remux; keyframes every second
        "remux": make_clip(d / "remux.mp4", seconds=13, gop=25),
        # 1080p at 50 fps: the main rendition is a transcode
        "transcode": make_clip(d / "fullhd.mp4", size="1920x1080", fps=50, seconds=8),
    }


@pytest.mark.parametrize("kind", ["remux", "transcode"])
async def test_the_rung_has_the_main_renditions_segments_and_passes_qa(
    sources: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    p = await prepare(sources[kind], tmp_path, f"a-{kind}", LADDER, QUALITY)
    assert p.remuxed is (kind == "remux")
    assert p.rungs == ("480p",) and p.rung_errors == ()
    assert load_prepared(p.dir).rungs == ("480p",)
    rung = parse_vod_playlist(rung_playlist(p.dir, RUNG).read_text())
    assert len(rung) == len(p.segments) >= 2
    for main_seg, rung_seg in zip(p.segments, rung, strict=True):
        assert rung_seg.duration_sec == pytest.approx(main_seg.duration_sec, abs=0.02)
        # Same start, in the same timestamps, on a keyframe, and the only keyframe in it.
        main_pts = first_video_pts(p.dir / main_seg.path_name)
        assert first_video_pts(p.dir / rung_seg.path_name) == pytest.approx(main_pts, abs=0.002)
        assert keyframes(p.dir / rung_seg.path_name) == 1
    out = await probe_own_hls(str(rung_playlist(p.dir, RUNG)))
    assert (out.width, out.height, out.video_codec, out.fps) == (854, 480, "h264", 25.0)
    assert out.audio_codec == "aac"
    report = await qa_check(p, QUALITY, None)
    assert report.passed, report.reasons
    # The master playlist's CODECS are what x264 wrote (High profile, its level).
    rung_codec = avc1(854, 480, 25, maxrate_kbps(RUNG.video_bitrate_kbps))
    assert codec_string(p.dir / rung[0].path_name) == rung_codec == "avc1.64001e"
    if kind == "transcode":
        main_codec = avc1(1280, 720, 25, maxrate_kbps(PROFILE.video_bitrate_kbps))
        assert codec_string(p.dir / p.segments[0].path_name) == main_codec == "avc1.64001f"


def codec_string(segment: Path) -> str:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=profile,level", "-of", "json", str(segment)],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    stream = json.loads(out)["streams"][0]
    assert stream["profile"] == "High"
    return f"avc1.6400{stream['level']:02x}"


async def test_without_renditions_nothing_more_is_made(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    p = await prepare(sources["remux"], tmp_path, "plain", PROFILE, QUALITY)
    assert p.rungs == () and not list(p.dir.glob("480p*"))


async def test_a_rung_that_cannot_be_made_loses_only_itself(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    p = await prepare(sources["remux"], tmp_path, "main-only", PROFILE, QUALITY)
    # The main rendition's first segment is damaged: no timestamp to align a rung on.
    (p.dir / p.segments[0].path_name).write_bytes(b"\x47" + b"\x00" * 187)
    made, errors = await make_rungs(p.dir, p.segments, LADDER, preset="ultrafast", timeout=60)
    assert made == ()
    assert len(errors) == 1 and "align a rung" in errors[0], errors
    assert not list(p.dir.glob("480p*")), "a failed rung leaves nothing behind"


async def test_qa_refuses_an_asset_whose_rung_no_longer_lines_up(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    p = await prepare(sources["remux"], tmp_path, "skewed", LADDER, QUALITY)
    playlist = rung_playlist(p.dir, RUNG)
    playlist.write_text(playlist.read_text().replace("#EXTINF:6.000000,", "#EXTINF:5.000000,", 1))
    report = await qa_check(p, QUALITY, None)
    assert not report.passed
    assert any("rung 480p" in r and "segment 0" in r for r in report.reasons), report.reasons


def test_alignment_is_checked_segment_by_segment() -> None:
    main = (Segment("seg_00000.ts", 6.0), Segment("seg_00001.ts", 6.0), Segment("s2.ts", 1.0))
    check_aligned(main, main, 0.02, "rung 480p")
    with pytest.raises(RungError, match="2 segments, the main rendition has 3"):
        check_aligned(main, main[:2], 0.02, "rung 480p")
    skewed = (main[0], Segment("r1.ts", 5.9), main[2])
    with pytest.raises(RungError, match=r"segment 1 \(r1.ts\) lasts 5.900000 s .* at 6.000 s"):
        check_aligned(main, skewed, 0.02, "rung 480p")
