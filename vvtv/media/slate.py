"""The slate: what airs when nothing else can (SPEC §1.6 fallback level 3).

Made locally at start-up, once: colour bars with "vvtv — we'll be right back" and a soft tone
normalised to the channel's loudness target, prepared and segmented like any asset under the
reserved asset id ``slate`` so the live playlist can loop it. Its length is a whole number of
segments, so every loop starts on a segment boundary.
"""

from __future__ import annotations

import math
import shutil
import uuid
from pathlib import Path

from vvtv.media.ffmpeg import MediaError
from vvtv.media.generate import render_clip
from vvtv.media.prepare import SLATE_ASSET_ID, Prepared, load_prepared, prepare
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

SLATE_TEXT = "vvtv — we'll be right back"
SLATE_MIN_SECONDS = 30


def slate_seconds(profile: ChannelProfile) -> int:
    seg = profile.segment_seconds
    return seg * math.ceil(SLATE_MIN_SECONDS / seg)


def _usable(prepared: Prepared, profile: ChannelProfile) -> bool:
    """An existing slate still fits the profile (it may have changed since it was made)."""
    src = prepared.source
    seg = profile.segment_seconds
    return (
        (src.width, src.height) == (profile.width, profile.height)
        and src.fps is not None
        and abs(src.fps - profile.fps) < 0.01
        and all(s.duration_sec <= seg + 1e-3 for s in prepared.segments)
        and all((prepared.dir / s.path_name).is_file() for s in prepared.segments)
        # the rungs the card asks for (``channel.renditions``): made with the slate
        and {r.name for r in profile.renditions} <= set(prepared.rungs)
    )


async def ensure_slate(
    hls_root: Path, profile: ChannelProfile, quality: QualityPolicy | None = None
) -> Prepared:
    """The prepared slate under ``<hls_root>/slate/``, made now if missing or out of date."""
    quality = quality or QualityPolicy()
    existing = hls_root / SLATE_ASSET_ID
    if existing.is_dir():
        try:
            prepared = load_prepared(existing)
        except MediaError:
            prepared = None
        if prepared is not None and _usable(prepared, profile):
            return prepared
    hls_root.mkdir(parents=True, exist_ok=True)
    scratch = hls_root / f".tmp-slate-source-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        source = await render_clip(
            scratch / "slate.mp4",
            video=f"smptehdbars=s={profile.width}x{profile.height}:r={profile.fps}",
            audio=f"sine=f=440:sample_rate={profile.audio_rate}",
            seconds=slate_seconds(profile),
            profile=profile,
            text=SLATE_TEXT,
            text_size=max(24, profile.height // 14),
            text_y="(h-th)/2",
            metadata={"title": "vvtv slate"},
        )
        return await prepare(source, hls_root, SLATE_ASSET_ID, profile, quality)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
