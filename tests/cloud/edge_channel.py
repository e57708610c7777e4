"""A real channel behind the real edge, in one Trio run: the shared parts of the edge tests.

The daemon runs in the test's own Trio run on the real clock (the edge checks every
signature's time against its own), with real segments (the slate's, looped into
programmes by ``tests.daemon.harness``); the edge is the Worker in workerd on loopback
(``tests.support.edge``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actors.daemon import Daemon
from tests.daemon.harness import looped_asset, make_settings
from tests.support.edge import EdgeWorker
from vvtv.air.live_playlist import LiveWindow
from vvtv.core.messages import AssetReady
from vvtv.core.settings import Settings
from vvtv.core.signing import new_nonce

ITEM_S = 30.0  # one pass of the slate's five 6-s segments: each item starts at PTS 0


def edge_settings(root: Path, slate: Path, edge: EdgeWorker, url: str = "", **env: str) -> Settings:
    """A channel whose cloud is ``edge`` (or ``url``, e.g. a proxy in front of it)."""
    cred = edge.credential()
    return make_settings(
        root,
        slate,
        VVTV_CLOUDFLARE_BASE_URL=url or edge.url,
        VVTV_CLOUDFLARE_TOKEN=cred.token,
        VVTV_CLOUDFLARE_SECRET=cred.secret,
        # These tests watch alerts fire within a minute of boot: no start-up grace.
        VVTV_ALERT_STARTUP_GRACE_SECS="0",
        **env,
    )


async def queue_items(daemon: Daemon, count: int, prefix: str, seconds: float = ITEM_S) -> None:
    """``count`` programmes of ``seconds`` each, handed to the Buffer as the committer does."""
    buffer = daemon.runtime.ref("buffer")
    for i in range(count):
        asset = looped_asset(daemon.ch, f"{prefix}-{i:03d}", seconds)
        await buffer.cast(
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=None,
                title=f"{prefix} {i}",
                theme=f"theme{i % 3}",
                duration_sec=asset.duration_sec,
                planned_start=None,
            )
        )


class OriginNumbers:
    """Every (media sequence → discontinuity sequence) the origin ever gave a segment."""

    def __init__(self, daemon: Daemon) -> None:
        self.live = daemon.ch.live
        self.numbers: dict[int, int] = {}
        self.refs: dict[int, str] = {}  # media sequence -> "<asset_id>/<name>"
        self.windows: list[LiveWindow] = []
        self.stop = self.live.watch(self._seen)
        self._seen()

    def _seen(self) -> None:
        window = self.live.window
        if window is None:
            return
        self.windows.append(window)
        for s in window.segments:
            self.numbers[s.seq] = s.dsn
            self.refs[s.seq] = f"{s.asset_id}/{s.name}"

    @property
    def end(self) -> int:
        return max(self.numbers) + 1 if self.numbers else 0


async def signed(
    client: httpx.AsyncClient,
    edge: EdgeWorker,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    role: str = "control",
    **kw: Any,
) -> httpx.Response:
    headers = edge.headers(method, path, body, role=role, nonce=new_nonce())
    return await client.request(method, path, content=body, headers=headers, **kw)


def edge_playlist_numbers(text: str) -> tuple[int, int, list[str]]:
    """(media sequence, discontinuity sequence, segment URIs) of a playlist."""
    ms = dsn = 0
    uris = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            ms = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            dsn = int(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            uris.append(line)
    return ms, dsn, uris
