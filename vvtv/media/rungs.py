"""The lower rungs of an asset (``channel.renditions``): made from its prepared main rendition.

A player switches between renditions of a live stream by media sequence number, so a rung is
only usable if its segments start exactly where the main rendition's do: same count, same
durations. Each rung is therefore encoded *from the prepared main output* (its own HLS, read
back with the narrow whitelist of ``own_hls_input``), never from the source:

- timestamps are kept (``-copyts``, no frame-rate conversion, a 90 kHz encoder time base), so
  the rung's frames carry the main rendition's presentation times;
- x264 puts a keyframe at each of the main segments' start times and nowhere else
  (``-force_key_frames`` at the cumulative EXTINF times from the first video timestamp; no
  GOP or scene-cut keyframes), and the HLS muxer, asked for segments far shorter than any,
  cuts at every keyframe: the rung's segments are the main's;
- the audio is the main rendition's (already normalised), copied.

The rung lands in the asset's own directory as ``<name>.m3u8`` and ``<name>_00000.ts``…
(``480p.m3u8``): plain segment names the live origin and the edge already serve, inside the
directory ``prepare`` builds aside and renames into place, so a crash never leaves an asset
with half a rung. ``check_aligned`` (also the QA gate's and the Buffer's check) refuses a rung
whose segments do not line up, naming the first that differs.

Cost (``ops/bench/outputs.py``, ops/PERFORMANCE.md): one decode of the main rendition's video
and one 480p encode, about 0.15 CPU second per second of programme: x4 the preparation of a
remuxed source, x1.6 of a transcoded one.
"""

from __future__ import annotations

import math
from pathlib import Path

from vvtv.media.ffmpeg import FFPROBE, MediaError, ffmpeg_args, run_progressing, run_tool
from vvtv.media.formats import PROTOCOL_WHITELIST, own_hls_input
from vvtv.media.playlist import Segment, parse_vod_playlist
from vvtv.ownercard.card import ChannelProfile, Rendition, rung_width

# The HLS muxer cuts at the first keyframe past each multiple of this: far shorter than any
# segment, so it cuts at every keyframe, and there is one per main segment start.
_CUT_EVERY_S = "0.05"
# A keyframe is forced on the first frame at or after its time: ask a millisecond early so
# float rounding of the cumulative EXTINF sums never pushes it to the next frame.
_EARLY_S = 0.001
# Longer lists would not fit one argument (Linux: 128 KiB): ~9,000 segments, 15 h at 6 s.
MAX_KEYFRAME_ARG = 120_000
_NO_GOP = "1000000"  # keyframes only where forced
# Reading one video timestamp from one segment: a short probe, not a long run.
_PROBE_TIMEOUT_S = 60.0


class RungError(MediaError):
    """A rung that could not be made, or whose segments do not line up with the main ones."""


def rung_playlist(asset_dir: Path, rung: Rendition) -> Path:
    return asset_dir / f"{rung.name}.m3u8"


def rung_segment_pattern(rung: Rendition) -> str:
    return f"{rung.name}_%05d.ts"


#: How far a rung segment's duration may be from the main one's: both are cut on the same
#: frames' timestamps (90 kHz), so they agree to the microsecond; this is well under half a
#: frame at any channel frame rate (8 ms at 60 fps).
ALIGN_TOLERANCE_S = 0.005


def rung_name_height(name: str) -> int | None:
    """480 for ``480p`` (a rung's name); None for anything else."""
    digits = name.removesuffix("p")
    return int(digits) if name.endswith("p") and digits.isdigit() else None


def check_aligned(
    main: tuple[Segment, ...], rung: tuple[Segment, ...], tolerance: float, what: str
) -> None:
    """RungError unless ``rung`` has the segments of ``main``: same count, same durations."""
    if len(rung) != len(main):
        raise RungError(
            f"{what}: {len(rung)} segments, the main rendition has {len(main)} "
            "(a player could not switch between them)"
        )
    start = 0.0
    for i, (m, r) in enumerate(zip(main, rung, strict=True)):
        if abs(m.duration_sec - r.duration_sec) > tolerance:
            raise RungError(
                f"{what}: segment {i} ({r.path_name}) lasts {r.duration_sec:.6f} s where the "
                f"main one ({m.path_name}) lasts {m.duration_sec:.6f} s, at {start:.3f} s"
            )
        start += m.duration_sec


def read_rung(asset_dir: Path, rung: Rendition) -> tuple[Segment, ...]:
    """The segments of a made rung; RungError if its playlist is missing or malformed."""
    playlist = rung_playlist(asset_dir, rung)
    try:
        return parse_vod_playlist(playlist.read_text(), str(playlist))
    except (OSError, ValueError) as exc:
        raise RungError(f"rung {rung.name}: {exc}") from exc


def keyframe_times(first_pts: float, segments: tuple[Segment, ...]) -> list[float]:
    """Where each main segment after the first starts, in the main rendition's timestamps."""
    times, t = [], first_pts
    for s in segments[:-1]:
        t += s.duration_sec
        times.append(t)
    return times


