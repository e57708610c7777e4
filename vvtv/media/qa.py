"""The QA gate: measure the prepared output, in one decoding pass, against the OwnerCard.

``qa_check`` reads the output playlist with the parser the Buffer airs it with
(``vvtv.media.playlist``), probes it (size, frame rate: ffprobe reads headers only) and then
decodes everything once with several filters side by side: ``blackdetect`` on the video,
``ebur128`` and ``silencedetect`` on the audio, with ffmpeg logging at ``level+info`` so every
decoder error line is tagged ``[error]`` and can be counted. Every failed check becomes a reason
naming the measure, the value and the threshold.

Resolution is checked on the *source* as well as on the output: conforming upscales a 480p source
to 720p, and the channel's minimum is about the picture the owner gets, not the frame size.
"""

from __future__ import annotations

import math
import re

import attrs

from vvtv.core.model import QAReport
from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_tool
from vvtv.media.formats import own_hls_input
from vvtv.media.loudness import LoudnessMeasure, ebur128_filter, parse_ebur128_summary
from vvtv.media.playlist import parse_vod_playlist
from vvtv.media.prepare import Prepared
from vvtv.media.probe import ProbeError, probe_own_hls
from vvtv.ownercard.card import QualityPolicy

# blackdetect: a frame is black when ≥98 % of its pixels are darker than 10 % luma;
# silencedetect: quieter than -50 dBFS. Runs shorter than this are not counted.
BLACK_MIN_SEC = 0.5
SILENCE_NOISE_DB = -50
SILENCE_MIN_SEC = 0.5

_BLACK = re.compile(r"black_duration:\s*([0-9.]+)")
_SILENCE = re.compile(r"silence_duration:\s*([0-9.]+)")
_OUT_TIME = re.compile(r"^out_time_us=(\d+)\s*$", re.MULTILINE)
_ERROR_LEVELS = ("[error]", "[fatal]", "[panic]")


@attrs.frozen
class DecodeMeasures:
    """What one decoding pass over a prepared asset measured."""

    duration_sec: float
    loudness: LoudnessMeasure | None
    black_sec: float
    silence_sec: float
    errors: tuple[str, ...]


def parse_decode_pass(stderr: str, progress: str, what: str) -> DecodeMeasures:
    times = _OUT_TIME.findall(progress)
    duration = int(times[-1]) / 1e6 if times else 0.0
    try:
        loudness: LoudnessMeasure | None = parse_ebur128_summary(stderr, what)
    except MediaError:
        loudness = None
    errors = tuple(
        line.strip() for line in stderr.splitlines() if any(t in line for t in _ERROR_LEVELS)
    )
    return DecodeMeasures(
        duration_sec=duration,
        loudness=loudness,
        black_sec=sum(float(x) for x in _BLACK.findall(stderr)),
        silence_sec=sum(float(x) for x in _SILENCE.findall(stderr)),
        errors=errors,
    )


async def decode_pass(playlist: str, *, timeout: float) -> DecodeMeasures:
    """Decode the whole asset once: black, loudness, silence, duration and decoder errors."""
    graph = (
        f"[0:v:0]blackdetect=d={BLACK_MIN_SEC}:pix_th=0.10[v];"
        f"[0:a:0]{ebur128_filter()},"
        f"silencedetect=n={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SEC}[a]"
    )
    args = ffmpeg_args(
        "-loglevel", "level+info", *own_hls_input(playlist),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-f", "null", "-progress", "pipe:1", "-nostats", "-",
    )  # fmt: skip
    result = await run_tool(args, timeout=timeout, check=False, what=playlist)
    measures = parse_decode_pass(result.stderr, result.stdout.decode("ascii", "replace"), playlist)
    if result.returncode != 0:
        failure = f"ffmpeg exited with {result.returncode}"
        measures = attrs.evolve(measures, errors=(*measures.errors, failure))
    return measures


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


