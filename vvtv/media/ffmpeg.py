"""Running ffmpeg and ffprobe without blocking Trio, with a timeout and a readable error."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import attrs
import trio

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

# ffmpeg's own chatter that says nothing about why a run failed.
_STDERR_TAIL_LINES = 8


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


def ffmpeg_args(*args: str) -> list[str]:
    """ffmpeg with the flags every run wants: no banner, no stdin, no prompts."""
    return [FFMPEG, "-hide_banner", "-nostdin", "-y", *args]
