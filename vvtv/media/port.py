"""The media port: everything the actors ask of media files, behind one small interface.

``FfmpegMedia`` is the real thing (ffprobe, vetted httpx downloads, ffmpeg prepare and QA).
Probes read local files only: a remote candidate's head is fetched first (``fetch_head``).
Prepare and QA are one call, ``make_ready``, so the QA gate can reuse the audio pass ``prepare``
ran over the source when the asset copied that track (see ``vvtv.media.ready``).
The port exists so the proof can swap in instant media for a simulated week without
touching any actor: nothing else in the channel knows how media is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from vvtv.core.model import QAReport
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.media.fetch import DEFAULT_PACE, Fetched, Pace, UrlCheck, fetch, fetch_head
from vvtv.media.prepare import Prepared, load_prepared, prepare
from vvtv.media.probe import HDCheck, ProbeResult, confirm_hd, probe
from vvtv.media.ready import judge
from vvtv.ownercard.card import OwnerCard


class MediaPort(Protocol):
    async def probe(self, target: str, *, timeout: float = 30.0) -> ProbeResult: ...

    async def confirm_hd(
        self, target: str, min_height: int, *, seconds: float = 2.0, timeout: float = 30.0
    ) -> HDCheck: ...

    async def fetch(
        self,
        url: str,
        dest_dir: Path,
        *,
        max_bytes: int,
        allowed: UrlCheck | None = None,
        addresses: AddressPolicy = STRICT,
        pace: Pace = DEFAULT_PACE,
    ) -> Fetched: ...

    async def fetch_head(
        self,
        url: str,
        dest_dir: Path,
        *,
        max_bytes: int,
        allowed: UrlCheck | None = None,
        addresses: AddressPolicy = STRICT,
        pace: Pace = DEFAULT_PACE,
    ) -> Path:
        """The head of a remote media file in a local file under ``dest_dir``, for
        ``probe``/``confirm_hd`` (which read only local files). The caller deletes it."""
        ...

    async def make_ready(
        self,
        source: Path,
        hls_root: Path,
        asset_id: str,
        card: OwnerCard,
        expected_duration: float | None,
    ) -> tuple[Prepared, QAReport]:
        """Prepare ``source`` into ``<hls_root>/<asset_id>/`` and QA it against the card.

        ``MediaError`` (or ``OSError``) when it cannot be prepared; a bad asset is a failed
        report. Cancelled, it kills its ffmpeg children and leaves nothing published."""
        ...

    def load(self, asset_dir: Path) -> Prepared: ...


class FfmpegMedia:
    """The real media layer: ffprobe/ffmpeg subprocesses and streaming HTTP downloads."""

    async def probe(self, target: str, *, timeout: float = 30.0) -> ProbeResult:
        return await probe(target, timeout=timeout)

    async def confirm_hd(
        self, target: str, min_height: int, *, seconds: float = 2.0, timeout: float = 30.0
    ) -> HDCheck:
        return await confirm_hd(target, min_height, seconds=seconds, timeout=timeout)

    async def fetch(
        self,
        url: str,
        dest_dir: Path,
        *,
        max_bytes: int,
        allowed: UrlCheck | None = None,
        addresses: AddressPolicy = STRICT,
        pace: Pace = DEFAULT_PACE,
    ) -> Fetched:
        return await fetch(
            url, dest_dir, max_bytes=max_bytes, allowed=allowed, addresses=addresses, pace=pace
        )

    async def fetch_head(
        self,
        url: str,
        dest_dir: Path,
        *,
        max_bytes: int,
        allowed: UrlCheck | None = None,
        addresses: AddressPolicy = STRICT,
        pace: Pace = DEFAULT_PACE,
    ) -> Path:
        return await fetch_head(
            url, dest_dir, max_bytes=max_bytes, allowed=allowed, addresses=addresses, pace=pace
        )

    async def make_ready(
        self,
        source: Path,
        hls_root: Path,
        asset_id: str,
        card: OwnerCard,
        expected_duration: float | None,
    ) -> tuple[Prepared, QAReport]:
        prepared = await self.prepare(source, hls_root, asset_id, card)
        return prepared, await self.qa(prepared, card, expected_duration)

    # The two steps of make_ready, apart so a test can step in between (a damaged playlist).

    async def prepare(
        self, source: Path, hls_root: Path, asset_id: str, card: OwnerCard
    ) -> Prepared:
        return await prepare(source, hls_root, asset_id, card.channel, card.quality_policy)

    async def qa(
        self, prepared: Prepared, card: OwnerCard, expected_duration: float | None
    ) -> QAReport:
        return await judge(prepared, card.quality_policy, expected_duration)

    def load(self, asset_dir: Path) -> Prepared:
        return load_prepared(asset_dir)
