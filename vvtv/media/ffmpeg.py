"""Running ffmpeg and ffprobe without blocking Trio, with a deadline and a readable error.

Two runners. ``run_tool`` is for the short runs (probes, generators): a plain wall-time
timeout. ``run_progressing`` is for the long runs of preparation (the segmenting run, the rung
encode, the decode passes): it reads ffmpeg's ``-progress`` report while the run goes and fails
it for *lack of progress* (``out_time`` not advancing for ``STALL_AFTER_S``), not for being
slow, under a generous overall ceiling (``progress_ceiling``): a channel sharing its machine
with a heavy job prepares slowly instead of dropping its plans to reserves, while a stuck or
hostile input is still killed.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence

import attrs
import trio

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

# ffmpeg's own chatter that says nothing about why a run failed.
_STDERR_TAIL_LINES = 8

# A long run whose output time has not advanced for this long is stuck (an input that never
# delivers, a hung decoder), not slow: ffmpeg reports progress every half second, and at load
# ~20 on 2 cores a 1080p transcode still advanced at a third of real time, a report every few
# seconds. A minute is far past that and still frees a preparation slot quickly.
STALL_AFTER_S = 60.0
# However steadily it progresses, a long run ends by this many times its media's duration
# (never less than CEILING_MIN_S): a pathological file (a timestamp gap of hours, a filter
# crawling forward) cannot hold a preparation slot for ever. 20x is ~7x the slowest transcode
# seen on this machine under load (over 3x real time).
CEILING_PER_MEDIA_S = 20.0
CEILING_MIN_S = 600.0
# The progress report is kept only this far back: its last block is all a caller reads.
_PROGRESS_TAIL_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024


class MediaError(Exception):
    """An ffmpeg/ffprobe run that failed, timed out or could not start.

    ``reason`` is a one-line summary naming the tool and what went wrong; ``stderr_tail`` holds
    the last lines the tool printed, which is where ffmpeg says why.
    """

    def __init__(self, reason: str, stderr_tail: str = "") -> None:
        super().__init__(reason if not stderr_tail else f"{reason}: {stderr_tail}")
        self.reason = reason
        self.stderr_tail = stderr_tail


class ProbeError(Exception):
    """A target that cannot be probed; ``reason`` says what went wrong and with which target.

    Defined here, next to ``MediaError``, so ``vvtv.media.formats`` can refuse a file as
    both; ``vvtv.media.probe`` re-exports it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class ToolResult:
    returncode: int
    stdout: bytes
    stderr: str


def stderr_tail(stderr: str, lines: int = _STDERR_TAIL_LINES) -> str:
    """The last non-empty lines of a tool's stderr, joined with `` | `` for one-line messages."""
    kept = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


