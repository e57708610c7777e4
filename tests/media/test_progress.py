"""Long ffmpeg runs fail for lack of progress, not for being slow (``run_progressing``).

Real ffmpeg processes throughout: one reading a named pipe that stops delivering (the hostile
input), one stopped with SIGSTOP, one slower than its stall bound but progressing. Simulated time
where the run has nothing to race: the real one-minute stall bound on a pipe that never opens.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio

from tests.media.test_prepare import processes_mentioning
from tests.support.waiting import wait_until
from vvtv.media.decode import decode_pass
from vvtv.media.ffmpeg import (
    CEILING_MIN_S,
    STALL_AFTER_S,
    MediaError,
    ffmpeg_args,
    progress_ceiling,
    run_progressing,
    run_tool,
)
from vvtv.media.formats import own_hls_input


def _real_time_input(seconds: float | None) -> list[str]:
    """A tiny lavfi picture read at its native rate (``-re``): progress every half second."""
    d = "" if seconds is None else f":d={seconds}"
    return ["-re", "-f", "lavfi", "-i", f"testsrc=s=64x36:r=10{d}"]


async def test_a_run_slower_than_the_stall_bound_but_progressing_completes() -> None:
    args = ffmpeg_args(*_real_time_input(2.5), "-f", "null", "-")
    start = trio.current_time()
    result = await run_progressing(args, media_sec=2.5, stall_after=1.0, what="slow clip")
    assert trio.current_time() - start > 1.0  # longer than the stall bound, in all
    assert result.returncode == 0
    assert b"out_time_us=2500000" in result.stdout  # the report's tail: how far it got


async def test_an_input_that_stops_delivering_is_killed_saying_where(tmp_path: Path) -> None:
    # A 4 s playlist of two segments whose second is a named pipe nobody writes: ffmpeg reads
    # the first (at its native rate, ~2 s) and then waits for ever to open the second.
    await run_tool(
        ffmpeg_args("-f", "lavfi", "-i", "testsrc=s=64x36:r=10:d=4", "-c:v", "mpeg2video",
                    "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(tmp_path / "seg_%05d.ts"),
                    str(tmp_path / "index.m3u8")),
        timeout=30,
    )  # fmt: skip
    hostile = tmp_path / "seg_00001.ts"
    hostile.unlink()
    os.mkfifo(hostile)
    playlist = tmp_path / "index.m3u8"
    args = ffmpeg_args("-re", *own_hls_input(playlist), "-f", "null", "-")
    with pytest.raises(MediaError) as info:
        await run_progressing(args, media_sec=4.0, stall_after=1.0, what=str(playlist))
    reason = info.value.reason
    assert reason.startswith(f"ffmpeg on {playlist} made no progress for 1 s at ")
    at = float(reason.split(" at ")[1].split(" s of ")[0])
    assert 1.0 <= at <= 2.5 and reason.endswith(" s of 4.0 s")
    assert "seg_00001.ts" in info.value.stderr_tail  # where it stopped: ffmpeg's last words
    assert processes_mentioning(str(playlist)) == []


async def test_a_stopped_ffmpeg_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "stopped.nut"
    args = ffmpeg_args(*_real_time_input(None), "-c:v", "rawvideo", "-f", "nut", str(out))
    async with trio.open_nursery() as nursery:

        async def stop_it() -> None:
            (pid,) = await wait_until("ffmpeg started", lambda: processes_mentioning(str(out)))
            os.kill(pid, signal.SIGSTOP)

        nursery.start_soon(stop_it)
        with pytest.raises(MediaError, match=r"made no progress for 1 s"):
            await run_progressing(args, media_sec=None, stall_after=1.0, what="stopped")
    assert processes_mentioning(str(out)) == []


async def test_a_progressing_run_still_ends_at_its_ceiling(tmp_path: Path) -> None:
    out = tmp_path / "endless.nut"
    args = ffmpeg_args(*_real_time_input(None), "-c:v", "rawvideo", "-f", "nut", str(out))
    with pytest.raises(MediaError, match=r"still running after its ceiling of 1\.5 s at \d"):
        await run_progressing(args, media_sec=None, ceiling=1.5, what="endless")
    assert processes_mentioning(str(out)) == []


async def test_cancellation_kills_the_child(tmp_path: Path) -> None:
    out = tmp_path / "cancelled.nut"
    args = ffmpeg_args(*_real_time_input(None), "-c:v", "rawvideo", "-f", "nut", str(out))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_progressing(args, media_sec=None, what="cancelled"))
        await wait_until("ffmpeg started", lambda: processes_mentioning(str(out)))
        nursery.cancel_scope.cancel()
    assert processes_mentioning(str(out)) == []


async def test_the_qa_pass_over_a_segment_that_never_opens_stalls_in_a_minute(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A prepared playlist whose segment is a named pipe nobody writes: ffmpeg blocks opening it.
    os.mkfifo(tmp_path / "seg_00000.ts")
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"
    )
    start = trio.current_time()
    with pytest.raises(MediaError) as info:
        await decode_pass(playlist, timeout=3600, media_sec=6.0, check=True)
    assert info.value.reason == (
        f"ffmpeg on {playlist} made no progress for {STALL_AFTER_S:g} s before any output of 6.0 s"
    )
    assert trio.current_time() - start == pytest.approx(STALL_AFTER_S, abs=1)
    assert processes_mentioning(str(playlist)) == []


async def test_missing_ffmpeg_and_a_failing_run_are_media_errors() -> None:
    with pytest.raises(MediaError, match="not installed"):
        await run_progressing(["vvtv-no-such-ffmpeg"], media_sec=1.0)
    args = ffmpeg_args("-i", "/nonexistent/input.mp4", "-f", "null", "-")
    with pytest.raises(MediaError, match="exited with") as info:
        await run_progressing(args, media_sec=1.0)
    assert "/nonexistent/input.mp4" in info.value.stderr_tail
    assert (await run_progressing(args, media_sec=1.0, check=False)).returncode != 0


def test_the_ceiling_grows_with_the_media_and_has_a_floor() -> None:
    assert progress_ceiling(None) == progress_ceiling(0.0) == CEILING_MIN_S
    assert progress_ceiling(float("nan")) == CEILING_MIN_S
    assert progress_ceiling(3600.0) == 20 * 3600.0
