"""What each push output is doing, shared by its actor, the API, the alerts and the metrics.

``OutputBoard`` outlives the actors (like the alert board): ``/v1/outputs``, the dashboard
and the ``runtime`` websocket keep showing an output while its actor restarts, and the
Alerter reads how long each enabled output has been down (``OUTPUT_DOWN``). Each push writes
its own ``OutputState``; nothing here holds a secret (URLs are shown as ``display_url``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

import attrs

from vvtv.core.convert import format_datetime

#: What an output is doing: not meant to push; trying to connect; pushing; lost and waiting
#: to try again; removed from the card (its actor stays until the outputs are rebuilt).
STATUSES = ("disabled", "connecting", "connected", "retrying", "removed")


@attrs.define
class OutputState:
    name: str
    url: str = ""  # display_url: scheme://host:port/application
    protocol: str = ""
    enabled: bool = False  # in effect: the control override if any, else the card
    override: bool | None = None  # set by the signed control call; None: the card decides
    status: str = "disabled"
    connected_since: datetime | None = None
    down_since: datetime | None = None  # enabled and not connected since then
    bitrate_kbps: float = 0.0
    bytes_sent: int = 0
    reconnects: int = 0  # connections made again after one was lost
    failures: int = 0  # attempts that ended in an error
    segments_sent: int = 0
    segments_skipped: int = 0  # to stay close to the air (vvtv.outputs.pace)
    segments_dropped: int = 0  # unusable for a continuous stream (vvtv.outputs.rebase)
    last_error: str = ""
    last_error_at: datetime | None = None

    @property
    def connected(self) -> bool:
        return self.status == "connected"

    def down_for(self, now: datetime) -> float | None:
        """Seconds an enabled output has not been connected; None when up or not enabled."""
        if not self.enabled or self.connected or self.down_since is None:
            return None
        return max(0.0, (now - self.down_since).total_seconds())

    def view(self, now: datetime) -> dict[str, Any]:
        """The JSON shape of ``/v1/outputs`` items."""
        uptime = (now - self.connected_since).total_seconds() if self.connected_since else 0.0
        down = self.down_for(now)
        return {
            "name": self.name,
            "url": self.url,
            "protocol": self.protocol,
            "enabled": self.enabled,
            "override": self.override,
            "status": self.status,
            "connected": self.connected,
            "connected_since": _time(self.connected_since),
            "uptime_s": round(max(0.0, uptime), 1) if self.connected else 0.0,
            "down_s": None if down is None else round(down, 1),
            "bitrate_kbps": round(self.bitrate_kbps, 1),
            "bytes_sent": self.bytes_sent,
            "reconnects": self.reconnects,
            "failures": self.failures,
            "segments_sent": self.segments_sent,
            "segments_skipped": self.segments_skipped,
            "segments_dropped": self.segments_dropped,
            "last_error": self.last_error,
            "last_error_at": _time(self.last_error_at),
        }


def _time(at: datetime | None) -> str | None:
    return format_datetime(at) if at is not None else None


class OutputBoard:
    """Every push output's state by name, in the card's order."""

    def __init__(self) -> None:
        self._states: dict[str, OutputState] = {}
        # When the outputs were last rebuilt for a card change (Trio clock): the board outlives
        # each rebuild, so the roster keeps its rate limit here (``actors.outputs.Roster``).
        self.rebuilt_at: deque[float] = deque()

    def state(self, name: str) -> OutputState:
        """The state of ``name``, created (disabled) on first use."""
        found = self._states.get(name)
        if found is None:
            found = self._states[name] = OutputState(name)
        return found

    def names(self) -> list[str]:
        return list(self._states)

    def get(self, name: str) -> OutputState | None:
        return self._states.get(name)

    def keep(self, names: list[str]) -> None:
        """Forget outputs no longer configured, and follow the card's order."""
        self._states = {n: self._states[n] for n in names if n in self._states}

    def view(self, now: datetime) -> list[dict[str, Any]]:
        return [s.view(now) for s in self._states.values()]

    def down(self, now: datetime) -> dict[str, float]:
        """Seconds each enabled output has been down, for ``OUTPUT_DOWN``."""
        out = {}
        for name, state in self._states.items():
            down = state.down_for(now)
            if down is not None:
                out[name] = down
        return out