async def run_tool(
    args: Sequence[str], *, timeout: float, check: bool = True, what: str = ""
) -> ToolResult:
    """Run ``args`` (``args[0]`` is ``ffmpeg`` or ``ffprobe``) and capture its output.

    Raises ``MediaError`` when the tool is missing, exceeds ``timeout`` seconds, or (with
    ``check``) exits non-zero. Cancellation kills the child: ``trio.run_process`` does that.
    ``what`` names the target in error messages (a path or URL).
    """
    label = f"{args[0]}{f' on {what}' if what else ''}"
    try:
        with trio.fail_after(timeout):
            proc = await trio.run_process(
                list(args),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
    except trio.TooSlowError:
        raise MediaError(f"{label} timed out after {timeout:g}s") from None
    except FileNotFoundError:
        raise MediaError(f"{args[0]} is not installed (not found on PATH)") from None
    err = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise MediaError(f"{label} exited with {proc.returncode}", stderr_tail(err))
    return ToolResult(proc.returncode, proc.stdout, err)


def progress_ceiling(media_sec: float | None) -> float:
    """The overall bound of a long ffmpeg run over ``media_sec`` seconds of media."""
    media = media_sec if media_sec is not None and math.isfinite(media_sec) else 0.0
    return max(CEILING_MIN_S, CEILING_PER_MEDIA_S * max(media, 0.0))


class _Progress:
    """ffmpeg's ``-progress`` report (``key=value`` lines), read as it arrives: the furthest
    ``out_time`` reached, and the report's tail for the caller."""

    def __init__(self) -> None:
        self.out_time_sec: float | None = None
        self._partial = b""
        self.tail = bytearray()

    def feed(self, chunk: bytes | bytearray) -> bool:
        """Take a chunk of the report; True when ``out_time`` advanced."""
        self.tail += chunk
        if len(self.tail) > _PROGRESS_TAIL_BYTES:
            del self.tail[: len(self.tail) - _PROGRESS_TAIL_BYTES]
        lines = (self._partial + bytes(chunk)).split(b"\n")
        self._partial = lines.pop()[-256:]  # a line still arriving (never a long one)
        advanced = False
        for line in lines:
            key, _, value = line.strip().partition(b"=")
            if key != b"out_time_us" or not value.isdigit():  # "N/A" before the first frame
                continue
            seconds = int(value) / 1e6
            if self.out_time_sec is None or seconds > self.out_time_sec:
                self.out_time_sec = seconds
                advanced = True
        return advanced

    def where(self, media_sec: float | None) -> str:
        at = "before any output" if self.out_time_sec is None else f"at {self.out_time_sec:.1f} s"
        return at if not media_sec else f"{at} of {media_sec:.1f} s"


async def run_progressing(
    args: Sequence[str],
    *,
    media_sec: float | None,
    ceiling: float | None = None,
    stall_after: float | None = None,
    check: bool = True,
    what: str = "",
) -> ToolResult:
    """Run a long ffmpeg (``args`` as from ``ffmpeg_args``) that must keep making progress.

    ``-progress pipe:1 -nostats`` is added: ``ToolResult.stdout`` is the tail of that report
    (its last ``out_time_us`` is how far the run got). ``media_sec`` is the duration of the
    media it goes through (None if unknown). Raises ``MediaError`` when ffmpeg's output time
    does not advance for ``stall_after`` seconds (default ``STALL_AFTER_S``), when the whole
    run passes ``ceiling`` (default ``progress_ceiling(media_sec)``), when ffmpeg is missing,
    or (with ``check``) when it exits non-zero. The child is killed on any of those and on
    cancellation, and waited for.
    """
    stall = STALL_AFTER_S if stall_after is None else stall_after
    bound = progress_ceiling(media_sec) if ceiling is None else ceiling
    label = f"{args[0]}{f' on {what}' if what else ''}"
    argv = [args[0], "-progress", "pipe:1", "-nostats", *args[1:]]
    try:
        proc = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise MediaError(f"{args[0]} is not installed (not found on PATH)") from None
    assert proc.stdout is not None and proc.stderr is not None
    progress = _Progress()
    err = bytearray()
    stalled = trio.CancelScope(deadline=trio.current_time() + stall)

    async def read_progress(stream: trio.abc.ReceiveStream) -> None:
        while chunk := await stream.receive_some(_READ_CHUNK):
            if progress.feed(chunk):
                stalled.deadline = trio.current_time() + stall

    async def read_stderr(stream: trio.abc.ReceiveStream) -> None:
        while chunk := await stream.receive_some(_READ_CHUNK):
            err.extend(chunk)

    try:
        with trio.move_on_after(bound) as overall, stalled:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_progress, proc.stdout)
                nursery.start_soon(read_stderr, proc.stderr)
            await proc.wait()
    finally:
        if proc.returncode is None:
            # Killed outright, not asked to stop: whatever it wrote is thrown away, and a
            # stopped (SIGSTOP) or wedged ffmpeg would not act on SIGTERM.
            proc.kill()
            with trio.CancelScope(shield=True):
                await proc.wait()
        with trio.CancelScope(shield=True):
            await proc.stdout.aclose()
            await proc.stderr.aclose()
    text = err.decode("utf-8", "replace")
    if stalled.cancelled_caught:
        raise MediaError(
            f"{label} made no progress for {stall:g} s {progress.where(media_sec)}",
            stderr_tail(text),
        )
    if overall.cancelled_caught:
        raise MediaError(
            f"{label} still running after its ceiling of {bound:g} s {progress.where(media_sec)}",
            stderr_tail(text),
        )
    returncode = proc.returncode
    assert returncode is not None
    if check and returncode != 0:
        raise MediaError(f"{label} exited with {returncode}", stderr_tail(text))
    return ToolResult(returncode, bytes(progress.tail), text)


def ffmpeg_args(*args: str) -> list[str]:
    """ffmpeg with the flags every run wants: no banner, no stdin, no prompts."""
    return [FFMPEG, "-hide_banner", "-nostdin", "-y", *args]
