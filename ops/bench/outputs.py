"""Benchmark of what the channel hands its audience (issue 18): the guide, and push outputs.

``xmltv_render_ms``: one answer of ``/iptv/xmltv.xml`` for 24 hours of guide, minus HTTP:
the guide built from the timeline and the plan grid (``vvtv.iptv.guide.build_guide``)
and rendered (``vvtv.iptv.xmltv.render_xmltv``), with hostile titles to escape. The day
is dense on purpose: a 2-hour timeline of 1-minute items and 22 hours of 1-minute plans
(1,440 programmes; a real day of 15-minute items is ~100). Target: at most 50 ms.

Baseline, same run, same programmes: the document built with the standard library's
``xml.etree.ElementTree`` (elements, then ``tostring``), the obvious way to write XML in
Python. ``xmltv_vs_elementtree`` = vvtv's render / ElementTree's (below 1: faster).

Medians of ``--runs``, wall clock and this process's CPU time (on a shared machine the
CPU time is the steadier figure: wall time grows with everyone else's load); the two are
measured alternately so machine noise hits both; the ratio compares CPU times.

**Push outputs** (``--push-seconds``, default 60; 0 skips them). A real channel runs in this
process (the real daemon: store, actors, Buffer, live playlist) at the default profile
(1280x720, 25 fps, 2.5 Mbit/s video, 6 s segments) airing two real prepared programmes by
turns (30 s each, so the run crosses item boundaries), with ``--outputs`` push outputs to a
real nginx-rtmp on loopback (Debian's ``libnginx-mod-rtmp``, recording everything). Phases:

1. outputs switched off: this process's CPU is the channel's own (``push_idle_cpu_pct``);
   meanwhile the **baseline** runs: a bare ``ffmpeg -re -stream_loop -1 -i <the same
   segments> -c copy -f flv`` push of the same files to the same server
   (``push_baseline_cpu_pct``);
2. outputs on for ``--push-seconds``: per output, the CPU this process spent above phase 1
   (feeding, rebasing) plus its ffmpeg's (``/proc/<pid>/stat``) =
   ``push_cpu_pct_per_output`` (% of one core; target <= 5, remux only);
   ``push_cpu_vs_baseline`` divides it by the baseline's;
3. the recordings, read by ffprobe: ``push_timestamp_regressions`` (DTS not above the one
   before, summed over every stream of every recording; target 0 — ``--push-seconds 600``
   is the 10-minute run) and ``push_duration_error_pct`` (recorded media against the wall
   time each output was connected);
4. nginx killed and started again at once: ``push_reconnect_s``, from the kill until every
   output has noticed the drop and is connected again (target <= 10).

**Second rendition** (``--rendition-runs``, default 3; 0 skips them): what the 480p rung
(``channel.renditions``) adds to preparation, as a ratio against the main rendition alone
(CPU of the ffmpeg children), for a source that is remuxed and one that is transcoded
(``rendition_remux_ratio``, ``rendition_transcode_ratio``); see ``rendition_figures``.

    nice -n 5 .venv/bin/python ops/bench/outputs.py [--runs 15] [--push-seconds 60|600]
        [--rendition-runs 3]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.core.convert import format_datetime
from vvtv.core.model import PlanItem, PlanState
from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.guide import Programme, build_guide
from vvtv.iptv.xmltv import render_xmltv, xmltv_time

NOW = datetime(2026, 3, 28, 12, 0, 3, tzinfo=UTC)  # a day that crosses a DST change
CHANNEL = ChannelInfo(name="Voulez Vous", logo_url="https://cdn.example.com/logo.png",
                      tz=ZoneInfo("Europe/Paris"))  # fmt: skip
HOSTILE = ' <b>&amp; "quoted"</b>\x07'
TIMELINE_MINUTES = 120
ITEM_SECONDS = 60.0
T = TypeVar("T")


def day() -> tuple[list[dict], list[PlanItem]]:
    """A dense day: the timeline's entries (as /v1/queue shows them) and the plans after."""
    timeline = [
        {
            "start_at": format_datetime(NOW + timedelta(seconds=ITEM_SECONDS * i)),
            "duration_sec": ITEM_SECONDS,
            "title": f"Programme {i}{HOSTILE}",
            "theme": ("nature", "city", "music")[i % 3],
            "fallback_level": 2 if i % 40 == 39 else 0,  # some emergency filler
            "plan_id": f"plan-t{i}",
        }
        for i in range(TIMELINE_MINUTES)
    ]
    plans = [
        PlanItem(
            plan_id=f"plan-{i}",
            source_url="https://media.example.com/v.mp4",
            title=f"Planned {i}{HOSTILE}",
            duration_sec=ITEM_SECONDS,
            discovered_at=NOW - timedelta(days=1),
            state=PlanState.SCHEDULED,
            theme=("nature", "city", "music")[i % 3],
            tags=("tag-a", "tag-b"),
            start_at=NOW + timedelta(minutes=TIMELINE_MINUTES + i),
        )
        for i in range(24 * 60 - TIMELINE_MINUTES)
    ]
    return timeline, plans


