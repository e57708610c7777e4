"""The small pieces under prepare and QA: the ffmpeg runner, playlist and loudness parsing."""

from __future__ import annotations

import math

import pytest
import trio

from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_tool, stderr_tail
from vvtv.media.loudness import LoudnessMeasure, normalise_filter, parse_ebur128_summary


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
