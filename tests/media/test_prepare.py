"""Preparing clips for air: conform or remux, loudness to target, HLS segments, atomic publish."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.media.conftest import PROFILE, QUALITY, Clips, PreparedSet
from tests.support.waiting import wait_until
from vvtv.media.ffmpeg import MediaError
from vvtv.media.loudness import measure_loudness
from vvtv.media.playlist import parse_vod_playlist
from vvtv.media.prepare import (
    load_prepared,
    prepare,
    prune_assets,
    remove_source,
    sweep_partials,
)
from vvtv.media.probe import probe, probe_own_hls


def assert_segments_fit(p, target: int = PROFILE.segment_seconds) -> None:
    listed = parse_vod_playlist(p.playlist.read_text())
    assert listed == p.segments
    assert all(s.duration_sec <= target + 1e-3 for s in p.segments), p.segments
    for s in p.segments:
        assert (p.dir / s.path_name).stat().st_size > 0


async def test_a_conforming_clip_is_remuxed_not_reencoded(prepared: PreparedSet) -> None:
    p = prepared.conforming
    assert p.remuxed
    assert p.duration_sec == pytest.approx(6.0, abs=0.1)
    assert_segments_fit(p)
    out = await probe_own_hls(str(p.playlist))
    assert (out.width, out.height, out.fps, out.video_codec) == (1280, 720, 25.0, "h264")


async def test_a_conforming_clip_with_too_long_a_gop_is_transcoded_to_fit_segments(
    prepared: PreparedSet,
) -> None:
    p = prepared.long_gop  # one keyframe per 10 s cannot make 6 s segments
    assert not p.remuxed
    assert [s.duration_sec for s in p.segments] == [6.0, 6.0]
    assert_segments_fit(p)


async def test_a_1080p50_clip_is_conformed_to_720p25(prepared: PreparedSet) -> None:
    p = prepared.full_hd_50
    assert not p.remuxed
    assert (p.source.height, p.source.fps) == (1080, 50.0)
    out = await probe_own_hls(str(p.playlist))
    assert (out.width, out.height, out.fps) == (1280, 720, 25.0)
    assert (out.audio_codec, out.audio_rate, out.audio_channels) == ("aac", 48000, 2)
    assert_segments_fit(p)


async def test_a_quiet_clip_is_brought_to_target_loudness(prepared: PreparedSet) -> None:
    p = prepared.quiet
    assert p.measured is not None and p.measured.integrated_lufs < QUALITY.target_audio_lufs - 10
    after = await measure_loudness(p.playlist, timeout=60, own_hls=True)
    assert after.integrated_lufs == pytest.approx(QUALITY.target_audio_lufs, abs=0.5)
    assert after.true_peak_dbtp <= QUALITY.max_true_peak_dbtp


async def test_peaks_that_a_linear_gain_would_clip_go_through_loudnorm(
    prepared: PreparedSet,
) -> None:
    p = prepared.peaky
    assert p.audio_filter.startswith("loudnorm=")
    assert "measured_I=" in p.audio_filter and "linear=true" in p.audio_filter
    after = await measure_loudness(p.playlist, timeout=60, own_hls=True)
    assert after.integrated_lufs == pytest.approx(QUALITY.target_audio_lufs, abs=1.0)
    assert after.true_peak_dbtp <= QUALITY.max_true_peak_dbtp


async def test_a_clip_without_audio_gets_a_silent_track(prepared: PreparedSet) -> None:
    out = await probe_own_hls(str(prepared.no_audio.playlist))
    assert out.audio_codec == "aac"
    assert prepared.no_audio.audio_filter == "silence"


async def test_the_manifest_reads_back_as_the_same_prepared_asset(prepared: PreparedSet) -> None:
    for p in (prepared.conforming, prepared.silent, prepared.no_audio):
        assert load_prepared(p.dir) == p


def test_a_missing_or_corrupt_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"prepared\.json: not a usable"):
        load_prepared(tmp_path)
    (tmp_path / "prepared.json").write_text('{"segments": 3}')
    with pytest.raises(MediaError, match="not a usable prepared-asset manifest"):
        load_prepared(tmp_path)


async def test_garbage_and_unsafe_ids_are_refused_and_leave_nothing(
    clips: Clips, tmp_path: Path
) -> None:
    with pytest.raises(MediaError, match=r"prepare bad: .*garbage\.mp4"):
        await prepare(clips.garbage, tmp_path, "bad", PROFILE, QUALITY)
    with pytest.raises(ValueError, match="not a safe directory name"):
        await prepare(clips.conforming, tmp_path, "../escape", PROFILE, QUALITY)
    assert list(tmp_path.iterdir()) == []


async def test_a_cancelled_prepare_kills_ffmpeg_and_leaves_no_asset_directory(
    clips: Clips, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(prepare, clips.long_gop, tmp_path, "cancelled", PROFILE, QUALITY)
        await wait_until(  # real time
            "the segmenting ffmpeg at work", lambda: processes_mentioning(str(tmp_path)), within=30
        )
        nursery.cancel_scope.cancel()
    assert list(tmp_path.iterdir()) == []
    assert processes_mentioning(str(tmp_path)) == []  # ffmpeg was killed, not left running


def processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return found


async def test_preparing_an_id_again_replaces_the_asset_whole(clips: Clips, tmp_path: Path) -> None:
    first = await prepare(clips.conforming, tmp_path, "same", PROFILE, QUALITY)
    second = await prepare(clips.no_audio, tmp_path, "same", PROFILE, QUALITY)
    assert first.dir == second.dir
    assert load_prepared(second.dir).audio_filter == "silence"
    assert [c.name for c in tmp_path.iterdir()] == ["same"]


def test_prune_keeps_what_is_needed_and_sweep_removes_crash_leftovers(tmp_path: Path) -> None:
    for name in ("a", "b", "c", ".tmp-d-1234", ".trash-e-99"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "seg_00000.ts").write_bytes(b"x")
    assert prune_assets(tmp_path, keep={"b"}) == ["a", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-d-1234", ".trash-e-99", "b"]
    assert {p.name for p in sweep_partials(tmp_path)} == {".tmp-d-1234", ".trash-e-99"}
    assert [p.name for p in tmp_path.iterdir()] == ["b"]
    assert prune_assets(tmp_path / "absent", keep=set()) == []


def test_remove_source_deletes_the_fetched_file_and_tolerates_absence(tmp_path: Path) -> None:
    f = tmp_path / "src.mp4"
    f.write_bytes(b"x")
    remove_source(f)
    remove_source(f)
    assert not f.exists()


async def test_interlaced_anamorphic_video_is_deinterlaced_and_made_square(
    clips: Clips, tmp_path: Path
) -> None:
    source = await probe(str(clips.pal_sd))
    assert source.interlaced and source.sar == pytest.approx(64 / 45, abs=1e-3)
    p = await prepare(clips.pal_sd, tmp_path, "pal", PROFILE, QUALITY)
    assert not p.remuxed
    out = await probe_own_hls(str(p.playlist))
    assert (out.width, out.height, out.sar) == (1280, 720, 1.0)
    assert not out.interlaced
