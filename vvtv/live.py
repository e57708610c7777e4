"""What the live stream looks like right now, shared read-only with the HTTP origin.

The Buffer writes it on every tick; the API reads it to serve ``/live/index.m3u8`` and
the segments. It never knows HTTP, and the API never knows the timeline.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import attrs

from vvtv.hls import SEGMENT_NAME


@attrs.define
class LiveView:
    playlist: str = ""
    last_segment_at: datetime | None = None
    _asset_dirs: dict[str, Path] = attrs.field(factory=dict)

    def publish(self, playlist: str, asset_dirs: dict[str, Path], newest: datetime) -> None:
        self.playlist = playlist
        self._asset_dirs = asset_dirs
        self.last_segment_at = newest

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        """The file of a segment in the live window; None for anything else.

        Only assets currently on the timeline are served, and only plain segment names,
        so no request can reach outside the prepared assets' folders.
        """
        directory = self._asset_dirs.get(asset_id)
        if directory is None or not SEGMENT_NAME.match(name) or ".." in name:
            return None
        if not name.endswith(".ts"):
            return None
        path = directory / name
        return path if path.is_file() else None
