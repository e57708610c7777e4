"""Benchmark: preparing media for air, against the bare ffmpeg a user would run by hand.

Three generated 60-second sources (made first, not timed): a 1080p25 clip (transcoded to the
720p25 profile), a conforming 720p25 clip whose audio is 4 LU under target (remuxed, audio
normalised) and the same clip with its audio already at target (remuxed, audio copied). The video
is ``testsrc2`` with temporal grain so x264 has real detail to encode; the audio is a tone mixed
with pink noise.

Every run times, on the same clip and seconds apart, vvtv as the channel runs it (``make_ready``:
prepare, with the audio pass over the source that measures its loudness, then the QA gate, which
reuses that pass when the asset copied the track) and the bare tool. "vvtv" in the ratios is the
wall time until the asset that airs exists: ``make_ready``'s prepare step, everything but the QA.
Then the same asset's QA is timed again as a full decode (``qa_vs_full_qa``: what reusing the
source's audio pass saves).

- ``transcode_vs_ffmpeg``: the 1080p clip ÷ one plain ``ffmpeg`` transcode to HLS with the same
  profile (720p25, bitrate, keyframe interval) and the same x264 preset (target ≤ 1.25);
- ``remux_vs_ffmpeg``: the conforming clip whose audio needs normalising ÷ plain
  ``ffmpeg -c:v copy -c:a aac`` to HLS (target ≤ 1.5);
- ``remux_audio_on_target_realtime``: media seconds per wall second for the conforming clip whose
  audio is already at target (target ≥ 100);
- ``loudness_error_lu``: worst |integrated loudness - target| of the prepared outputs (≤ 0.5);
- as information: ``qa_vs_full_qa`` (the QA gate as it ran ÷ a full decode of the same asset),
  each step's seconds (``steps_s``), the absolute real-time factors, and the CPU seconds of the
  ffmpeg children (``cpu_s``).

And a commit window: ``window_speedup`` is the wall time of the real ``Committer`` making 8 clips
ready one at a time (``VVTV_PREPARE_CONCURRENCY=1``, what it did before) ÷ the same window with the
default concurrency (the cores), each on a fresh channel (real store, real media, the clips in its
folder source); target ≥ 1.7 on 2 cores. The window mixes 4 1080p clips (transcoded) and 4
conforming clips (remuxed, audio normalised), ``--window-seconds`` long each; also reported: the
CPU seconds of the ffmpeg children per mode, and how many cores each mode kept busy.

Which of the three goes first turns round from run to run, and the ratios are medians of the
per-run ratios: the machine is shared, and a ratio of two timings taken seconds apart holds where
absolute figures move with the load (printed: the 1-minute load average before and after).

Last line: one JSON object. ``--seconds``/``--window-seconds`` shorten the clips for a smoke run;
``--only clips|window`` runs one half.

    nice -n 5 .venv/bin/python ops/bench/prep.py [--seconds 60] [--runs 3] [--window-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import commit_plan, make_settings
from vvtv.core.model import QAReport
from vvtv.core.settings import usable_cores
from vvtv.media.ffmpeg import ffmpeg_args, run_tool
from vvtv.media.loudness import measure_loudness
from vvtv.media.prepare import DEFAULT_X264_PRESET, SEGMENT_PATTERN, Prepared
from vvtv.media.qa import qa_check
from vvtv.media.ready import make_ready
from vvtv.media.slate import ensure_slate
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

PROFILE = ChannelProfile()
QUALITY = QualityPolicy()
TARGETS = {
    "transcode_vs_ffmpeg": 1.25,
    "remux_vs_ffmpeg": 1.5,
    "remux_audio_on_target_realtime": 100,
    "loudness_error_lu": 0.5,
    "window_speedup": 1.7,
}


async def make_source(path: Path, size: str, seconds: float, level_db: float) -> None:
    audio = (
        f"sine=f=220:sample_rate=48000:d={seconds}[t];"
        f"anoisesrc=color=pink:amplitude=0.3:sample_rate=48000:d={seconds}[n];"
        f"[t][n]amix=inputs=2,volume={level_db}dB"
    )
    rate = "3M" if size == "1280x720" else "6M"
    args = ffmpeg_args(
        "-v", "error",
        "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds},noise=alls=12:allf=t",
        "-filter_complex", audio, "-map", "0:v", "-ac", "2",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", rate, "-pix_fmt", "yuv420p",
        "-g", "150", "-keyint_min", "150", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", str(path),
    )  # fmt: skip
    await run_tool(args, timeout=600)


async def level_to(source: Path, out: Path, lufs: float) -> None:
    """A copy of ``source`` (video copied) whose audio measures ``lufs``."""
    m = await measure_loudness(source, timeout=120)
    gain = lufs - m.integrated_lufs
    args = ffmpeg_args(
        "-v", "error", "-i", str(source), "-c:v", "copy", "-af", f"volume={gain:.2f}dB",
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", str(out),
    )  # fmt: skip
    await run_tool(args, timeout=120)


def bare_hls(out: Path) -> list[str]:
    return [
        "-f", "hls", "-hls_time", str(PROFILE.segment_seconds), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(out / SEGMENT_PATTERN), str(out / "index.m3u8"),
    ]  # fmt: skip


def bare_transcode(source: Path, out: Path) -> list[str]:
    """What a user would type: scale to the profile, same preset, bitrate and keyframes."""
    p = PROFILE
    gop = str(p.fps * p.segment_seconds)
    return ffmpeg_args(
        "-v", "error", "-i", str(source),
        "-vf", f"fps={p.fps},scale={p.width}:{p.height}",
        "-c:v", "libx264", "-preset", DEFAULT_X264_PRESET, "-profile:v", "high",
        "-b:v", f"{p.video_bitrate_kbps}k", "-maxrate", f"{p.video_bitrate_kbps * 3 // 2}k",
        "-bufsize", f"{p.video_bitrate_kbps * 2}k",
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{p.audio_bitrate_kbps}k", *bare_hls(out),
    )  # fmt: skip


def bare_remux(source: Path, out: Path) -> list[str]:
    return ffmpeg_args(
        "-v", "error", "-i", str(source), "-c:v", "copy",
        "-c:a", "aac", "-b:a", f"{PROFILE.audio_bitrate_kbps}k", *bare_hls(out),
    )  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@attrs.frozen
class Timing:
    wall: float
    cpu: float  # CPU seconds of the ffmpeg/ffprobe children


async def timed(step: Callable[[], Awaitable[Any]]) -> tuple[Timing, Any]:
    cpu0, t0 = children_cpu(), time.perf_counter()
    result = await step()
    return Timing(time.perf_counter() - t0, children_cpu() - cpu0), result


@attrs.frozen
class Pair:
    """One run of one kind: the bare tool and vvtv on the same clip."""

    bare: Timing
    ready: Timing  # make_ready: prepare and the QA gate, as the committer runs them
    steps: dict[str, float]  # make_ready's own split: prepare, qa
    full_qa: float  # the same asset's QA as a full decode (no reuse), wall seconds
    loudness_error: float
    remuxed: bool
    audio: str

    @property
    def prepared_s(self) -> float:
        """Wall seconds until the asset that airs exists: everything but its QA."""
        return self.steps["prepare"]

    @property
    def ratio(self) -> float:
        return self.prepared_s / self.bare.wall


async def one_pair(kind: str, source: Path, work: Path, run: int) -> Pair:
    bare_out = work / f"bare-{kind}-{run}"
    bare_out.mkdir()
    root = work / f"hls-{kind}-{run}"
    make_bare = bare_transcode if kind == "transcode" else bare_remux
    steps: dict[str, float] = {}

    async def bare() -> None:
        await run_tool(make_bare(source, bare_out), timeout=1800)

    async def ours() -> tuple[Prepared, QAReport]:
        return await make_ready(source, root, kind, PROFILE, QUALITY, None, timings=steps)

    # Which goes first turns round from run to run (the machine's load drifts).
    order = [bare, ours] if run % 2 == 0 else [ours, bare]
    timings: dict[str, Timing] = {}
    results: dict[str, Any] = {}
    for step in order:
        timings[step.__name__], results[step.__name__] = await timed(step)
    prepared, report = results["ours"]
    assert report.passed, report.reasons
    t0 = time.perf_counter()
    await qa_check(prepared, QUALITY, None)
    full_qa = time.perf_counter() - t0
    after = await measure_loudness(prepared.playlist, timeout=120, own_hls=True)
    shutil.rmtree(bare_out)
    shutil.rmtree(root)
    return Pair(
        bare=timings["bare"],
        ready=timings["ours"],
        steps=steps,
        full_qa=full_qa,
        loudness_error=abs(after.integrated_lufs - QUALITY.target_audio_lufs),
        remuxed=prepared.remuxed,
        audio=prepared.audio_filter.split("=")[0],
    )


async def make_window_clips(folder: Path, seconds: float, count: int) -> list[Path]:
    """``count`` distinct clips, half 1080p (transcoded), half conforming 720p (remuxed)."""
    folder.mkdir(parents=True)
    clips = []
    for i in range(count):
        size = "1920x1080" if i % 2 == 0 else "1280x720"
        clip = folder / f"clip{i}.mp4"
        await make_source(clip, size, seconds, -20.0 - i)  # distinct audio: distinct bytes
        clips.append(clip)
    return clips


@attrs.frozen
class WindowRun:
    concurrency: int
    wall: float
    cpu: float
    queued: int


async def one_window(
    work: Path, slate: Path, clips: list[Path], seconds: float, concurrency: int, tag: str
) -> WindowRun:
    """The real committer's window over ``clips`` on a fresh channel."""
    root = work / f"window-{tag}"
    library = root / "library"
    library.mkdir(parents=True)
    settings = make_settings(root, slate, VVTV_PREPARE_CONCURRENCY=str(concurrency))
    ch = await boot(settings)
    start = ch.clock.now() + timedelta(minutes=30)
    plans = []
    for i, clip in enumerate(clips):
        linked = library / clip.name
        os.link(clip, linked)
        plan = commit_plan(linked.as_uri(), clip.stem, start + timedelta(seconds=seconds * i))
        plans.append(attrs.evolve(plan, duration_sec=seconds))
    ch.store.insert_plans(plans)
    try:
        timing, outcome = await timed(lambda: Committer(ch).run_window(f"bench-{tag}"))
    finally:
        ch.store.close()
    shutil.rmtree(root)
    return WindowRun(concurrency, timing.wall, timing.cpu, outcome.queued)