async def qa_check(
    prepared: Prepared,
    quality: QualityPolicy,
    expected_duration: float | None,
    *,
    timeout: float | None = None,
) -> QAReport:
    """Measure ``prepared`` and judge it against ``quality``; never raises for a bad asset.

    ``expected_duration`` is what the plan announced (None: only the source's own duration is
    compared). ``timeout`` bounds the decode (default: twice the duration, at least a minute).
    """
    reasons: list[str] = []
    playlist = str(prepared.playlist)
    limit = timeout if timeout is not None else max(60.0, 2 * prepared.duration_sec)
    width = height = None
    fps = None
    try:
        # What the Buffer will read to air it: an asset it would refuse must not pass.
        parse_vod_playlist(prepared.playlist.read_text(), playlist)
    except (OSError, ValueError) as exc:
        reasons.append(f"playlist refused: {exc}")
    try:
        out = await probe_own_hls(playlist, timeout=limit)
        width, height, fps = out.width, out.height, out.fps
    except ProbeError as exc:
        reasons.append(f"output does not probe: {exc.reason}")
    try:
        m = await decode_pass(playlist, timeout=limit)
    except MediaError as exc:
        reasons.append(f"output does not decode: {exc}")
        return QAReport(passed=False, reasons=tuple(reasons), width=width, height=height, fps=fps)

    min_h = quality.min_resolution_height
    if height is None or height < min_h:
        reasons.append(f"output height {height}p is below min_resolution_height {min_h}p")
    src_h = prepared.source.height
    if src_h is None or src_h < min_h:
        reasons.append(f"source height {src_h}p is below min_resolution_height {min_h}p")

    lufs = peak = None
    target, max_dev = quality.target_audio_lufs, quality.max_audio_deviation_lufs
    if m.loudness is None:
        reasons.append("integrated loudness could not be measured (no audio)")
    else:
        lufs, peak = m.loudness.integrated_lufs, _finite(m.loudness.true_peak_dbtp)
        if abs(lufs - target) > max_dev:
            reasons.append(
                f"integrated loudness {lufs:.1f} LUFS is {abs(lufs - target):.1f} LU from target "
                f"{target:.1f} (max_audio_deviation_lufs {max_dev:g})"
            )
        if peak is not None and peak > quality.max_true_peak_dbtp:
            reasons.append(
                f"true peak {peak:.1f} dBTP is above max_true_peak_dbtp "
                f"{quality.max_true_peak_dbtp:g}"
            )

    duration = m.duration_sec
    tol = quality.duration_tolerance_sec
    if expected_duration is not None and abs(duration - expected_duration) > tol:
        reasons.append(
            f"duration {duration:.1f}s differs from the planned {expected_duration:.1f}s "
            f"by more than duration_tolerance_sec {tol:g}"
        )
    src_d = prepared.source.duration_sec
    if src_d is not None and abs(duration - src_d) > tol:
        reasons.append(
            f"duration {duration:.1f}s differs from the source's declared {src_d:.1f}s "
            f"by more than duration_tolerance_sec {tol:g} (truncated source?)"
        )

    errors = len(m.errors) + len(prepared.source_errors)
    if errors:
        sample = (prepared.source_errors + m.errors)[0]
        reasons.append(f"{errors} decode errors (first: {sample})")

    black = m.black_sec / duration if duration > 0 else 1.0
    silence = m.silence_sec / duration if duration > 0 else 1.0
    if duration <= 0:
        reasons.append("nothing decoded (duration 0)")
    if black > quality.max_black_ratio:
        reasons.append(
            f"black ratio {black:.2f} is above max_black_ratio {quality.max_black_ratio}"
        )
    if silence > quality.max_silence_ratio:
        reasons.append(
            f"silence ratio {silence:.2f} is above max_silence_ratio {quality.max_silence_ratio}"
        )
    return QAReport(
        passed=not reasons,
        reasons=tuple(reasons),
        width=width,
        height=height,
        fps=fps,
        duration_sec=round(duration, 3),
        integrated_lufs=lufs,
        true_peak_dbtp=peak,
        black_ratio=round(min(black, 1.0), 4),
        silence_ratio=round(min(silence, 1.0), 4),
        decode_errors=errors,
    )
