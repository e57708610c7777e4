"""Refused calls, recorded without letting an attacker flood the record.

Every refused control call (a bad token, signature or timestamp, a replay, a body too
large) is counted in the metrics, and the first ``per_minute`` of each kind in a minute are
also logged and audited. The rest of that minute are only counted; the next record of the
kind says how many were left out (``suppressed``), so the audit table grows by at most
``per_minute`` rows per kind per minute whatever the attacker sends, and nothing is lost
from the totals.

The kinds are a small fixed vocabulary (``AuthError.kind`` and a few of the web layer's
own), never anything the caller chose, so the memory this takes is bounded too.
"""

from __future__ import annotations

import attrs

DEFAULT_PER_MINUTE = 10
MINUTE_S = 60.0


@attrs.define
class _Kind:
    minute: int = -1
    recorded: int = 0
    suppressed: int = 0


class RefusalLimiter:
    """Decides which refusals are written down: at most ``per_minute`` per kind."""

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be >= 1, got {per_minute}")
        self.per_minute = per_minute
        self._kinds: dict[str, _Kind] = {}

    def admit(self, kind: str, now: float) -> int | None:
        """A refusal of ``kind`` at unix time ``now``: ``None`` if it must only be counted,
        else how many of the kind were left out since the last one written down."""
        state = self._kinds.setdefault(kind, _Kind())
        minute = int(now // MINUTE_S)
        if minute != state.minute:
            state.minute, state.recorded = minute, 0
        if state.recorded >= self.per_minute:
            state.suppressed += 1
            return None
        state.recorded += 1
        suppressed, state.suppressed = state.suppressed, 0
        return suppressed