def vvtv_render(timeline: list[dict], plans: list[PlanItem]) -> bytes:
    programmes = build_guide(NOW, 24, timeline, plans)
    return render_xmltv(
        CHANNEL, programmes, logo=CHANNEL.logo_url, page_url="https://tv.example.com/watch"
    )


def elementtree_render(programmes: Sequence[Programme]) -> bytes:
    """The same document with ElementTree (programmes already built and cleaned)."""
    tv = ElementTree.Element("tv", {"generator-info-name": "vvtv"})
    channel = ElementTree.SubElement(tv, "channel", id=CHANNEL.id)
    ElementTree.SubElement(channel, "display-name").text = CHANNEL.name
    ElementTree.SubElement(channel, "icon", src=CHANNEL.logo_url)
    ElementTree.SubElement(channel, "url").text = "https://tv.example.com/watch"
    tz = CHANNEL.tz
    for p in programmes:
        start, stop = xmltv_time(p.start, tz), xmltv_time(p.stop, tz)
        element = ElementTree.SubElement(
            tv, "programme", start=start, stop=stop, channel=CHANNEL.id
        )
        ElementTree.SubElement(element, "title").text = p.title
        if p.desc:
            ElementTree.SubElement(element, "desc").text = p.desc
        if p.category:
            ElementTree.SubElement(element, "category").text = p.category
    return ElementTree.tostring(tv, encoding="utf-8", xml_declaration=True)