async def window_bench(work: Path, seconds: float, count: int, runs: int) -> dict[str, Any]:
    slate = Path((await ensure_slate(work / "slate", PROFILE)).dir)
    clips = await make_window_clips(work / "window-clips", seconds, count)
    concurrent = usable_cores()
    pairs: list[tuple[WindowRun, WindowRun]] = []
    for run in range(runs):
        modes = [1, concurrent] if run % 2 == 0 else [concurrent, 1]
        done = {}
        for mode in modes:
            done[mode] = await one_window(work, slate, clips, seconds, mode, f"{run}-{mode}")
            print(f"window run {run + 1}: {done[mode]}", file=sys.stderr)
        assert done[1].queued == done[concurrent].queued == count, done
        pairs.append((done[1], done[concurrent]))

    def med(values: Any) -> float:
        return round(statistics.median(list(values)), 3)

    return {
        "window_speedup": med(seq.wall / con.wall for seq, con in pairs),
        "window_clips": count,
        "window_clip_seconds": seconds,
        "window_concurrency": concurrent,
        "window_wall_s": {
            "sequential": [round(seq.wall, 2) for seq, _ in pairs],
            "concurrent": [round(con.wall, 2) for _, con in pairs],
        },
        "window_cpu_s": {
            "sequential": med(seq.cpu for seq, _ in pairs),
            "concurrent": med(con.cpu for _, con in pairs),
        },
        "window_cores_busy": {
            "sequential": med(seq.cpu / seq.wall for seq, _ in pairs),
            "concurrent": med(con.cpu / con.wall for _, con in pairs),
        },
    }


