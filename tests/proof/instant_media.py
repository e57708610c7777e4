"""Instant media: the simulated week's only fake, standing in for ffmpeg and downloads.

It implements ``vvtv.media.port.MediaPort`` so the real actors run unchanged. A media URL
carries what the feed announced about the item in its query string::

    http://127.0.0.1:<port>/media/item42.mp4?dur=612.0&fail=fetch   (the download fails)
    http://127.0.0.1:<port>/media/item43.mp4?dur=540.0&fail=qa      (QA rejects it)

A fetch writes a small "original" whose bytes are unique to the URL (so checksums are
unique, as real downloads' would be); prepare writes ``<hls_root>/<asset_id>/index.m3u8``
and ``prepared.json`` exactly as ``vvtv.media.prepare`` lays them out, with segments
adding up to the announced duration, but no video. Nothing here sleeps: under
``MockClock`` an item is ready the instant it is asked for.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs

from vvtv.core.model import QAReport
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.media.fetch import DEFAULT_PACE, Fetched, FetchError, Pace, UrlCheck
from vvtv.media.playlist import Segment
from vvtv.media.prepare import MANIFEST, PLAYLIST, Prepared, load_prepared
from vvtv.media.probe import HDCheck, ProbeError, ProbeResult
from vvtv.ownercard.card import OwnerCard

HEIGHT = 1080
QA_FAIL_TAG = "simweek:qa-fail"


@attrs.frozen
class Announced:
    """What a media URL says about its item."""

    duration_sec: float
    fail: str  # "", "fetch" or "qa"


def announced(url: str) -> Announced:
    """Read the item's announced duration and failure mode from its URL."""
    query = parse_qs(urlsplit(url).query)
    try:
        duration = float(query["dur"][0])
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{url}: no usable 'dur' query parameter") from exc
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"{url}: duration {duration} is not a positive number")
    return Announced(duration, query.get("fail", [""])[0])


def _url_of(target: str) -> str:
    """The media URL a probe target stands for: itself, the one a head file names, or a
    local file's own ``file://`` URL (a folder source's media)."""
    if "://" in target:
        return target
    path = Path(target)
    if path.suffix != ".json":
        return path.resolve().as_uri()
    return str(json.loads(path.read_text())["url"])


def _source_info(duration: float, tags: tuple[str, ...] = ()) -> ProbeResult:
    return ProbeResult(
        duration_sec=duration,
        width=1920,
        height=HEIGHT,
        fps=25.0,
        video_codec="h264",
        pix_fmt="yuv420p",
        audio_codec="aac",
        audio_rate=48000,
        audio_channels=2,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        title=None,
        tags=tags,
    )


class InstantMedia:
    """A ``MediaPort`` whose assets are ready at once and last what the feed announced."""

    def __init__(self) -> None:
        self.fetches = 0
        self.prepares = 0

    def announced(self, url: str) -> Announced:
        """What the media at ``url`` is (a subclass may know it another way)."""
        return announced(url)

    async def probe(self, target: str, *, timeout: float = 30.0) -> ProbeResult:
        try:
            return _source_info(self.announced(_url_of(target)).duration_sec)
        except (ValueError, OSError, KeyError) as exc:
            raise ProbeError(str(exc)) from exc

    async def confirm_hd(
        self, target: str, min_height: int, *, seconds: float = 2.0, timeout: float = 30.0
    ) -> HDCheck:
        ok = min_height <= HEIGHT
        return HDCheck(ok, "" if ok else f"{HEIGHT}p is below {min_height}p", HEIGHT)

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
        """A local "head" that names its URL: ``probe`` reads what the feed announced."""
        if allowed is not None and not allowed(url):
            raise FetchError("NOT_ALLOWED", f"{url}: host is not allowlisted")
        dest_dir.mkdir(parents=True, exist_ok=True)
        path = dest_dir / f".head-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
        path.write_text(json.dumps({"url": url}))
        return path

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
        self.fetches += 1
        if allowed is not None and not allowed(url):
            raise FetchError("NOT_ALLOWED", f"{url}: host is not allowlisted")
        try:
            item = self.announced(url)
        except ValueError as exc:
            raise FetchError("BAD_URL", str(exc)) from exc
        if item.fail == "fetch":
            raise FetchError("HTTP_404", f"{url}: 404 Not Found (a broken feed entry)")
        body = json.dumps({"url": url, "duration_sec": item.duration_sec, "fail": item.fail})
        data = body.encode()
        if len(data) > max_bytes:
            raise FetchError("TOO_LARGE", f"{url}: {len(data)} bytes over {max_bytes}")
        digest = hashlib.sha256(data).hexdigest()
        dest_dir.mkdir(parents=True, exist_ok=True)
        path = dest_dir / f"{digest[:16]}.mp4"
        path.write_bytes(data)
        return Fetched(path=path, sha256=digest, size_bytes=len(data), content_type="video/mp4")

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

    async def prepare(
        self, source: Path, hls_root: Path, asset_id: str, card: OwnerCard
    ) -> Prepared:
        self.prepares += 1
        original = json.loads(source.read_text())
        duration = float(original["duration_sec"])
        tags = (QA_FAIL_TAG,) if original["fail"] == "qa" else ()
        segments = _segments(duration, float(card.channel.segment_seconds))
        directory = hls_root / asset_id
        directory.mkdir(parents=True, exist_ok=True)
        prepared = Prepared(
            dir=directory,
            segments=segments,
            duration_sec=round(sum(s.duration_sec for s in segments), 3),
            remuxed=True,
            measured=None,
            audio_filter="copy",
            source=_source_info(duration, tags),
        )
        (directory / PLAYLIST).write_text(_playlist(segments, card.channel.segment_seconds))
        manifest = attrs.asdict(prepared, recurse=True)
        manifest["dir"] = directory.name
        (directory / MANIFEST).write_text(json.dumps(manifest))
        return prepared

    async def qa(
        self, prepared: Prepared, card: OwnerCard, expected_duration: float | None
    ) -> QAReport:
        if QA_FAIL_TAG in prepared.source.tags:
            return QAReport(
                passed=False,
                reasons=("integrated loudness -31.0 LUFS is outside -16.0 ± 2.5",),
                width=card.channel.width,
                height=card.channel.height,
                duration_sec=prepared.duration_sec,
                integrated_lufs=-31.0,
            )
        return QAReport(
            passed=True,
            width=card.channel.width,
            height=card.channel.height,
            fps=float(card.channel.fps),
            duration_sec=prepared.duration_sec,
            integrated_lufs=card.quality_policy.target_audio_lufs,
            true_peak_dbtp=-2.0,
            black_ratio=0.0,
            silence_ratio=0.0,
        )

    def load(self, asset_dir: Path) -> Prepared:
        return load_prepared(asset_dir)


def _segments(duration: float, length: float) -> tuple[Segment, ...]:
    count = max(1, math.ceil(duration / length - 1e-9))
    out = []
    for i in range(count):
        seconds = min(length, duration - i * length)
        out.append(Segment(f"seg_{i:05d}.ts", round(seconds, 3)))
    return tuple(out)


def _playlist(segments: tuple[Segment, ...], target: int) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for seg in segments:
        lines += [f"#EXTINF:{seg.duration_sec:.3f},", seg.path_name]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