def _timed(fn: Callable[..., T], *args: Any) -> tuple[float, float, T]:
    """(wall seconds, CPU seconds of this process, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def guide_figures(runs: int) -> dict[str, Any]:
    timeline, plans = day()
    programmes = build_guide(NOW, 24, timeline, plans)
    samples: dict[str, list[float]] = {}
    document = b""

    def keep(name: str, wall: float, cpu: float) -> None:
        samples.setdefault(name, []).append(wall)
        samples.setdefault(name + "_cpu", []).append(cpu)

    for _ in range(runs):
        wall, cpu, document = _timed(vvtv_render, timeline, plans)
        keep("ours", wall, cpu)
        wall, cpu, built = _timed(build_guide, NOW, 24, timeline, plans)
        keep("build", wall, cpu)
        wall, cpu, _ = _timed(render_xmltv, CHANNEL, built)
        keep("render", wall, cpu)
        wall, cpu, _ = _timed(elementtree_render, programmes)
        keep("etree", wall, cpu)
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    load = os.getloadavg()[0]
    print(
        f"24 h guide, {len(programmes)} programmes, {len(document) // 1024} KiB, load "
        f"average {load:.1f}: build + render {ms['ours']:.1f} ms wall / {ms['ours_cpu']:.1f} "
        f"ms CPU (build {ms['build_cpu']:.1f}, render {ms['render_cpu']:.1f}); ElementTree "
        f"render {ms['etree']:.1f} ms wall / {ms['etree_cpu']:.1f} ms CPU",
        flush=True,
    )
    return {
        "runs": runs,
        "load_average": round(load, 2),
        "xmltv_programmes": len(programmes),
        "xmltv_bytes": len(document),
        "xmltv_render_ms": round(ms["ours"], 2),
        "xmltv_render_cpu_ms": round(ms["ours_cpu"], 2),
        "xmltv_build_cpu_ms": round(ms["build_cpu"], 2),
        "xmltv_render_only_cpu_ms": round(ms["render_cpu"], 2),
        "xmltv_elementtree_ms": round(ms["etree"], 2),
        "xmltv_elementtree_cpu_ms": round(ms["etree_cpu"], 2),
        "xmltv_vs_elementtree": round(ms["render_cpu"] / ms["etree_cpu"], 3),
        "xmltv_target_ms": 50,
    }


# ------------------------------------------------------------------ push outputs

PUSH_PROGRAMME_S = 30.0
IDLE_S = 30.0  # phase 1: the channel alone, and the baseline push
STREAM_PREFIX = "bench-out-"


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(name: str) -> list[int]:
    """Pids of this process's children running ``name``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat.split(" (", 1)[1].rsplit(")", 1)
        if comm == name and int(rest.split()[1]) == os.getpid():
            found.append(int(proc.name))
    return found


