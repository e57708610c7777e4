"""The QA gate measures the prepared output and names every failed check."""

from __future__ import annotations

import attrs

from tests.media.conftest import QUALITY, PreparedSet
from vvtv.media.qa import decode_pass, parse_decode_pass, qa_check


async def test_a_good_asset_passes_with_its_measures_recorded(prepared: PreparedSet) -> None:
    report = await qa_check(prepared.conforming, QUALITY, expected_duration=6.0)
    assert report.passed, report.reasons
    assert (report.width, report.height, report.fps) == (1280, 720, 25.0)
    assert report.integrated_lufs is not None
    assert abs(report.integrated_lufs - QUALITY.target_audio_lufs) <= 0.5
    assert report.true_peak_dbtp is not None and report.true_peak_dbtp <= -1.5
    assert report.decode_errors == 0
    assert report.black_ratio == 0.0 and report.silence_ratio == 0.0


async def test_a_480p_source_is_rejected_even_though_conforming_upscaled_it(
    prepared: PreparedSet,
) -> None:
    report = await qa_check(prepared.small_480, QUALITY, expected_duration=4.0)
    assert not report.passed
    assert report.height == 720
    assert report.reasons == ("source height 480p is below min_resolution_height 720p",)


async def test_a_silent_clip_is_rejected_for_silence_and_loudness(prepared: PreparedSet) -> None:
    report = await qa_check(prepared.silent, QUALITY, expected_duration=4.0)
    assert not report.passed
    assert report.silence_ratio is not None and report.silence_ratio > 0.9
    assert any(
        r.startswith("silence ratio 1.00 is above max_silence_ratio") for r in report.reasons
    )
    assert any("from target -16.0" in r for r in report.reasons)


async def test_a_truncated_file_is_rejected_for_decode_errors_and_duration(
    prepared: PreparedSet,
) -> None:
    report = await qa_check(prepared.truncated, QUALITY, expected_duration=12.0)
    assert not report.passed
    assert report.decode_errors > 0
    assert any("decode errors" in r for r in report.reasons)
    assert any("differs from the planned 12.0s" in r for r in report.reasons)


async def test_a_duration_far_from_the_plan_is_rejected(prepared: PreparedSet) -> None:
    report = await qa_check(prepared.conforming, QUALITY, expected_duration=30.0)
    assert report.reasons == (
        "duration 6.0s differs from the planned 30.0s by more than duration_tolerance_sec 5",
    )


async def test_thresholds_come_from_the_policy(prepared: PreparedSet) -> None:
    strict = attrs.evolve(QUALITY, min_resolution_height=1080, max_audio_deviation_lufs=0.01)
    report = await qa_check(prepared.conforming, strict, expected_duration=None)
    assert "output height 720p is below min_resolution_height 1080p" in report.reasons
    assert "source height 720p is below min_resolution_height 1080p" in report.reasons


async def test_an_asset_whose_segments_vanished_is_rejected_not_raised(
    prepared: PreparedSet, tmp_path
) -> None:
    ghost = attrs.evolve(prepared.conforming, dir=tmp_path / "ghost")
    report = await qa_check(ghost, QUALITY, expected_duration=6.0)
    assert not report.passed
    assert any("does not probe" in r for r in report.reasons)


def test_decode_pass_parsing_sums_black_and_silence_and_counts_errors() -> None:
    stderr = "\n".join(
        [
            "[blackdetect @ 0x1] [info] black_start:0 black_end:2 black_duration:2",
            "[blackdetect @ 0x1] [info] black_start:5 black_end:6.5 black_duration:1.5",
            "[silencedetect @ 0x2] [info] silence_end: 3 | silence_duration: 3",
            "[h264 @ 0x3] [error] Invalid NAL unit size",
            "[Parsed_ebur128_0 @ 0x4] [info] Summary:",
            "  Integrated loudness:",
            "    I:         -16.2 LUFS",
            "    Threshold: -26.2 LUFS",
            "  Loudness range:",
            "    LRA:         1.0 LU",
            "  True peak:",
            "    Peak:       -3.0 dBFS",
        ]
    )
    m = parse_decode_pass(stderr, "out_time_us=1000000\nout_time_us=10000000\n", "x")
    assert (m.duration_sec, m.black_sec, m.silence_sec) == (10.0, 3.5, 3.0)
    assert m.loudness is not None and m.loudness.integrated_lufs == -16.2
    assert m.loudness.true_peak_dbtp == -3.0
    assert m.errors == ("[h264 @ 0x3] [error] Invalid NAL unit size",)


async def test_prepared_assets_play_back_to_back_across_discontinuities(
    prepared: PreparedSet, tmp_path
) -> None:
    # What the live playlist does: items one after another, a discontinuity between them.
    items = (prepared.conforming, prepared.full_hd_50, prepared.long_gop)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n, p in enumerate(items):
        if n:
            lines.append("#EXT-X-DISCONTINUITY")
        for s in p.segments:
            lines += [f"#EXTINF:{s.duration_sec:.3f},", str(p.dir / s.path_name)]
    lines.append("#EXT-X-ENDLIST")
    playlist = tmp_path / "joined.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    m = await decode_pass(str(playlist), timeout=60)
    assert m.errors == ()
    expected = sum(p.duration_sec for p in items)
    assert abs(m.duration_sec - expected) < 0.5
    assert (
        m.loudness is not None and abs(m.loudness.integrated_lufs - QUALITY.target_audio_lufs) < 0.5
    )
