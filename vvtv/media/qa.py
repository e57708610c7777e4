"""The QA gate: measure the prepared output against the OwnerCard, decoding each stream once.

``qa_check`` reads the output playlist with the parser the Buffer airs it with
(``vvtv.media.playlist``) and probes it (size, frame rate: ffprobe reads headers only) while one
decoding pass (``vvtv.media.decode``) measures black frames, loudness, silence, duration and decoder
errors. When the prepared file copied its audio track from the source, whose audio ``prepare``
already decoded once (``Prepared.source_audio``), only the video is decoded, and the prepared
file's audio packets are hashed on the way: the same hash as the source's proves the measured audio
is the audio in the file, and the two halves are one measurement of it. Different packets (a
source in MPEG-TS, whose ADTS framing differs; a cut that lost packets), and the audio of the
prepared file is decoded too. Every failed check becomes a reason naming the measure, the value and
the threshold.

Resolution is checked on the *source* as well as on the output: conforming upscales a 480p source
to 720p, and the channel's minimum is about the picture the owner gets, not the frame size.
"""

from __future__ import annotations

import math

import trio

from vvtv.core.model import QAReport
from vvtv.media.decode import DecodeMeasures, combine, decode_pass, parse_decode_pass
from vvtv.media.ffmpeg import MediaError
from vvtv.media.playlist import parse_vod_playlist
from vvtv.media.prepare import Prepared
from vvtv.media.probe import ProbeError, ProbeResult, probe_own_hls
from vvtv.media.rungs import ALIGN_TOLERANCE_S, RungError, check_aligned, rung_name_height
from vvtv.ownercard.card import QualityPolicy

__all__ = ["DecodeMeasures", "decode_pass", "parse_decode_pass", "qa_check"]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


async def qa_check(
    prepared: Prepared,
    quality: QualityPolicy,
    expected_duration: float | None,
    *,
    timeout: float | None = None,
    source_audio: DecodeMeasures | None = None,
) -> QAReport:
    """Measure ``prepared`` and judge it against ``quality``; never raises for a bad asset.

    ``expected_duration`` is what the plan announced (None: only the source's own duration is
    compared). ``timeout`` bounds the probes (default: twice the duration, at least a minute)
    and is the decode's ceiling (default ``progress_ceiling``); the decode fails sooner when it
    stops making progress (``run_progressing``), never for being slow.
    ``source_audio``: the audio-only ``decode_pass`` (with ``hash_audio``) over the source
    whose audio track ``prepared`` copied; used when the packets prove the same.
    """
    reasons: list[str] = []
    playlist = str(prepared.playlist)
    limit = timeout if timeout is not None else max(60.0, 2 * prepared.duration_sec)
    media = prepared.duration_sec
    reuse = source_audio
    if reuse is not None and (reuse.streams != "a" or reuse.audio_packets is None):
        raise ValueError(f"qa_check: source_audio must be a hashed audio-only pass ({reuse})")
    try:
        # What the Buffer will read to air it: an asset it would refuse must not pass.
        parse_vod_playlist(prepared.playlist.read_text(), playlist)
    except (OSError, ValueError) as exc:
        reasons.append(f"playlist refused: {exc}")
    found: dict[str, object] = {}

    async def probe_output() -> None:
        try:
            found["out"] = await probe_own_hls(playlist, timeout=limit)
        except ProbeError as exc:
            found["probe_error"] = exc

    async def decode_output() -> None:
        try:
            m = await decode_pass(
                playlist,
                timeout=timeout,
                media_sec=media,
                audio=reuse is None,
                hash_audio=reuse is not None,
            )
            if reuse is not None:
                if m.audio_packets == reuse.audio_packets:
                    m = combine(m, reuse)
                else:  # not the audio that was measured: measure this file's own
                    m = combine(
                        m,
                        await decode_pass(playlist, timeout=timeout, media_sec=media, video=False),
                    )
            found["m"] = m
        except MediaError as exc:
            found["decode_error"] = exc

    # Independent reads of the same file: the probe costs no wall time beside the decode.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe_output)
        nursery.start_soon(decode_output)
        for rung in prepared.rungs:
            nursery.start_soon(_check_rung, prepared, rung, limit, reasons)
    width = height = None
    fps = None
    if "probe_error" in found:
        error = found["probe_error"]
        assert isinstance(error, ProbeError)
        reasons.append(f"output does not probe: {error.reason}")
    else:
        out = found["out"]
        assert isinstance(out, ProbeResult)
        width, height, fps = out.width, out.height, out.fps
    if "decode_error" in found:
        reasons.append(f"output does not decode: {found['decode_error']}")
        return QAReport(passed=False, reasons=tuple(reasons), width=width, height=height, fps=fps)
    m = found["m"]
    assert isinstance(m, DecodeMeasures)

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


async def _check_rung(prepared: Prepared, name: str, timeout: float, reasons: list[str]) -> None:
    """A lower rung, cheaply: its playlist lines up with the main one and its headers say
    H.264 at its height (the picture itself was encoded from the main one just checked)."""
    playlist = prepared.dir / f"{name}.m3u8"
    try:
        segments = parse_vod_playlist(playlist.read_text(), str(playlist))
        check_aligned(prepared.segments, segments, ALIGN_TOLERANCE_S, f"rung {name}")
        out = await probe_own_hls(str(playlist), timeout=timeout)
    except (OSError, ValueError, RungError) as exc:
        reasons.append(f"rung {name} refused: {exc}")
        return
    except ProbeError as exc:
        reasons.append(f"rung {name} does not probe: {exc.reason}")
        return
    height = rung_name_height(name)
    if out.video_codec != "h264" or out.height != height or (out.width or 1) % 2:
        reasons.append(
            f"rung {name} is {out.video_codec} {out.width}x{out.height}, not H.264 {height}p"
        )
