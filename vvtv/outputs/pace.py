"""Keeping a push close to the air: how far ahead of real time it may run before it skips.

The push hands ffmpeg whole segments as soon as they are on the live playlist; ffmpeg reads
them at real time (``-re``), so what was handed over and not yet read waits in the pipe.
Normally that is the lead (one or two segments). It grows when the media sent is longer than
the wall time it aired in (a segment cut short by the next item still goes out whole) or
after a stall: left alone, the push would drift ever further behind ``/live``. ``Pace`` says
when the next segment must be skipped instead: the rebaser makes the skip seamless (the next
segment starts a new run), and the push stays within ``max_ahead_s`` of the air.
"""

from __future__ import annotations


class Pace:
    """Decides, segment by segment, whether a push may send one more."""

    def __init__(self, max_ahead_s: float) -> None:
        if not max_ahead_s > 0:
            raise ValueError(f"max_ahead_s must be > 0, got {max_ahead_s!r}")
        self.max_ahead_s = max_ahead_s
        self._origin: float | None = None
        self.skipped = 0

    def ahead_s(self, now: float, sent_s: float) -> float:
        """Seconds of media handed to ffmpeg and not yet due (it reads at real time from the
        first segment on; when starved it catches up at once, so never below 0)."""
        if self._origin is None:
            return 0.0
        return max(0.0, sent_s - (now - self._origin))

    def admit(self, now: float, sent_s: float) -> bool:
        """Whether to send the next segment now (``sent_s``: media seconds sent so far);
        False means skip it, and it is counted."""
        if self._origin is None:
            self._origin = now
            return True
        if self.ahead_s(now, sent_s) > self.max_ahead_s:
            self.skipped += 1
            return False
        return True
