"""From a fetched file to an asset judged for air: prepare, then the QA gate, each stream decoded
as few times as it can be.

What each kind of source costs (ffmpeg runs; "decode" is a full decode of that stream):

- **a remux whose audio can be copied** (the video conforms, the audio is AAC at the profile's rate
  and layout): the segments are cut with both streams copied, nothing decoded; the QA gate's audio
  pass on the prepared file measures the loudness. On target (within 0.5 LU, peak under the
  ceiling): kept, and the QA gate decodes only the video: **each stream decoded once**. Off target:
  the same video is cut again with the audio normalised from that measurement (the copied audio is
  the source's, so the measurement is pass 1 of the two-pass normalisation), and QA measures the new
  file. The copied cut and one audio pass are the price of never measuring a clip twice.
- **anything else** (a transcode, audio that must be re-encoded anyway, no audio): loudness is
  measured on the source beside the probe (pass 1), the one segmenting run encodes (pass 2), and
  QA decodes the prepared file once.

The QA gate always measures the prepared file that airs (SPEC §1.5). ``timings``, when given,
receives the seconds spent in each step (``prepare``, ``loudness``, ``renormalise``, ``qa``):
``ops/bench/prep.py`` reports them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import attrs

from vvtv.core.model import QAReport
from vvtv.media.decode import decode_pass
from vvtv.media.prepare import (
    DEFAULT_X264_PRESET,
    Prepared,
    keeps_copied_audio,
    prepare,
    renormalise,
    settle_loudness,
)
from vvtv.media.qa import qa_check
from vvtv.ownercard.card import ChannelProfile, QualityPolicy


async def prepare_for_air(
    source: Path,
    hls_root: Path,
    asset_id: str,
    profile: ChannelProfile,
    quality: QualityPolicy,
    *,
    x264_preset: str = DEFAULT_X264_PRESET,
    timings: dict[str, float] | None = None,
) -> Prepared:
    """Prepare ``source`` as ``asset_id`` with its loudness settled (see the module's
    docstring). When a copied audio track was kept, ``Prepared.output_audio`` holds what the
    audio pass measured on the prepared file, for the QA gate. Raises ``MediaError`` when the
    source cannot be prepared; failed or cancelled, it leaves nothing published."""
    clock = _Steps(timings)
    prepared = await prepare(
        source, hls_root, asset_id, profile, quality, x264_preset=x264_preset, defer_loudness=True
    )
    clock.done("prepare")
    if not prepared.loudness_pending:
        return prepared
    try:
        audio = await decode_pass(str(prepared.playlist), timeout=_limit(prepared), video=False)
        clock.done("loudness")
        measured = audio.loudness
        if measured is None or keeps_copied_audio(measured, quality):
            # On target (or nothing to measure: left pending, and QA says why it fails).
            kept = prepared if measured is None else settle_loudness(prepared, measured)
            return attrs.evolve(kept, output_audio=audio)
        renormalised = await renormalise(prepared, source, measured, profile, quality)
        clock.done("renormalise")
        return renormalised  # a new file: QA measures its audio
    except BaseException:
        shutil.rmtree(prepared.dir, ignore_errors=True)
        raise


async def make_ready(
    source: Path,
    hls_root: Path,
    asset_id: str,
    profile: ChannelProfile,
    quality: QualityPolicy,
    expected_duration: float | None,
    *,
    x264_preset: str = DEFAULT_X264_PRESET,
    timings: dict[str, float] | None = None,
) -> tuple[Prepared, QAReport]:
    """``prepare_for_air``, then the QA gate on what it made (``judge``).

    Raises ``MediaError`` when the source cannot be prepared; a bad asset is a failed
    ``QAReport``, never an exception. Failed or cancelled, it leaves nothing published.
    """
    prepared = await prepare_for_air(
        source, hls_root, asset_id, profile, quality, x264_preset=x264_preset, timings=timings
    )
    clock = _Steps(timings)
    report = await judge(prepared, quality, expected_duration)
    clock.done("qa")
    return prepared, report


async def judge(
    prepared: Prepared, quality: QualityPolicy, expected_duration: float | None
) -> QAReport:
    """The QA gate on a prepared asset, reusing the audio pass already run on its files;
    failed or cancelled (not a bad asset: that is a failed report), it unpublishes it."""
    try:
        return await qa_check(prepared, quality, expected_duration, audio=prepared.output_audio)
    except BaseException:
        shutil.rmtree(prepared.dir, ignore_errors=True)
        raise


def _limit(prepared: Prepared) -> float:
    return max(60.0, 2 * prepared.duration_sec)


class _Steps:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def done(self, step: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[step] = self.timings.get(step, 0.0) + now - self.last
        self.last = now
