"""One decoding pass over a prepared asset: what the QA gate measures, stream by stream.

``decode_pass`` decodes a playlist once with filters side by side: ``blackdetect`` on the video,
``ebur128`` and ``silencedetect`` on the audio, with ffmpeg logging at ``level+info`` so every
decoder error line is tagged ``[error]`` and can be counted. It decodes both streams by default,
or one of them, and can hash the audio packets as they come out of the demuxer (``hash_audio``:
nothing decoded for that, the bytes only).

That is how a clip's audio is decoded once: ``prepare`` runs the audio half over the *source*
(pass 1 of the loudness normalisation, hashing the packets), and when the prepared file copies
that track, the QA gate decodes only the video of the prepared file while hashing its audio
packets. Equal hashes prove the prepared file carries, byte for byte, the audio that was measured,
so the two halves make one full measurement of the prepared file (``combine``); otherwise QA
decodes the prepared file's audio as well.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_progressing
from vvtv.media.formats import own_hls_input, untrusted_input
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
# The line ffmpeg's streamhash muxer writes for the audio stream it hashes (on stderr).
_AUDIO_HASH = re.compile(r"^\d+,a,SHA256=([0-9a-f]{64})\s*$", re.MULTILINE)


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
    # SHA-256 of the first audio stream's packets (``hash_audio``): AAC payloads, without the
    # ADTS headers MPEG-TS wraps them in, so a track copied from an MP4 hashes the same.
    audio_packets: str | None = None


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
    hashed = _AUDIO_HASH.findall(stderr)
    return DecodeMeasures(
        duration_sec=duration,
        loudness=loudness,
        black_sec=sum(float(x) for x in _BLACK.findall(stderr)),
        silence_sec=sum(float(x) for x in _SILENCE.findall(stderr)),
        errors=errors,
        streams=streams,
        audio_packets=hashed[-1] if hashed else None,
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
    source: Path | str,
    *,
    timeout: float | None = None,
    media_sec: float | None = None,
    video: bool = True,
    audio: bool = True,
    own_hls: bool = True,
    hash_audio: bool = False,
    check: bool = False,
) -> DecodeMeasures:
    """Decode ``source`` once: black, loudness, silence, duration and decoder errors.

    ``video=False`` or ``audio=False`` decodes one stream only (the other is not even decoded).
    ``source`` is a VOD playlist ``prepare`` wrote (``own_hls_input``), or with
    ``own_hls=False`` a file from outside (``untrusted_input``). ``hash_audio`` also hashes the
    first audio stream's packets (``DecodeMeasures.audio_packets``). A run that fails is
    measured all the same (the failure is one more error) unless ``check``: then it raises
    ``MediaError``.

    A long run (``run_progressing``): it fails when ffmpeg stops making progress (a stalled
    read), not for being slow; ``timeout`` is its overall ceiling (default: 20x ``media_sec``,
    the duration of ``source`` if known, at least ten minutes).
    """
    if not (video or audio):
        raise ValueError("decode_pass needs at least one of video and audio")
    graph, maps = _graph(video, audio)
    inputs = own_hls_input(source) if own_hls else untrusted_input(source)
    hashing: list[str] = []
    if hash_audio:
        # MPEG-TS carries AAC in ADTS frames: strip them so the payloads compare with an MP4's.
        unwrap = ["-bsf:a", "aac_adtstoasc"] if own_hls else []
        hashing = [
            "-map", "0:a:0", "-c:a", "copy", *unwrap,
            "-f", "streamhash", "-hash", "sha256", "pipe:2",
        ]  # fmt: skip
    args = ffmpeg_args(
        "-loglevel", "level+info", *inputs,
        "-filter_complex", graph, *maps, "-f", "null", "-", *hashing,
    )  # fmt: skip
    streams = "a" if not video else "v" if not audio else "av"
    what = str(source)
    result = await run_progressing(
        args, media_sec=media_sec, ceiling=timeout, check=check, what=what
    )
    measures = parse_decode_pass(
        result.stderr, result.stdout.decode("ascii", "replace"), what, streams
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
        audio_packets=audio.audio_packets,
    )
