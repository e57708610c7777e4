"""EBU R128 loudness: measure (ffmpeg ``ebur128``) and choose the normalising audio filter.

Pass 1 measures with ``ebur128=peak=true`` rather than ``loudnorm``'s analysis mode: both report
integrated loudness, gating threshold, loudness range and true peak, but ``loudnorm`` resamples to
192 kHz and ran about 4× slower here, which alone would cap a remux far below 100× real time.
Pass 2 is linear whenever the true peak allows it (a plain gain: exactly what ``loudnorm`` with
``linear=true`` does in that case, without the 192 kHz round trip); otherwise it is ``loudnorm``
fed with the pass-1 ``measured_*`` values, whose limiter keeps the true peak under the ceiling.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import attrs

from vvtv.media.ffmpeg import MediaError, ffmpeg_args, run_tool
from vvtv.media.formats import own_hls_input, untrusted_input

# ebur128 reports -70 LUFS (its floor) for digital silence; no gain can make that programme.
SILENCE_FLOOR_LUFS = -69.0
_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf))"


@attrs.frozen
class LoudnessMeasure:
    integrated_lufs: float
    true_peak_dbtp: float  # -inf for digital silence
    lra_lu: float
    threshold_lufs: float

    @property
    def is_silent(self) -> bool:
        return self.integrated_lufs <= SILENCE_FLOOR_LUFS


def _num(text: str) -> float:
    return float(text)  # float() reads "-inf" and "inf"


def parse_ebur128_summary(stderr: str, what: str = "") -> LoudnessMeasure:
    """The measures from ``ebur128``'s final ``Summary:`` block on ffmpeg's stderr."""
    _, found, summary = stderr.rpartition("Summary:")
    where = f" for {what}" if what else ""
    if not found:
        raise MediaError(f"ebur128 printed no summary{where}")
    integrated = re.search(rf"\bI:\s+{_NUMBER} LUFS\s+Threshold:\s+{_NUMBER} LUFS", summary)
    lra = re.search(rf"\bLRA:\s+{_NUMBER} LU\b", summary)
    peak = re.search(rf"\bPeak:\s+{_NUMBER} dBFS", summary)
    if not (integrated and lra):
        raise MediaError(f"ebur128 summary{where} is missing integrated loudness or range")
    return LoudnessMeasure(
        integrated_lufs=_num(integrated.group(1)),
        true_peak_dbtp=_num(peak.group(1)) if peak else -math.inf,
        lra_lu=_num(lra.group(1)),
        threshold_lufs=_num(integrated.group(2)),
    )


def ebur128_filter() -> str:
    # framelog=verbose keeps the ten-lines-a-second log out of stderr at the default level.
    return "ebur128=peak=true:framelog=verbose"


async def measure_loudness(
    source: Path | str, *, timeout: float, own_hls: bool = False
) -> LoudnessMeasure:
    """Integrated loudness, true peak and range of the first audio stream (audio only: ``-vn``).

    ``source`` is a file from outside (opened through ``untrusted_input``), or with
    ``own_hls`` a VOD playlist ``prepare`` wrote (``own_hls_input``).
    """
    inputs = own_hls_input(source) if own_hls else untrusted_input(source)
    args = ffmpeg_args(
        *inputs, "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", ebur128_filter(), "-f", "null", "-",
    )  # fmt: skip
    result = await run_tool(args, timeout=timeout, what=str(source))
    return parse_ebur128_summary(result.stderr, str(source))


def within_target(
    measure: LoudnessMeasure, target_lufs: float, max_true_peak_dbtp: float, tolerance_lu: float
) -> bool:
    """Already where normalisation would put it: close to target and under the peak ceiling."""
    return (
        abs(measure.integrated_lufs - target_lufs) <= tolerance_lu
        and measure.true_peak_dbtp <= max_true_peak_dbtp
    )


def normalise_filter(
    measure: LoudnessMeasure, target_lufs: float, max_true_peak_dbtp: float
) -> str | None:
    """The pass-2 filter bringing ``measure`` to ``target_lufs``; None when nothing can be done.

    Digital silence gets no filter (there is no loudness to scale; QA rejects it as silent).
    """
    if measure.is_silent:
        return None
    gain = target_lufs - measure.integrated_lufs
    if measure.true_peak_dbtp + gain <= max_true_peak_dbtp:
        return f"volume={gain:.2f}dB"
    # loudnorm's ranges: LRA 1..50 (a target below the measured range would force dynamic mode
    # anyway), measured_TP -99..99; aresample brings its 192 kHz output back down.
    lra = min(50.0, max(11.0, math.ceil(measure.lra_lu + 1)))
    tp = max(-99.0, min(99.0, measure.true_peak_dbtp))
    return (
        f"loudnorm=I={target_lufs:.1f}:TP={max_true_peak_dbtp:.1f}:LRA={lra:.0f}"
        f":measured_I={measure.integrated_lufs:.2f}:measured_TP={tp:.2f}"
        f":measured_LRA={measure.lra_lu:.2f}:measured_thresh={measure.threshold_lufs:.2f}"
        ":linear=true:print_format=none"
    )
