"""Benchmark: preparing media for air (issue 5).

Prepares a 60-second 1080p25 clip (transcode to 720p25) and a 60-second conforming 720p25 clip
(remux), three times each, and reports medians. The sources are generated first (not timed):
``testsrc2`` with temporal grain (``noise``), so x264 has real detail to encode rather than flat
test colours, and a tone mixed with pink noise at a level far from the target, so both clips go
through the loudness measurement and a normalising second pass.

Also measured: the remux when the audio is already at target (copied, not re-encoded), and the
CPU seconds the ffmpeg children used: the machine is shared and often loaded (the load average is
printed), so ``cpu_bound_realtime_factor`` (media seconds per CPU second × 2 cores) says what two
otherwise idle cores would give.

Last line: one JSON object with ``transcode_realtime_factor``, ``remux_realtime_factor``,
``remux_audio_copied_realtime_factor``, ``loudness_error_lu`` (worst |measured - target| after
prepare, over every run), the targets, and the raw runs.

    .venv/bin/python ops/bench/prep.py [--seconds 60] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.media.loudness import measure_loudness
from vvtv.media.prepare import DEFAULT_X264_PRESET, prepare
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

PROFILE = ChannelProfile()
QUALITY = QualityPolicy()
CORES = 2


def make_source(path: Path, size: str, seconds: float, level_db: float) -> None:
    audio = (
        f"sine=f=220:sample_rate=48000:d={seconds}[t];"
        f"anoisesrc=color=pink:amplitude=0.3:sample_rate=48000:d={seconds}[n];"
        f"[t][n]amix=inputs=2,volume={level_db}dB"
    )
    video = f"testsrc2=s={size}:r=25:d={seconds},noise=alls=12:allf=t"
    rate = "3M" if size == "1280x720" else "6M"
    q = shlex.quote
    cmd = (
        f"ffmpeg -hide_banner -nostdin -v error -y -f lavfi -i {q(video)}"
        f" -filter_complex {q(audio)} -map 0:v -ac 2 -c:v libx264 -preset veryfast -b:v {rate}"
        " -pix_fmt yuv420p -g 150 -keyint_min 150 -sc_threshold 0"
        f" -c:a aac -b:a 128k -ar 48000 {q(str(path))}"
    )
    subprocess.run(shlex.split(cmd), check=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@attrs.frozen
class Run:
    wall: float  # seconds
    cpu: float  # CPU seconds of the ffmpeg/ffprobe children
    loudness_error: float  # |measured - target| on the output, LU
    remuxed: bool


async def prepare_once(source: Path, root: Path, asset_id: str) -> Run:
    cpu0, start = children_cpu(), time.perf_counter()
    prepared = await prepare(source, root, asset_id, PROFILE, QUALITY)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu0
    after = await measure_loudness(prepared.playlist, timeout=120, own_hls=True)
    error = abs(after.integrated_lufs - QUALITY.target_audio_lufs)
    return Run(wall, cpu, error, prepared.remuxed)


async def level_at_target(source: Path, out: Path) -> None:
    """A copy of ``source`` whose audio is already at the target loudness (video copied)."""
    m = await measure_loudness(source, timeout=120)
    gain = QUALITY.target_audio_lufs - m.integrated_lufs
    cmd = (
        f"ffmpeg -hide_banner -nostdin -v error -y -i {shlex.quote(str(source))} -c:v copy"
        f" -af volume={gain:.2f}dB -c:a aac -b:a 128k -ar 48000 {shlex.quote(str(out))}"
    )
    subprocess.run(shlex.split(cmd), check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds = args.seconds
    work = Path(tempfile.mkdtemp(prefix="vvtv-bench-prep-"))
    try:
        full_hd = work / "src_1080p.mp4"
        conforming = work / "src_720p.mp4"
        at_target = work / "src_720p_at_target.mp4"
        make_source(full_hd, "1920x1080", seconds, -14.0)
        make_source(conforming, "1280x720", seconds, -20.0)
        trio.run(level_at_target, conforming, at_target)

        sources = {"transcode": full_hd, "remux": conforming, "remux_audio_copied": at_target}
        runs: dict[str, list[Run]] = {kind: [] for kind in sources}
        for i in range(args.runs):
            for kind, source in sources.items():
                root = work / f"hls-{kind}-{i}"
                run = trio.run(prepare_once, source, root, kind)
                runs[kind].append(run)
                shutil.rmtree(root)
                print(f"run {i + 1} {kind}: {run}", file=sys.stderr)

        def factor(kind: str) -> float:
            return round(seconds / statistics.median(r.wall for r in runs[kind]), 1)

        def cpu_factor(kind: str) -> float:
            # What two otherwise idle cores would give if the work used both fully.
            return round(seconds / (statistics.median(r.cpu for r in runs[kind]) / CORES), 1)

        summary = {
            "media_seconds": seconds,
            "runs": args.runs,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "transcode_realtime_factor": factor("transcode"),
            "remux_realtime_factor": factor("remux"),
            "remux_audio_copied_realtime_factor": factor("remux_audio_copied"),
            "loudness_error_lu": round(
                max(r.loudness_error for rs in runs.values() for r in rs), 2
            ),
            "cpu_bound_realtime_factor": {kind: cpu_factor(kind) for kind in runs},
            "remuxed": {k: all(r.remuxed for r in rs) for k, rs in runs.items()},
            "targets": {"transcode": 4, "remux": 100, "loudness_error_lu": 0.5},
            "wall_seconds": {k: [round(r.wall, 3) for r in rs] for k, rs in runs.items()},
            "cpu_seconds": {k: [round(r.cpu, 3) for r in rs] for k, rs in runs.items()},
            "x264_preset": DEFAULT_X264_PRESET,
        }
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