async def first_video_pts(segment: Path, timeout: float) -> float:
    """The presentation time of the first video frame of one of our own TS segments."""
    args = [
        FFPROBE, "-v", "error",
        "-protocol_whitelist", PROTOCOL_WHITELIST, "-format_whitelist", "mpegts",
        "-f", "mpegts", "-i", str(segment),
        "-select_streams", "v:0", "-read_intervals", "%+#1",
        "-show_entries", "packet=pts_time", "-of", "csv=p=0",
    ]  # fmt: skip
    try:
        result = await run_tool(args, timeout=timeout, what=str(segment))
    except MediaError as exc:
        raise RungError(f"no video timestamp to align a rung on: {exc}") from exc
    text = result.stdout.decode("ascii", "replace").split()
    try:
        pts = float(text[0].strip(","))
    except (IndexError, ValueError):
        raise RungError(f"{segment}: no video timestamp to align a rung on") from None
    if not math.isfinite(pts):
        raise RungError(f"{segment}: video timestamp {text[0]!r} is not a number")
    return pts


def encode_args(profile: ChannelProfile, rung: Rendition, preset: str) -> list[str]:
    """Scale to the rung and encode H.264 like the main rendition, keyframes only as forced."""
    rate = rung.video_bitrate_kbps
    width = rung_width(profile, rung.height)
    vf = (
        f"scale={width}:{rung.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{rung.height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )
    return [
        "-vf", vf, "-fps_mode", "passthrough", "-enc_time_base:v", "1/90000",
        "-c:v", "libx264", "-preset", preset, "-profile:v", "high",
        "-b:v", f"{rate}k", "-maxrate", f"{rate * 3 // 2}k", "-bufsize", f"{rate * 2}k",
        "-g", _NO_GOP, "-keyint_min", _NO_GOP, "-sc_threshold", "0",
    ]  # fmt: skip


async def make_rung(
    asset_dir: Path,
    segments: tuple[Segment, ...],
    profile: ChannelProfile,
    rung: Rendition,
    *,
    preset: str,
    timeout: float | None = None,
) -> tuple[Segment, ...]:
    """Encode ``rung`` from the main rendition in ``asset_dir`` (its ``index.m3u8``, whose
    ``segments`` are given) beside it; its segments, checked to line up. RungError if not.

    The encode fails when it stops making progress, not for being slow (``run_progressing``);
    ``timeout`` is its ceiling (default: 20x the main rendition's duration, at least ten
    minutes)."""
    probe_limit = _PROBE_TIMEOUT_S if timeout is None else min(timeout, _PROBE_TIMEOUT_S)
    first = await first_video_pts(asset_dir / segments[0].path_name, probe_limit)
    times = ",".join(f"{max(0.0, t - _EARLY_S):.6f}" for t in keyframe_times(first, segments))
    if len(times) > MAX_KEYFRAME_ARG:
        raise RungError(
            f"rung {rung.name}: {len(segments)} segments are more keyframe times than one "
            "ffmpeg argument holds"
        )
    playlist = rung_playlist(asset_dir, rung)
    args = ffmpeg_args("-v", "error", "-copyts", *own_hls_input(asset_dir / "index.m3u8"))
    args += ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1"]
    args += encode_args(profile, rung, preset)
    if times:
        args += ["-force_key_frames", times]
    args += ["-c:a", "copy", "-muxdelay", "0", "-muxpreload", "0"]
    args += [
        "-f", "hls", "-hls_time", _CUT_EVERY_S, "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-start_number", "0",
        "-hls_segment_filename", str(asset_dir / rung_segment_pattern(rung)), str(playlist),
    ]  # fmt: skip
    try:
        media = sum(s.duration_sec for s in segments)
        what = f"rung {rung.name} of {asset_dir.name}"
        await run_progressing(args, media_sec=media, ceiling=timeout, what=what)
    except RungError:
        raise
    except MediaError as exc:
        raise RungError(f"rung {rung.name}: {exc}", exc.stderr_tail) from exc
    made = read_rung(asset_dir, rung)
    check_aligned(segments, made, ALIGN_TOLERANCE_S, f"rung {rung.name}")
    return made


def remove_rung(asset_dir: Path, rung: Rendition) -> None:
    """Delete a rung's playlist and segments (a failed or misaligned one)."""
    rung_playlist(asset_dir, rung).unlink(missing_ok=True)
    for seg in asset_dir.glob(f"{rung.name}_*.ts"):
        seg.unlink(missing_ok=True)


async def make_rungs(
    asset_dir: Path,
    segments: tuple[Segment, ...],
    profile: ChannelProfile,
    *,
    preset: str,
    timeout: float | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every rung of ``profile.renditions`` for the main rendition in ``asset_dir``:
    ``(made, errors)``. A rung that fails is removed and its error returned, never raised:
    the asset still airs, its rung playlists pointing at its main segments (see
    ``vvtv.air.live_playlist.render_rung``)."""
    made: list[str] = []
    errors: list[str] = []
    for rung in profile.renditions:
        try:
            await make_rung(asset_dir, segments, profile, rung, preset=preset, timeout=timeout)
        except RungError as exc:
            remove_rung(asset_dir, rung)
            errors.append(str(exc))
        else:
            made.append(rung.name)
    return tuple(made), tuple(errors)
