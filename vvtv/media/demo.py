"""A demo library so a newcomer's channel has something to air without anything from outside.

If the demo folder holds no media, ``ensure_demo_library`` renders a handful of short clips with
ffmpeg's built-in sources (bars, gradients, fractals, cellular automata, test patterns), each with
a different theme and tags written to a ``<name>.json`` sidecar (``title``, ``theme``, ``tags``,
what ``vvtv.discover.sources.folder`` reads) and to the container's title/genre metadata.
The audio is a tone at its own pitch and level, so loudness normalisation has something
to measure and fix.

The clips conform to the channel profile, so preparing them is a remux. Generating the default
library (8 clips, 3 min 20 s of programme) took about 30–50 s on this 2-core machine, two clips
at a time; the sidecar goes down first and the clip appears under its final name only when
complete, so a folder scan never sees half a library entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

from vvtv.media.generate import render_clip
from vvtv.ownercard.card import ChannelProfile

# Kept in step with vvtv.discover.sources.folder.MEDIA_EXTENSIONS (not imported: media sits
# below discover).
_MEDIA_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mkv", ".mov", ".webm", ".ts", ".mts", ".m2ts", ".avi", ".mpg", ".mpeg"}
)


@attrs.frozen
class DemoClip:
    name: str  # file stem
    title: str
    theme: str
    tags: tuple[str, ...]
    video: str  # a lavfi source chain at any size: it is scaled to the profile
    tone_hz: float
    volume_db: float  # deliberately off-target, so normalisation shows
    seconds: float


DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip(
        "ocean_gradient", "Ocean Gradient", "nature", ("nature", "calm", "ocean"),
        "gradients=s=640x360:speed=0.02:c0=0x00284f:c1=0x1a9ec0:c2=0x0a5a80:n=3",
        196.0, -18.0, 28.0,
    ),
    DemoClip(
        "forest_light", "Forest Light", "nature", ("nature", "calm", "forest"),
        "gradients=s=640x360:speed=0.015:c0=0x0b3d12:c1=0x6fae3a:c2=0x24501a:type=radial:n=3",
        247.0, -12.0, 24.0,
    ),
    DemoClip(
        "fractal_dive", "Fractal Dive", "science", ("science", "math", "ambient"),
        "mandelbrot=s=320x180:maxiter=100:end_scale=0.05:end_pts=60",
        330.0, -20.0, 20.0,
    ),
    DemoClip(
        "game_of_life", "Game of Life", "science", ("science", "simulation"),
        "life=s=320x180:mold=10:ratio=0.1:death_color=#101840:life_color=#60c0ff",
        392.0, -10.0, 24.0,
    ),
    DemoClip(
        "colour_bars_hour", "Colour Bars Hour", "retro", ("retro", "classic", "calm"),
        "smptehdbars=s=640x360",
        440.0, -16.0, 20.0,
    ),
    DemoClip(
        "pattern_parade", "Pattern Parade", "retro", ("retro", "upbeat"),
        "testsrc2=s=640x360",
        523.0, -14.0, 24.0,
    ),
    DemoClip(
        "rule_110", "Rule 110", "abstract", ("abstract", "ambient", "minimal"),
        "cellauto=s=320x180:rule=110:scroll=1",
        294.0, -22.0, 28.0,
    ),
    DemoClip(
        "night_drift", "Night Drift", "ambient", ("ambient", "calm", "night"),
        "gradients=s=640x360:speed=0.01:c0=0x141450:c1=0x4a3aa0:c2=0x282870:n=3",
        165.0, -15.0, 32.0,
    ),
)  # fmt: skip


def media_files(folder: Path) -> list[Path]:
    """Visible media files directly in ``folder``, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _MEDIA_SUFFIXES
    )


def sidecar_of(clip: DemoClip) -> dict[str, object]:
    return {"title": clip.title, "theme": clip.theme, "tags": list(clip.tags), "demo": True}


async def _render(folder: Path, clip: DemoClip, profile: ChannelProfile, scale: float) -> Path:
    sidecar = folder / f"{clip.name}.json"
    sidecar.write_text(json.dumps(sidecar_of(clip), indent=1) + "\n", encoding="utf-8")
    return await render_clip(
        folder / f"{clip.name}.mp4",
        video=f"{clip.video}:r={profile.fps}",
        audio=(
            f"sine=f={clip.tone_hz:g}:sample_rate={profile.audio_rate},volume={clip.volume_db:g}dB"
        ),
        seconds=max(1.0, clip.seconds * scale),
        profile=profile,
        text=clip.title,
        text_size=max(20, profile.height // 20),
        metadata={"title": clip.title, "genre": ", ".join(clip.tags)},
    )


async def ensure_demo_library(
    folder: Path,
    profile: ChannelProfile,
    *,
    clips: Sequence[DemoClip] = DEMO_CLIPS,
    duration_scale: float = 1.0,
    parallel: int = 2,
) -> list[Path]:
    """The media files of ``folder``; if it has none, render ``clips`` into it first.

    ``duration_scale`` shortens every clip (tests use a small one). Raises ``MediaError`` when
    ffmpeg fails; clips already finished stay (the next call sees media and does nothing).
    """
    if duration_scale <= 0:
        raise ValueError(f"duration_scale must be positive, got {duration_scale}")
    if len({c.name for c in clips}) != len(clips):
        raise ValueError("demo clip names must be unique")
    existing = media_files(folder)
    if existing:
        return existing
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.tmp.*"):  # a render interrupted by a crash
        leftover.unlink(missing_ok=True)
    limiter = trio.CapacityLimiter(max(1, parallel))

    async def one(clip: DemoClip) -> None:
        async with limiter:
            await _render(folder, clip, profile, duration_scale)

    async with trio.open_nursery() as nursery:
        for clip in clips:
            nursery.start_soon(one, clip)
    return media_files(folder)
