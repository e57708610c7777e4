"""The ffmpeg of one push: its command line, its option file, and what it reports.

The push reads one continuous MPEG-TS stream on its standard input (``vvtv.outputs.rebase``),
paces it to real time (``-re``), copies it without re-encoding (prepared assets already match
the channel profile) into FLV for RTMP(S) or MPEG-TS for SRT, and reports its progress as
``key=value`` blocks on its standard output (``-progress pipe:1``).

**The stream key never reaches the command line.** Every user of the machine can read a
process's arguments (``ps``, ``/proc/<pid>/cmdline``). ffmpeg 5.1 (Debian 12) reads output
options from a preset file (``-fpre FILE``: ``option=value`` lines, applied to the output
like command-line options, stream protocol options included); newer ffmpeg also has
``-/option FILE``. The push gives it ``-fpre /dev/fd/N``: a pipe the daemon wrote the key
into and closed before ffmpeg started, inherited as descriptor N only. Nothing is written to
disk, the pipe is empty once ffmpeg has read it, and ``/proc/<pid>/fd`` is private to the
process's owner. What remains (see ops/runbook.md, "Push outputs"): the key is in the memory
of the daemon and of its ffmpeg (readable by the same user and by root, as any secret a
process uses), and plain ``rtmp://`` sends it unencrypted (``rtmps://`` does not).
ffmpeg logs preset lines only at ``-loglevel debug``; the push runs at ``warning``, and
everything it logs is passed through ``redact`` anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from vvtv.outputs.targets import Target

PROGRESS_PERIOD_S = 0.5  # also how precisely "connected since" is known
# The first segments arrive at once: 2 s of probing finds both streams of an MPEG-TS segment.
PROBE_US = 2_000_000
REDACTED = "***"


class OptionFileError(ValueError):
    """A value that cannot be one line of an ffmpeg preset file."""


def push_args(target: Target, *, option_fd: int | None, ffmpeg: str = "ffmpeg") -> list[str]:
    """The ffmpeg command line for ``target``; ``option_fd``: the descriptor of its option file
    (required when the target has secrets)."""
    if target.secrets and option_fd is None:
        raise ValueError(f"output {target.name}: its secrets need an option file descriptor")
    args = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-stats_period", f"{PROGRESS_PERIOD_S:g}",
        "-re", "-f", "mpegts", "-analyzeduration", str(PROBE_US), "-probesize", "2000000",
        "-i", "pipe:0",
        "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
    ]  # fmt: skip
    if target.muxer == "flv":
        # A live FLV has no end to seek back to for its duration and size.
        args += ["-f", "flv", "-flvflags", "no_duration_filesize"]
    else:
        args += ["-f", "mpegts"]
    for name, value in target.options:
        args += [f"-{name}", value]
    if target.secrets:
        args += ["-fpre", f"/dev/fd/{option_fd}"]
    args.append(target.url)
    return args


def option_file(options: Iterable[tuple[str, str]]) -> bytes:
    """``name=value`` lines as ffmpeg's preset reader takes them (one line each, 1,000 bytes
    at most, no line starting with ``#``)."""
    lines = []
    for name, value in options:
        line = f"{name}={value}"
        if any(c in line for c in "\r\n\0") or len(line.encode()) >= 1000 or not name:
            raise OptionFileError(f"option {name!r} cannot be a line of an ffmpeg option file")
        lines.append(line)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so a key that contains
    another is hidden whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


@attrs.frozen
class Progress:
    """One ``-progress`` block: bytes written to the output so far and media time muxed."""

    total_size: int
    out_time_s: float
    ended: bool


class ProgressReader:
    """Turns ffmpeg's ``-progress`` lines into ``Progress`` values, one per block."""

    def __init__(self) -> None:
        self._block: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._block[key] = value.strip()
        if key != "progress":
            return None
        block, self._block = self._block, {}
        return Progress(
            total_size=_int(block.get("total_size")),
            out_time_s=_int(block.get("out_time_us")) / 1e6,
            ended=value.strip() == "end",
        )


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:  # "N/A" before the first packet
        return 0
