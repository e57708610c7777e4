"""A demo library so a newcomer's channel has something to air without anything from outside.

If the demo folder holds no media, ``ensure_demo_library`` makes eight programmes of 12 to
18 minutes (two hours in all, the first-run card's thresholds are set for it: see
``config/owner_card.demo.yaml``), each from ffmpeg's built-in sources (bars, gradients,
fractals, cellular automata, test patterns) with its own theme and tags, written to a
``<name>.json`` sidecar (``title``, ``theme``, ``tags``, what
``vvtv.discover.sources.folder`` reads) and to the container's title/genre metadata. The
audio is a tone at its own pitch and level, so loudness normalisation has something to
measure and fix.

Cheap to make: each programme is a short clip (``loop_seconds``: 24 s, on the frame, audio
frame and segment grid so repeats join exactly) rendered once and repeated to its length by
stream copy, which costs a remux, not an encode. The clips conform to the channel profile, so
preparing them is a remux too. Making the default library takes about 20 s of CPU (the
clips) and a few seconds of disk copying; ``ops/PERFORMANCE.md`` has the measured first run.
The sidecar goes down first and a programme appears under its final name only when
complete, so a folder scan never sees half a library entry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import attrs
import trio

from vvtv.media.generate import loop_clip, render_clip
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
    minutes: float  # the programme's length


# The rendered clip each programme repeats lasts a whole number of video frames, AAC audio
# frames (1024 samples) and segments, so every repeat starts exactly where the last one ended
# (``loop_seconds``: 24 s at 25 fps, 48 kHz, 6 s segments). Off that grid each repeat would
# slip by the audio's last partial frame (11 ms a repeat at 12 s): the frame rate measured
# over the programme drifts off 25 fps, and preparing it becomes an encode, not a remux.
MAX_LOOP_SECONDS = 60
AAC_FRAME_SAMPLES = 1024
# Synthetic pictures need little: a quarter of what conformed programmes get (disk: the
# two hours take about 550 MB as files and as much again once prepared).
DEMO_VIDEO_KBPS = 500

DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip(
        "ocean_gradient", "Ocean Gradient", "nature", ("nature", "calm", "ocean"),
        "gradients=s=640x360:speed=0.02:c0=0x00284f:c1=0x1a9ec0:c2=0x0a5a80:n=3",
        196.0, -18.0, 15.0,
    ),
    DemoClip(
        "forest_light", "Forest Light", "nature", ("nature", "calm", "forest"),
        "gradients=s=640x360:speed=0.015:c0=0x0b3d12:c1=0x6fae3a:c2=0x24501a:type=radial:n=3",
        247.0, -12.0, 12.0,
    ),
    DemoClip(
        "fractal_dive", "Fractal Dive", "science", ("science", "math", "ambient"),
        "mandelbrot=s=320x180:maxiter=100:end_scale=0.05:end_pts=60",
        330.0, -20.0, 18.0,
    ),
    DemoClip(
        "game_of_life", "Game of Life", "science", ("science", "simulation"),
        "life=s=320x180:mold=10:ratio=0.1:death_color=#101840:life_color=#60c0ff",
        392.0, -10.0, 15.0,
    ),
    DemoClip(
        "colour_bars_hour", "Colour Bars Hour", "retro", ("retro", "classic", "calm"),
        "smptehdbars=s=640x360",
        440.0, -16.0, 12.0,
    ),
    DemoClip(
        "pattern_parade", "Pattern Parade", "retro", ("retro", "upbeat"),
        "testsrc2=s=640x360",
        523.0, -14.0, 15.0,
    ),
    DemoClip(
        "rule_110", "Rule 110", "abstract", ("abstract", "ambient", "minimal"),
        "cellauto=s=320x180:rule=110:scroll=1",
        294.0, -22.0, 18.0,
    ),
    DemoClip(
        "night_drift", "Night Drift", "ambient", ("ambient", "calm", "night"),
        "gradients=s=640x360:speed=0.01:c0=0x141450:c1=0x4a3aa0:c2=0x282870:n=3",
        165.0, -15.0, 15.0,
    ),
)  # fmt: skip


def _lcm(a: Fraction, b: Fraction) -> Fraction:
    return Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))


def loop_seconds(profile: ChannelProfile) -> float:
    """How long the repeated clip is for ``profile`` (see ``MAX_LOOP_SECONDS``)."""
    segment = Fraction(profile.segment_seconds)
    exact = _lcm(
        _lcm(Fraction(1, profile.fps), Fraction(AAC_FRAME_SAMPLES, profile.audio_rate)), segment
    )
    if exact <= MAX_LOOP_SECONDS:
        return float(exact)
    # No common grid within a minute (44.1 kHz): whole segments, a few ms of slip a repeat.
    return float(segment * max(1, round(24 / segment)))


def programme_seconds(clip: DemoClip, scale: float = 1.0) -> float:
    """How long ``clip``'s programme lasts at ``scale`` (what the channel will air)."""
    return max(1.0, clip.minutes * 60.0 * scale)


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
    total = programme_seconds(clip, scale)
    loop = loop_seconds(profile)
    out = folder / f"{clip.name}.mp4"
    metadata = {"title": clip.title, "genre": ", ".join(clip.tags)}
    short = total <= loop
    rendered = await render_clip(
        out if short else folder / f".{clip.name}.loop.mp4",
        video=f"{clip.video}:r={profile.fps}",
        audio=(
            f"sine=f={clip.tone_hz:g}:sample_rate={profile.audio_rate},volume={clip.volume_db:g}dB"
        ),
        seconds=total if short else loop,
        profile=profile,
        text=clip.title,
        text_size=max(20, profile.height // 20),
        metadata=metadata,
        video_kbps=DEMO_VIDEO_KBPS,
    )
    if short:
        return rendered
    try:
        return await loop_clip(rendered, out, seconds=total, metadata=metadata)
    finally:
        rendered.unlink(missing_ok=True)


async def ensure_demo_library(
    folder: Path,
    profile: ChannelProfile,
    *,
    clips: Sequence[DemoClip] = DEMO_CLIPS,
    duration_scale: float = 1.0,
    parallel: int = 2,
) -> list[Path]:
    """The media files of ``folder``; if it has none, make ``clips``' programmes in it first.

    ``duration_scale`` shortens every programme (tests use a small one). Raises
    ``MediaError`` when ffmpeg fails; programmes already finished stay (the next call sees
    media and does nothing).
    """
    if duration_scale <= 0:
        raise ValueError(f"duration_scale must be positive, got {duration_scale}")
    if len({c.name for c in clips}) != len(clips):
        raise ValueError("demo clip names must be unique")
    existing = media_files(folder)
    if existing:
        return existing
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in (".*.tmp.*", ".*.loop.mp4"):  # a render interrupted by a crash
        for leftover in folder.glob(pattern):
            leftover.unlink(missing_ok=True)
    limiter = trio.CapacityLimiter(max(1, parallel))

    async def one(clip: DemoClip) -> None:
        async with limiter:
            await _render(folder, clip, profile, duration_scale)

    async with trio.open_nursery() as nursery:
        for clip in clips:
            nursery.start_soon(one, clip)
    return media_files(folder)
