"""From a fetched file to an asset judged for air: prepare, then the QA gate, each stream decoded
as few times as it can be.

What each kind of source costs (ffmpeg runs; "decode" is a full decode of that stream):

- **a remux whose audio is on target** (the video conforms, the audio is AAC at the profile's rate
  and layout, within 0.5 LU of target): the probe beside one audio pass over the source, then the
  segments cut with both streams copied; the QA gate decodes only the video of the prepared file
  and checks that its audio packets are the ones measured: **each stream decoded once**;
- **a remux whose audio must be normalised**: the same audio pass (pass 1), one run that copies
  the video and encodes the normalised audio (pass 2), and QA decodes the prepared file once;
- **a transcode**: the same, the video encoded as well;
- **no audio**: a silent track is added, and QA decodes the prepared file once.

The QA gate always judges the prepared file that airs (SPEC §1.5). ``timings``, when given,
receives the seconds spent in each step (``prepare``, ``qa``): ``ops/bench/prep.py`` reports them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from vvtv.core.model import QAReport
from vvtv.media.prepare import DEFAULT_X264_PRESET, Prepared, prepare
from vvtv.media.qa import qa_check
from vvtv.ownercard.card import ChannelProfile, QualityPolicy


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
    """``prepare``, then the QA gate on what it made (``judge``).

    Raises ``MediaError`` when the source cannot be prepared; a bad asset is a failed
    ``QAReport``, never an exception. Failed or cancelled, it leaves nothing published.
    """
    started = time.perf_counter()
    prepared = await prepare(source, hls_root, asset_id, profile, quality, x264_preset=x264_preset)
    prepared_at = time.perf_counter()
    report = await judge(prepared, quality, expected_duration)
    if timings is not None:
        timings["prepare"] = prepared_at - started
        timings["qa"] = time.perf_counter() - prepared_at
    return prepared, report


async def judge(
    prepared: Prepared, quality: QualityPolicy, expected_duration: float | None
) -> QAReport:
    """The QA gate on a prepared asset, reusing the audio pass over its source when the asset
    copied that track; failed or cancelled (not a bad asset: that is a failed report), it
    unpublishes it."""
    try:
        return await qa_check(
            prepared, quality, expected_duration, source_audio=prepared.source_audio
        )
    except BaseException:
        shutil.rmtree(prepared.dir, ignore_errors=True)
        raise
