"""The small pieces under prepare and QA: the ffmpeg runner, playlist and loudness parsing."""

from __future__ import annotations

import math

import pytest
import trio

from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_tool, stderr_tail
from vvtv.media.loudness import LoudnessMeasure, normalise_filter, parse_ebur128_summary
from vvtv.media.playlist import Segment, fits_target, parse_vod_playlist


async def test_a_missing_tool_is_a_media_error_saying_so() -> None:
    with pytest.raises(MediaError, match="not installed"):
        await run_tool(["vvtv-no-such-ffmpeg", "-version"], timeout=5)


async def test_a_failing_run_reports_exit_code_and_the_end_of_stderr() -> None:
    with pytest.raises(MediaError) as info:
        await run_tool(ffmpeg_args("-i", "/nonexistent/input.mp4", "-f", "null", "-"), timeout=10)
    assert "exited with" in info.value.reason
    assert "/nonexistent/input.mp4" in info.value.stderr_tail


async def test_a_run_over_its_timeout_is_killed_and_reported() -> None:
    endless = ffmpeg_args("-f", "lavfi", "-i", "anullsrc", "-f", "null", "-")
    start = trio.current_time()
    with pytest.raises(MediaError, match=r"timed out after 0\.5s"):
        await run_tool(endless, timeout=0.5, what="endless silence")
    assert trio.current_time() - start < 10


def test_stderr_tail_keeps_the_last_non_empty_lines() -> None:
    assert stderr_tail("a\n\nb\nc\n", lines=2) == "b | c"


def test_playlist_parsing_reads_segments_and_refuses_malformed_ones() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000000,\nseg_00000.ts\n#EXTINF:2.5,\nseg_00001.ts\n#EXT-X-ENDLIST\n"  # noqa: E501
    segments = parse_vod_playlist(text)
    assert segments == (Segment("seg_00000.ts", 6.0), Segment("seg_00001.ts", 2.5))
    assert fits_target(segments, 6)
    assert not fits_target((Segment("a.ts", 6.04),), 6)
    bad = {
        "no header": "seg.ts\n",
        "no EXTINF": "#EXTM3U\nseg.ts\n",
        "bad EXTINF": "#EXTM3U\n#EXTINF:abc,\nseg.ts\n",
        "negative": "#EXTM3U\n#EXTINF:-1,\nseg.ts\n",
        "not local": "#EXTM3U\n#EXTINF:6,\n../other/seg.ts\n",
        "no segments": "#EXTM3U\n#EXT-X-ENDLIST\n",
    }
    for case, body in bad.items():
        with pytest.raises(ValueError, match=r"p\.m3u8"):
            parse_vod_playlist(body, "p.m3u8")
            pytest.fail(f"accepted a playlist with {case}")


def test_ebur128_summary_parsing_and_its_absence() -> None:
    summary = (
        "[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -70.0 LUFS\n"
        "    Threshold:   0.0 LUFS\n\n  Loudness range:\n    LRA:         0.0 LU\n"
        "\n  True peak:\n    Peak:       -inf dBFS\n"
    )
    m = parse_ebur128_summary(summary)
    assert m.is_silent and m.true_peak_dbtp == -math.inf
    with pytest.raises(MediaError, match=r"no summary for clip\.mp4"):
        parse_ebur128_summary("nothing here", "clip.mp4")


def test_normalisation_is_a_plain_gain_unless_peaks_would_pass_the_ceiling() -> None:
    quiet = LoudnessMeasure(-30.0, -20.0, 3.0, -40.0)
    assert normalise_filter(quiet, -16.0, -2.0) == "volume=14.00dB"
    peaky = LoudnessMeasure(-30.0, -3.0, 30.0, -40.0)
    chosen = normalise_filter(peaky, -16.0, -2.0)
    assert chosen is not None and chosen.startswith("loudnorm=I=-16.0:TP=-2.0:LRA=31")
    assert "measured_I=-30.00" in chosen and "linear=true" in chosen
    assert normalise_filter(LoudnessMeasure(-70.0, -math.inf, 0.0, -80.0), -16.0, -2.0) is None
