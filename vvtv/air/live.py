"""What the live stream looks like right now, shared read-only with the HTTP origin.

The Buffer writes it on every tick; the API reads it to serve ``/live/index.m3u8`` and
the segments, and the edge publisher (``vvtv.edge``) reads the numbered window to upload
it. It never knows HTTP, and the API never knows the timeline. ``watch`` registers a
callback run (synchronously, by the Buffer) whenever the playlist changes: a reader
wakes when there is something new instead of polling.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from vvtv.air.live_playlist import LiveWindow
from vvtv.core.convert import parse_datetime
from vvtv.media.playlist import is_segment_name


@attrs.frozen
class RungPlaylist:
    """A lower rung's live playlist (``vvtv.air.live_playlist.rung_window``): its text, the
    window it lists (segment names are the rung's, or the main ones where an asset has no
    rung: ``fallback`` of them)."""

    playlist: str
    window: LiveWindow
    fallback: int = 0


@attrs.define
class LiveView:
    playlist: str = ""
    last_segment_at: datetime | None = None
    window: LiveWindow | None = None  # the numbered segments ``playlist`` lists
    target_duration: int = 0  # the playlist's EXT-X-TARGETDURATION
    # The master playlist (``vvtv.air.master``) and the lower rungs' playlists by name
    # (``480p``); with no rung the master lists the main rendition alone.
    master: str = ""
    rungs: dict[str, RungPlaylist] = attrs.field(factory=dict)
    _asset_dirs: dict[str, Path] = attrs.field(factory=dict)
    _watchers: list[Callable[[], None]] = attrs.field(factory=list)

    def publish(
        self,
        playlist: str,
        asset_dirs: dict[str, Path],
        newest: datetime,
        *,
        window: LiveWindow | None = None,
        target_duration: int = 0,
        master: str = "",
        rungs: dict[str, RungPlaylist] | None = None,
    ) -> None:
        changed = playlist != self.playlist or master != self.master
        self.playlist = playlist
        self.master = master
        self.rungs = rungs or {}
        self._asset_dirs = asset_dirs
        self.last_segment_at = newest
        self.window = window
        self.target_duration = target_duration
        if changed:
            for watcher in list(self._watchers):
                watcher()

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every change of the playlist; returns the way to stop.

        It runs inside the Buffer's tick: it must be quick and must not raise (set an
        event, no I/O)."""
        self._watchers.append(callback)

        def stop() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)

        return stop

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        """The file of a segment in the live window; None for anything else.

        Only assets currently on the timeline are served, and only plain segment names,
        so no request can reach outside the prepared assets' folders.
        """
        directory = self._asset_dirs.get(asset_id)
        if directory is None or not is_segment_name(name):
            return None
        if not name.endswith(".ts"):
            return None
        path = directory / name
        return path if path.is_file() else None


def aged_status(status: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A published buffer status as it stands at ``now``.

    Unwatched, the Buffer publishes at segment boundaries only (up to one segment apart).
    Items start and end on those boundaries, so in between nothing changes but the clock:
    the item on air has played longer, the ready content ahead has drained by as much,
    and the newest segment is older. Readers age the last status instead of waking the
    Buffer every second for nobody.
    """
    published = status.get("timestamp")
    age = (now - parse_datetime(published)).total_seconds() if published else 0.0
    aged = {**status, "timestamp": now.isoformat()}
    if age <= 0:
        return aged
    for key in ("buffer_minutes", "air_covered_minutes"):
        if isinstance(status.get(key), int | float):
            aged[key] = round(max(0.0, status[key] - age / 60.0), 3)
    if isinstance(status.get("last_segment_age_s"), int | float):
        aged["last_segment_age_s"] = round(status["last_segment_age_s"] + age, 3)
    playing = status.get("now_playing")
    if isinstance(playing, dict):
        aged["now_playing"] = {
            **playing,
            "elapsed_s": round(playing.get("elapsed_s", 0.0) + age, 3),
            "remaining_s": round(max(0.0, playing.get("remaining_s", 0.0) - age), 3),
        }
    return aged
