"""One decoding pass over a prepared asset: what the QA gate measures, stream by stream.

``decode_pass`` decodes a playlist once with filters side by side: ``blackdetect`` on the video,
``ebur128`` and ``silencedetect`` on the audio, with ffmpeg logging at ``level+info`` so every
decoder error line is tagged ``[error]`` and can be counted. It decodes both streams by default,
or one of them: the audio alone is how a copied audio track's loudness is measured on the prepared
file (``vvtv.media.ready``), and the video alone then completes the same QA without decoding the
audio a second time (``combine``).
"""

from __future__ import annotations

import re

import attrs

from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_tool
from vvtv.media.formats import own_hls_input
from vvtv.media.loudness import LoudnessMeasure, ebur128_filter, parse_ebur128_summary

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
    """What one decoding pass over a prepared asset measured.

    ``streams`` says what was decoded ("av", "a" or "v"): a pass that did not decode the audio
    has no loudness and no silence figure, one that did not decode the video no black figure.
    """

    duration_sec: float
    loudness: LoudnessMeasure | None
    black_sec: float
    silence_sec: float
    errors: tuple[str, ...]
    streams: str = "av"


def parse_decode_pass(stderr: str, progress: str, what: str, streams: str = "av") -> DecodeMeasures:
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
        streams=streams,
    )


def _graph(video: bool, audio: bool) -> tuple[str, list[str]]:
    parts, maps = [], []
    if video:
        parts.append(f"[0:v:0]blackdetect=d={BLACK_MIN_SEC}:pix_th=0.10[v]")
        maps += ["-map", "[v]"]
    if audio:
        parts.append(
            f"[0:a:0]{ebur128_filter()},silencedetect=n={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SEC}[a]"
        )
        maps += ["-map", "[a]"]
    return ";".join(parts), maps


async def decode_pass(
    playlist: str, *, timeout: float, video: bool = True, audio: bool = True
) -> DecodeMeasures:
    """Decode the asset once: black, loudness, silence, duration and decoder errors.

    ``video=False`` or ``audio=False`` decodes one stream only (the other is not even read
    past the demuxer).
    """
    if not (video or audio):
        raise ValueError("decode_pass needs at least one of video and audio")
    graph, maps = _graph(video, audio)
    args = ffmpeg_args(
        "-loglevel", "level+info", *own_hls_input(playlist), "-filter_complex", graph, *maps,
        "-f", "null", "-progress", "pipe:1", "-nostats", "-",
    )  # fmt: skip
    streams = "a" if not video else "v" if not audio else "av"
    result = await run_tool(args, timeout=timeout, check=False, what=playlist)
    measures = parse_decode_pass(
        result.stderr, result.stdout.decode("ascii", "replace"), playlist, streams
    )
    if result.returncode != 0:
        failure = f"ffmpeg exited with {result.returncode}"
        measures = attrs.evolve(measures, errors=(*measures.errors, failure))
    return measures


def combine(video: DecodeMeasures, audio: DecodeMeasures) -> DecodeMeasures:
    """A video-only and an audio-only pass over the same file, as one full pass would report."""
    if video.streams != "v" or audio.streams != "a":
        raise ValueError(f"combine wants a video and an audio pass, got {video.streams!r}, "
                         f"{audio.streams!r}")  # fmt: skip
    return DecodeMeasures(
        duration_sec=max(video.duration_sec, audio.duration_sec),
        loudness=audio.loudness,
        black_sec=video.black_sec,
        silence_sec=audio.silence_sec,
        errors=video.errors + audio.errors,
        streams="av",
    )