async def bench(seconds: float, runs: int, work: Path) -> dict[str, Any]:
    full_hd = work / "src_1080p.mp4"
    conforming = work / "src_720p.mp4"
    off_target = work / "src_720p_off_target.mp4"
    on_target = work / "src_720p_on_target.mp4"
    await make_source(full_hd, "1920x1080", seconds, -14.0)
    await make_source(conforming, "1280x720", seconds, -20.0)
    await level_to(conforming, off_target, QUALITY.target_audio_lufs - 4.0)
    await level_to(conforming, on_target, QUALITY.target_audio_lufs)
    conforming.unlink()
    sources = {"transcode": full_hd, "remux": off_target, "remux_audio_on_target": on_target}

    load_before = os.getloadavg()[0]
    pairs: dict[str, list[Pair]] = {kind: [] for kind in sources}
    for run in range(runs):
        for kind, source in sources.items():
            pair = await one_pair(kind, source, work, run)
            pairs[kind].append(pair)
            print(f"run {run + 1} {kind}: ratio {pair.ratio:.3f} {pair}", file=sys.stderr)
    load_after = os.getloadavg()[0]

    def med(values: Any) -> float:
        return statistics.median(list(values))

    def ratio(kind: str) -> float:
        return round(med(p.ratio for p in pairs[kind]), 3)

    def realtime(kind: str) -> float:
        return round(seconds / med(p.prepared_s for p in pairs[kind]), 1)

    def qa_ratio(kind: str) -> float:
        return round(med(p.steps["qa"] / p.full_qa for p in pairs[kind]), 3)

    return {
        "media_seconds": seconds,
        "runs": runs,
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "transcode_vs_ffmpeg": ratio("transcode"),
        "remux_vs_ffmpeg": ratio("remux"),
        "remux_audio_on_target_realtime": realtime("remux_audio_on_target"),
        "loudness_error_lu": round(max(p.loudness_error for ps in pairs.values() for p in ps), 2),
        "targets": TARGETS,
        "remux_audio_on_target_vs_ffmpeg": ratio("remux_audio_on_target"),
        "qa_vs_full_qa": {kind: qa_ratio(kind) for kind in pairs},
        "realtime": {
            kind: {
                "vvtv": realtime(kind),
                "ffmpeg": round(seconds / med(p.bare.wall for p in pairs[kind]), 1),
            }
            for kind in pairs
        },
        "steps_s": {
            kind: {
                step: round(med(p.steps.get(step, 0.0) for p in ps), 3)
                for step in ("prepare", "qa")
            }
            for kind, ps in pairs.items()
        },
        "cpu_s": {
            kind: {
                "ffmpeg": round(med(p.bare.cpu for p in ps), 3),
                "vvtv_with_qa": round(med(p.ready.cpu for p in ps), 3),
            }
            for kind, ps in pairs.items()
        },
        "wall_s": {
            kind: {
                "ffmpeg": [round(p.bare.wall, 3) for p in ps],
                "vvtv_prepared": [round(p.prepared_s, 3) for p in ps],
                "vvtv_with_qa": [round(p.ready.wall, 3) for p in ps],
                "full_qa": [round(p.full_qa, 3) for p in ps],
            }
            for kind, ps in pairs.items()
        },
        "path": {k: {"remuxed": ps[0].remuxed, "audio": ps[0].audio} for k, ps in pairs.items()},
        "x264_preset": DEFAULT_X264_PRESET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window-seconds", type=float, default=20.0)
    parser.add_argument("--window-clips", type=int, default=8)
    parser.add_argument("--only", choices=("clips", "window"), help="run one half only")
    args = parser.parse_args()
    if args.seconds <= 0 or args.runs < 1 or args.window_seconds <= 0 or args.window_clips < 1:
        parser.error("--seconds and --window-seconds must be > 0, --runs and --window-clips >= 1")
    work = Path(tempfile.mkdtemp(prefix="vvtv-bench-prep-"))
    summary: dict[str, Any] = {}
    try:
        if args.only != "window":
            summary.update(trio.run(bench, args.seconds, args.runs, work))
        if args.only != "clips":
            load_before = os.getloadavg()[0]
            summary.update(
                trio.run(window_bench, work, args.window_seconds, args.window_clips, args.runs)
            )
            summary["window_load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