async def push_figures(seconds: float, outputs: int) -> dict[str, Any]:
    """Run the channel with ``outputs`` push outputs to nginx-rtmp; the push figures."""
    import shutil
    import subprocess
    import tempfile

    from tests.daemon.harness import CARD, make_settings, running_channel
    from tests.support.media import make_clip, make_slate
    from tests.support.push import (
        RtmpServer,
        have_rtmp_server,
        media_span,
        probe_packets,
        regressions,
    )
    from vvtv.air import timeline
    from vvtv.core.messages import SetOutputEnabled
    from vvtv.core.model import AssetItem, QAReport, QAStatus
    from vvtv.media.prepare import prepare
    from vvtv.ownercard.card import ChannelProfile, QualityPolicy
    from vvtv.store import open_store

    if not have_rtmp_server():
        raise SystemExit("push figures need nginx and libnginx-mod-rtmp (apt)")
    root = Path(tempfile.mkdtemp(prefix="vvtv-bench-push-"))
    profile = ChannelProfile()
    print("push: rendering the slate and two programmes at the default profile", flush=True)
    slate = await trio.to_thread.run_sync(make_slate, root / "slate-template", profile)
    server = RtmpServer(root / "rtmp")  # its port is chosen now; started once the media is made
    names = [f"out{i}" for i in range(outputs)]
    card = {
        **CARD,
        "outputs": [
            {"name": n, "url": f"{server.url}/{STREAM_PREFIX}{n}", "enabled": False} for n in names
        ],
    }
    settings = make_settings(root, slate, card)
    assets = []
    for i, pattern in enumerate(("testsrc2", "testsrc")):
        # 1080p sources: prepare transcodes them to the profile's 720p at its bitrate.
        clip = await trio.to_thread.run_sync(
            lambda i=i, pattern=pattern: make_clip(
                root / f"src{i}.mp4", seconds=PUSH_PROGRAMME_S, size="1920x1080",
                video=pattern, tone_hz=440 + 220 * i, extra=("-b:v", "6000k"),
            )
        )  # fmt: skip
        prepared = await prepare(clip, settings.hls_dir, f"prog{i}", profile, QualityPolicy())
        assets.append(prepared)
    # The timeline: the two programmes by turns for the whole run, as a restart finds it.
    total = IDLE_S + seconds + 90
    store = open_store(settings.state_db)
    entries: list[Any] = []
    now = datetime.now(UTC)
    for prepared in assets:
        store.save_asset(
            AssetItem(
                asset_id=prepared.asset_id, plan_id="", source_url="bench:",
                checksum=prepared.asset_id, local_path=str(prepared.dir), created_at=now,
                duration_sec=prepared.duration_sec,
                qa_status=QAStatus.PASSED, qa=QAReport(passed=True, height=720),
                segments_dir=str(prepared.dir), segment_count=len(prepared.segments),
                emergency_eligible=True,
            )
        )  # fmt: skip
    k = 0
    while sum(e.duration_sec for e in entries) < total:
        prepared = assets[k % 2]
        entry = timeline.append(
            entries, now, asset_id=prepared.asset_id, title=f"Programme {k}",
            duration_sec=prepared.duration_sec,
        )  # fmt: skip
        entries.append(entry)
        store.insert_queue_entry(entry)
        k += 1
    store.close()
    baseline_input = root / "baseline.ts"
    baseline_input.write_bytes(
        b"".join((assets[0].dir / seg.path_name).read_bytes() for seg in assets[0].segments)
    )

    result: dict[str, Any] = {"push_outputs": outputs, "push_seconds": seconds}
    try:
        await server.start()
        async with running_channel(settings) as daemon:
            ch = daemon.ch
            await trio.sleep(5)  # boot settles: the first live window, the first status
            # Phase 1: the channel alone; the baseline push beside it.
            print(f"push: phase 1, {IDLE_S:g} s: the channel alone, and the baseline", flush=True)
            baseline = subprocess.Popen(
                [
                    "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                    "-stream_loop", "-1", "-i", str(baseline_input), "-c", "copy",
                    "-f", "flv", f"{server.url}/baseline",
                ],
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            await trio.sleep(3)  # connected and past its start
            cpu0, base0, t0 = time.process_time(), _proc_cpu_s(baseline.pid), time.monotonic()
            await trio.sleep(IDLE_S)
            elapsed = time.monotonic() - t0
            idle_pct = (time.process_time() - cpu0) / elapsed * 100
            baseline_pct = (_proc_cpu_s(baseline.pid) - base0) / elapsed * 100
            baseline.terminate()
            baseline.wait()
            # Phase 2: the outputs on.
            print(f"push: phase 2, {seconds:g} s: {outputs} outputs pushing", flush=True)
            for name in names:
                await daemon.runtime.ref(f"output:{name}").call(SetOutputEnabled(True, "bench"))
            states = [ch.outputs.state(n) for n in names]
            with trio.fail_after(30):
                while not all(s.connected for s in states):
                    await trio.sleep(0.1)
            connected = time.monotonic()
            await trio.sleep(2)
            ffmpegs = _children("ffmpeg")
            cpu1, t1 = time.process_time(), time.monotonic()
            ff1 = {pid: _proc_cpu_s(pid) for pid in ffmpegs}
            await trio.sleep(seconds)
            elapsed = time.monotonic() - t1
            ff_pct = sum(_proc_cpu_s(pid) - c for pid, c in ff1.items()) / elapsed * 100
            python_pct = max(0.0, (time.process_time() - cpu1) / elapsed * 100 - idle_pct)
            # Phase 4 (before the recordings are read): the server dies and comes back.
            recorded_wall = time.monotonic() - connected
            before = [s.reconnects for s in states]
            server.kill()
            killed = time.monotonic()
            await server.start()

            def all_back() -> bool:
                # Connected again after having seen the drop: a state still "connected" from
                # before the kill (the push has not written since) does not count.
                pairs = zip(states, before, strict=True)
                return all(s.connected and s.reconnects > n for s, n in pairs)

            with trio.fail_after(60):
                while not all_back():
                    await trio.sleep(0.05)
            reconnect_s = time.monotonic() - killed
            await trio.sleep(3)
            views = [s.view(ch.clock.now()) for s in states]
    finally:
        await server.stop()
    regressions_total, errors = 0, []
    for name in names:
        first, *later = [p for p in server.recordings() if p.name.startswith(STREAM_PREFIX + name)]
        packets = probe_packets(first)
        regressions_total += sum(regressions(v) for v in packets.values())
        span = media_span(packets["video"])
        errors.append(abs(span - recorded_wall) / recorded_wall * 100)
        for recording in later:
            regressions_total += sum(regressions(v) for v in probe_packets(recording).values())
    per_output = python_pct / outputs + ff_pct / outputs
    print(
        f"push: {outputs} outputs, {seconds:g} s: {per_output:.2f} % of a core each "
        f"(python {python_pct / outputs:.2f}, ffmpeg {ff_pct / outputs:.2f}; channel alone "
        f"{idle_pct:.2f}); baseline bare ffmpeg push {baseline_pct:.2f} %; regressions "
        f"{regressions_total}; reconnect {reconnect_s:.2f} s",
        flush=True,
    )
    result.update(
        {
            "push_cpu_pct_per_output": round(per_output, 3),
            "push_python_cpu_pct_per_output": round(python_pct / outputs, 3),
            "push_ffmpeg_cpu_pct_per_output": round(ff_pct / outputs, 3),
            "push_idle_cpu_pct": round(idle_pct, 3),
            "push_baseline_cpu_pct": round(baseline_pct, 3),
            "push_cpu_vs_baseline": round(per_output / baseline_pct, 3) if baseline_pct else None,
            "push_cpu_target_pct": 5,
            "push_timestamp_regressions": regressions_total,
            "push_duration_error_pct": round(max(errors), 3),
            "push_segments_sent": sum(v["segments_sent"] for v in views),
            "push_segments_skipped": sum(v["segments_skipped"] for v in views),
            "push_segments_dropped": sum(v["segments_dropped"] for v in views),
            "push_reconnect_s": round(reconnect_s, 2),
            "push_reconnect_target_s": 10,
            "push_load_average": round(os.getloadavg()[0], 2),
        }
    )
    shutil.rmtree(root, ignore_errors=True)  # ~90 MB a minute of push (the recordings)
    return result


# ------------------------------------------------------------------ second rendition

RENDITION_CLIP_S = 12.0
LOW_RUNG = (480, 900)  # height, video kbit/s: 854x480 on the 16:9 profile


def _children_cpu_s() -> float:
    """CPU seconds of this process's children that have ended (every ffmpeg run so far)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def rendition_figures(runs: int) -> dict[str, Any]:
    """What the lower rung (``channel.renditions``) costs in preparation, measured on the
    real thing: ``vvtv.media.prepare.prepare`` with the rung (``vvtv.media.rungs``: encoded
    from the prepared main rendition, keyframes on its segment boundaries) against the same
    call without, alternated in the same run. CPU seconds of the ffmpeg children (steady on
    a shared machine, unlike wall time), medians of ``runs``:

    - ``rendition_remux_ratio``: a source that already matches the profile (720p H.264):
      the main rendition is a remux (no decoding), so the rung is nearly all of the cost;
    - ``rendition_transcode_ratio``: a 1080p source, transcoded to 720p for the main one.

    Ratio = prepare with the rung / prepare without. Also the rung's peak segment bitrate
    against the BANDWIDTH the master playlist declares for it (``rendition_peak_ratio``:
    below 1 means the declaration holds).
    """
    import shutil
    import tempfile

    import attrs

    from tests.support.media import make_clip
    from vvtv.air.master import TS_OVERHEAD, maxrate_kbps
    from vvtv.media.prepare import prepare
    from vvtv.ownercard.card import ChannelProfile, QualityPolicy, Rendition

    root = Path(tempfile.mkdtemp(prefix="vvtv-bench-rendition-"))
    profile = ChannelProfile()
    rung = Rendition(*LOW_RUNG)
    ladder = attrs.evolve(profile, renditions=(rung,))
    declared = (maxrate_kbps(rung.video_bitrate_kbps) + profile.audio_bitrate_kbps) * 1000
    declared *= TS_OVERHEAD
    sources = {
        "remux": {"size": "1280x720"},
        "transcode": {"size": "1920x1080", "extra": ("-b:v", "6000k")},
    }
    result: dict[str, Any] = {"rendition_runs": runs, "rendition_clip_s": RENDITION_CLIP_S}
    peaks: list[float] = []
    try:
        for kind, shape in sources.items():
            clip = await trio.to_thread.run_sync(
                lambda kind=kind, shape=shape: make_clip(
                    root / f"{kind}.mp4", seconds=RENDITION_CLIP_S, video="testsrc2", **shape
                )
            )
            cpu_of: dict[str, list[float]] = {"main": [], "ladder": []}
            wall_of: dict[str, list[float]] = {"main": [], "ladder": []}
            for run in range(runs):
                order = ("main", "ladder") if run % 2 == 0 else ("ladder", "main")
                for which in order:
                    cpu, wall = _children_cpu_s(), time.perf_counter()
                    prepared = await prepare(
                        clip,
                        root / "hls",
                        f"{kind}{run}{which}",
                        ladder if which == "ladder" else profile,
                        QualityPolicy(),
                    )
                    wall_of[which].append(time.perf_counter() - wall)
                    cpu_of[which].append(_children_cpu_s() - cpu)
                    assert prepared.remuxed == (kind == "remux"), kind
                    if which == "ladder":
                        assert prepared.rungs == (rung.name,), prepared.rung_errors
                        for i in range(len(prepared.segments)):
                            seg = prepared.dir / f"{rung.name}_{i:05d}.ts"
                            seconds = prepared.segments[i].duration_sec
                            if seconds >= 1.0:  # a short tail says little about the rate
                                peaks.append(seg.stat().st_size * 8 / seconds)
                    shutil.rmtree(prepared.dir)
            main_s = statistics.median(cpu_of["main"])
            with_s = statistics.median(cpu_of["ladder"])
            ratio = with_s / main_s
            wall_ratio = statistics.median(wall_of["ladder"]) / statistics.median(wall_of["main"])
            print(
                f"rendition ({kind} source, {RENDITION_CLIP_S:g} s): prepare {main_s:.2f} s CPU, "
                f"with the 480p rung {with_s:.2f} s CPU: x{ratio:.2f} the preparation "
                f"(wall x{wall_ratio:.2f})",
                flush=True,
            )
            result.update(
                {
                    f"rendition_{kind}_main_cpu_s": round(main_s, 3),
                    f"rendition_{kind}_with_rung_cpu_s": round(with_s, 3),
                    f"rendition_{kind}_ratio": round(ratio, 2),
                    f"rendition_{kind}_wall_ratio": round(wall_ratio, 2),
                }
            )
        result["rendition_peak_bps"] = round(max(peaks))
        result["rendition_declared_bps"] = round(declared)
        result["rendition_peak_ratio"] = round(max(peaks) / declared, 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--push-seconds",
        type=float,
        default=60.0,
        help="how long the outputs push (600: the 10-minute run); 0 skips the push figures",
    )
    parser.add_argument("--outputs", type=int, default=2, help="push outputs at once")
    parser.add_argument(
        "--rendition-runs",
        type=int,
        default=3,
        help="preparations timed per source for the second rendition's cost; 0 skips them",
    )
    args = parser.parse_args()
    result = guide_figures(args.runs)
    if args.push_seconds > 0:
        result.update(trio.run(push_figures, args.push_seconds, args.outputs))
    if args.rendition_runs > 0:
        result.update(trio.run(rendition_figures, args.rendition_runs))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
