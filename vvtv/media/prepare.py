"""Prepare a fetched file for air: conform to the channel profile, normalise loudness, cut HLS.

One call, two ffmpeg runs and a probe:

1. ``ffprobe`` the source and, side by side (they are independent: on two cores the pair costs the
   wall time of the measurement alone), decode its audio once (``decode_pass`` with the audio
   only): loudness, pass 1 of the two-pass normalisation, plus silence, decoder errors and a hash
   of the audio packets for the QA gate;
2. one ffmpeg run that writes the HLS segments: the video is remuxed (``-c:v copy``) when the source
   already conforms, otherwise scaled/padded/re-timed and encoded with keyframes forced every
   ``segment_seconds``; the audio is copied when it conforms and is already within 0.5 LU of
   target (or is digital silence, which no gain can help), otherwise normalised (pass 2) and
   re-encoded.

When the audio is copied, ``Prepared.source_audio`` keeps that first audio pass: the prepared file
carries those very packets, and the QA gate proves it (same hash) and decodes only the video, so a
clip already on target has each of its streams decoded once (``vvtv.media.qa``).

A remux can only cut where the source has keyframes: if the resulting segments are longer than the
target, the remux is thrown away and the asset is transcoded (a remux costs about 1 % of that).

Speed (``ops/bench/prep.py``, 60 s clips, 2 cores; ``ops/PERFORMANCE.md``): a 1080p transcode
costs about 26 CPU seconds with x264 ``superfast``, within 1.25× a plain ``ffmpeg`` transcode; a
remux whose audio must be normalised is the audio pass (≈ 0.35 s, the true-peak measurement
dominates) plus a plain ``ffmpeg -c:v copy -c:a aac`` run (≈ 0.85 s, ffmpeg's AAC encoder); one
whose audio is on target is the audio pass and a copy (≈ 0.1 s), over 100× real time.

Output lives in ``<hls_root>/<asset_id>/`` (``index.m3u8``, ``seg_00000.ts``…, ``prepared.json``).
It is built in a hidden temporary directory and renamed into place, so a crash or cancellation
never leaves a half-made asset visible; ``sweep_partials`` removes the leftovers of a crash.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import attrs
import trio

from vvtv.media.decode import DecodeMeasures, decode_pass
from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_progressing
from vvtv.media.formats import MediaFormatRefused, lavfi_input, untrusted_input
from vvtv.media.loudness import LoudnessMeasure, normalise_filter, within_target
from vvtv.media.playlist import Segment, fits_target, parse_vod_playlist
from vvtv.media.probe import ProbeError, ProbeResult, probe
from vvtv.media.rungs import make_rungs
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

PLAYLIST = "index.m3u8"
MANIFEST = "prepared.json"
SEGMENT_PATTERN = "seg_%05d.ts"
# Audio already this close to target is copied rather than re-encoded (issue 5).
COPY_AUDIO_TOLERANCE_LU = 0.5
# AAC encoding overshoots the true peak of its input by a few tenths of a dB: normalise under the
# ceiling by this much so the encoded output still measures under it at QA.
CODEC_PEAK_MARGIN_DB = 0.5
# veryfast missed 4× real time on 1080p here (ops/bench/prep.py); superfast reaches it.
DEFAULT_X264_PRESET = "superfast"
# The audio pass over the source starts before the probe says how long it is: its ceiling
# cannot grow with the duration (it still fails within STALL_AFTER_S if stuck).
_MEASURE_TIMEOUT = 3600.0
# The slate's asset id: never pruned, whatever the caller keeps.
SLATE_ASSET_ID = "slate"
_TEMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
_ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CODEC_NAMES = {"h264": "libx264", "aac": "aac"}


@attrs.frozen
class Prepared:
    """A prepared asset on disk, as its ``prepared.json`` records it."""

    dir: Path
    segments: tuple[Segment, ...]
    duration_sec: float  # sum of the segment durations
    remuxed: bool  # video copied from the source, not re-encoded
    measured: LoudnessMeasure | None  # the source's loudness (pass 1); None without audio
    audio_filter: str  # what pass 2 applied: "copy", "volume=…", "loudnorm=…", "silence"
    source: ProbeResult  # the source before conforming (QA checks its height too)
    source_errors: tuple[str, ...] = ()  # what ffmpeg reported while reading the source
    # The audio pass over the source, kept when its track was copied into this asset: the QA
    # gate reuses it once it has checked the packets are the same. Not part of the manifest.
    source_audio: DecodeMeasures | None = attrs.field(default=None, eq=False)
    # The lower rungs made beside it (``channel.renditions``: ``vvtv.media.rungs``), and why
    # any other asked for could not be (the asset airs without it).
    rungs: tuple[str, ...] = ()
    rung_errors: tuple[str, ...] = ()

    @property
    def playlist(self) -> Path:
        return self.dir / PLAYLIST

    @property
    def asset_id(self) -> str:
        return self.dir.name


def check_asset_id(asset_id: str) -> None:
    if not _ASSET_ID.match(asset_id):
        raise ValueError(f"asset id {asset_id!r} is not a safe directory name")


def conforms(info: ProbeResult, profile: ChannelProfile) -> bool:
    """True when the video can be copied as is: codec, size, frame rate and pixel format match."""
    return (
        info.video_codec == profile.video_codec
        and info.width == profile.width
        and info.height == profile.height
        and info.fps is not None
        and abs(info.fps - profile.fps) < 0.01
        and info.pix_fmt == "yuv420p"
        and not info.interlaced
        and info.sar in (None, 1.0)
    )


def audio_conforms(info: ProbeResult, profile: ChannelProfile) -> bool:
    return (
        info.audio_codec == profile.audio_codec
        and info.audio_rate == profile.audio_rate
        and info.audio_channels == profile.audio_channels
    )


def video_encode_args(
    profile: ChannelProfile, preset: str, *, deinterlace: bool = False, sar: float | None = None
) -> list[str]:
    """Scale and pad into the profile's frame keeping the aspect ratio, re-time, encode H.264.

    Keyframes every ``segment_seconds`` exactly (``-g``/``-keyint_min``, no scene-cut keyframes)
    so every HLS segment is exactly the target duration. ``fps`` runs first so a 50 fps source
    is scaled at 25 fps; an interlaced source is deinterlaced before anything else, and
    non-square pixels (``sar``) are made square first so the picture keeps its shape.
    """
    w, h, fps = profile.width, profile.height, profile.fps
    gop = fps * profile.segment_seconds
    pre = "yadif=mode=send_frame:deint=interlaced," if deinterlace else ""
    if sar is not None and abs(sar - 1.0) > 1e-3:
        pre += "scale=trunc(iw*sar/2)*2:ih,setsar=1,"
    vf = (
        pre + f"fps={fps},"
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )
    rate = profile.video_bitrate_kbps
    return [
        "-vf", vf,
        "-c:v", _CODEC_NAMES.get(profile.video_codec, profile.video_codec),
        "-preset", preset, "-profile:v", "high",
        "-b:v", f"{rate}k", "-maxrate", f"{rate * 3 // 2}k", "-bufsize", f"{rate * 2}k",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
    ]  # fmt: skip


def audio_encode_args(profile: ChannelProfile, audio_filter: str | None) -> list[str]:
    chain = [f for f in (audio_filter, f"aresample={profile.audio_rate}") if f]
    return [
        "-af", ",".join(chain),
        "-c:a", _CODEC_NAMES.get(profile.audio_codec, profile.audio_codec),
        "-b:a", f"{profile.audio_bitrate_kbps}k",
        "-ar", str(profile.audio_rate), "-ac", str(profile.audio_channels),
    ]  # fmt: skip


def hls_args(out_dir: Path, segment_seconds: int) -> list[str]:
    return [
        "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-start_number", "0",
        "-hls_segment_filename", str(out_dir / SEGMENT_PATTERN), str(out_dir / PLAYLIST),
    ]  # fmt: skip


@attrs.frozen
class _Plan:
    copy_video: bool
    audio: str  # "copy", "silence", or a filter (possibly "" for resample only)


async def _segment(
    source: Path, out_dir: Path, info: ProbeResult, profile: ChannelProfile, plan: _Plan,
    preset: str, timeout: float | None,
) -> tuple[str, ...]:  # fmt: skip
    """Run the segmenting ffmpeg; returns the error lines it logged while still succeeding
    (a damaged source: "partial file", "Invalid NAL unit"…). It fails when it stops making
    progress, not for being slow (``run_progressing``); ``timeout`` is its ceiling."""
    args = ffmpeg_args("-v", "error", *untrusted_input(source))
    if plan.audio == "silence":
        # No audio in the source: a silent track keeps every asset's stream layout identical.
        silence = f"anullsrc=r={profile.audio_rate}:cl=stereo"
        args += ["-t", f"{info.duration_sec or 0:.3f}", *lavfi_input(silence)]
        args += ["-map", "0:V:0", "-map", "1:a:0", "-shortest"]
    else:
        # -shortest: trailing audio past the last picture would overrun the last segment.
        args += ["-map", "0:V:0", "-map", "0:a:0", "-shortest"]
    args += ["-sn", "-dn", "-map_metadata", "-1", "-max_muxing_queue_size", "4096"]
    args += (
        ["-c:v", "copy"]
        if plan.copy_video
        else video_encode_args(profile, preset, deinterlace=info.interlaced, sar=info.sar)
    )
    if plan.audio == "copy":
        args += ["-c:a", "copy"]
    else:
        audio_filter = None if plan.audio == "silence" else plan.audio or None
        args += audio_encode_args(profile, audio_filter)
    args += hls_args(out_dir, profile.segment_seconds)
    result = await run_progressing(
        args, media_sec=info.duration_sec, ceiling=timeout, what=str(source)
    )
    return tuple(line.strip() for line in result.stderr.splitlines() if line.strip())


def _clear(directory: Path) -> None:
    for child in directory.iterdir():
        child.unlink()


async def prepare(
    source: Path,
    hls_root: Path,
    asset_id: str,
    profile: ChannelProfile,
    quality: QualityPolicy,
    *,
    x264_preset: str = DEFAULT_X264_PRESET,
    timeout: float | None = None,
) -> Prepared:
    """Conform ``source`` into ``<hls_root>/<asset_id>/`` and return what was made.

    Raises ``MediaError`` (a ``ProbeError`` as its cause) when the source cannot be probed,
    has no video, its audio cannot be measured, or ffmpeg fails. The ffmpeg runs fail when they
    stop making progress (``STALL_AFTER_S`` without their output time advancing), not for
    being slow: a loaded machine prepares slowly rather than not at all. ``timeout`` is each
    run's overall ceiling (default ``progress_ceiling``: 20x the source's duration, at least
    ten minutes). An existing asset directory of the same id is replaced atomically.
    """
    check_asset_id(asset_id)
    info, heard = await _probe_and_measure(source, asset_id, timeout)
    measured = heard.loudness if heard is not None else None
    audio = _audio_plan(info, measured, profile, quality)

    hls_root.mkdir(parents=True, exist_ok=True)
    work = hls_root / f"{_TEMP_PREFIX}{asset_id}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        remuxed = conforms(info, profile)
        segments: tuple[Segment, ...] = ()
        errors: tuple[str, ...] = ()
        if remuxed:
            errors = await _segment(
                source, work, info, profile, _Plan(True, audio), x264_preset, timeout
            )
            segments = _read_segments(work)
            if not fits_target(segments, profile.segment_seconds):
                # The source's keyframes are too far apart for the target: transcode instead.
                _clear(work)
                remuxed = False
        if not remuxed:
            errors = await _segment(
                source, work, info, profile, _Plan(False, audio), x264_preset, timeout
            )
            segments = _read_segments(work)
        rungs, rung_errors = await make_rungs(
            work, segments, profile, preset=x264_preset, timeout=timeout
        )
        prepared = Prepared(
            dir=hls_root / asset_id,
            segments=segments,
            duration_sec=round(sum(s.duration_sec for s in segments), 3),
            remuxed=remuxed,
            measured=measured,
            audio_filter=audio or "resample",
            source=info,
            source_errors=errors,
            source_audio=heard if audio == "copy" else None,
            rungs=rungs,
            rung_errors=rung_errors,
        )
        (work / MANIFEST).write_text(json.dumps(_to_json(prepared), indent=1))
        _publish(work, hls_root / asset_id)
        return prepared
    finally:
        # Only still there on failure or cancellation (a published dir has been renamed away).
        shutil.rmtree(work, ignore_errors=True)


def _audio_plan(
    info: ProbeResult,
    measured: LoudnessMeasure | None,
    profile: ChannelProfile,
    quality: QualityPolicy,
) -> str:
    """ "copy", "silence", or the pass-2 filter ("" to resample only)."""
    if measured is None:
        return "silence"
    target = quality.target_audio_lufs
    ceiling = quality.max_true_peak_dbtp - CODEC_PEAK_MARGIN_DB
    if audio_conforms(info, profile) and (
        # Digital silence: no gain can make it programme (QA rejects it as silent).
        measured.is_silent or within_target(measured, target, ceiling, COPY_AUDIO_TOLERANCE_LU)
    ):
        return "copy"
    return normalise_filter(measured, target, ceiling) or ""


def _probe_failure(error: ProbeError, asset_id: str) -> MediaError:
    if isinstance(error, MediaFormatRefused):
        # Not a media container (a playlist naming other files, text…): ffmpeg never
        # opened it, and the reason code says so (MEDIA_FORMAT_REFUSED).
        return MediaFormatRefused(f"prepare {asset_id}: {error.reason}")
    return MediaError(f"prepare {asset_id}: {error.reason}")


async def _probe_and_measure(
    source: Path, asset_id: str, timeout: float | None
) -> tuple[ProbeResult, DecodeMeasures | None]:
    """ffprobe and the audio pass side by side: they are independent, and on two cores the pair
    costs as much wall time as the audio pass alone (the remux budget is that tight). There is
    no audio pass over a source without audio (it is cancelled as soon as the probe says so)."""
    found: dict[str, Any] = {}

    async def probe_it(nursery: trio.Nursery, measuring: trio.CancelScope) -> None:
        try:
            info = found["info"] = await probe(str(source))
        except ProbeError as exc:
            found["probe_error"] = exc
            nursery.cancel_scope.cancel()  # nothing to measure in a file that does not probe
            return
        if not info.has_audio:
            measuring.cancel()

    async def measure_it(measuring: trio.CancelScope) -> None:
        with measuring:
            try:
                found["heard"] = await decode_pass(
                    source,
                    timeout=timeout or _MEASURE_TIMEOUT,
                    video=False,
                    own_hls=False,
                    hash_audio=True,
                    check=True,
                )
            except MediaError as exc:
                found["measure_error"] = exc

    measuring = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe_it, nursery, measuring)
        nursery.start_soon(measure_it, measuring)
    if "probe_error" in found:
        error: ProbeError = found["probe_error"]
        raise _probe_failure(error, asset_id) from error
    info: ProbeResult = found["info"]
    if not info.has_video:
        raise MediaError(f"prepare {asset_id}: {source} has no video stream")
    if not info.has_audio:
        return info, None
    if "measure_error" in found:
        raise MediaError(f"prepare {asset_id}: loudness pass failed: {found['measure_error']}")
    heard: DecodeMeasures = found["heard"]
    if heard.loudness is None:
        raise MediaError(f"prepare {asset_id}: loudness pass failed: ebur128 printed no summary")
    return info, heard


def _read_segments(directory: Path) -> tuple[Segment, ...]:
    playlist = directory / PLAYLIST
    try:
        return parse_vod_playlist(playlist.read_text(), str(playlist))
    except (OSError, ValueError) as exc:
        raise MediaError(f"ffmpeg wrote no usable playlist: {exc}") from exc


def _publish(work: Path, final: Path) -> None:
    """Rename the finished directory into place; an older one of the same id is swapped out."""
    if final.exists():
        trash = final.with_name(f"{_TRASH_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(trash)
        work.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        work.rename(final)


def _to_json(prepared: Prepared) -> dict[str, Any]:
    data = attrs.asdict(prepared, recurse=True)
    data["dir"] = prepared.dir.name
    del data["source_audio"]
    if prepared.measured is not None:  # JSON has no infinity: digital silence's peak
        data["measured"] = {
            k: (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in data["measured"].items()
        }
    return data


def load_prepared(asset_dir: Path) -> Prepared:
    """Read back a published asset from its ``prepared.json``; ``MediaError`` if unusable."""
    manifest = asset_dir / MANIFEST
    try:
        data = json.loads(manifest.read_text())
        segments = tuple(Segment(**s) for s in data["segments"])
        measured = data["measured"]
        source = data["source"]
        source["tags"] = tuple(source.get("tags", ()))
        return Prepared(
            dir=asset_dir,
            segments=segments,
            duration_sec=float(data["duration_sec"]),
            remuxed=bool(data["remuxed"]),
            measured=None
            if measured is None
            else LoudnessMeasure(
                **{k: (-math.inf if v is None else float(v)) for k, v in measured.items()}
            ),
            audio_filter=str(data["audio_filter"]),
            source=ProbeResult(**source),
            source_errors=tuple(data.get("source_errors", ())),
            rungs=tuple(str(r) for r in data.get("rungs", ())),
            rung_errors=tuple(str(e) for e in data.get("rung_errors", ())),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MediaError(f"{manifest}: not a usable prepared-asset manifest ({exc})") from exc


def sweep_partials(hls_root: Path) -> list[Path]:
    """Remove temporary and swapped-out directories a crash left behind. Call at start-up only
    (it would pull the directory from under a prepare that is running)."""
    removed: list[Path] = []
    if not hls_root.is_dir():
        return removed
    for child in hls_root.iterdir():
        if child.is_dir() and child.name.startswith((_TEMP_PREFIX, _TRASH_PREFIX)):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def prune_assets(hls_root: Path, keep: set[str]) -> list[str]:
    """Delete published asset directories whose id is not in ``keep``; returns the ids removed.

    Hidden directories (a prepare in progress) and the slate are never touched.
    """
    removed: list[str] = []
    if not hls_root.is_dir():
        return removed
    for child in sorted(hls_root.iterdir()):
        name = child.name
        if child.is_dir() and not name.startswith(".") and name not in keep | {SLATE_ASSET_ID}:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(name)
    return removed


def remove_source(path: Path) -> None:
    """Delete a fetched source once its asset is prepared (missing is fine)."""
    path.unlink(missing_ok=True)
