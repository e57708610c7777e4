"""Benchmark of what the channel hands its audience (issue 18).

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
The push outputs' figures (issue 18, item 4) will join this file.

    nice -n 5 .venv/bin/python ops/bench/outputs.py [--runs 15]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    timeline, plans = day()
    programmes = build_guide(NOW, 24, timeline, plans)
    samples: dict[str, list[float]] = {}
    document = b""

    def keep(name: str, wall: float, cpu: float) -> None:
        samples.setdefault(name, []).append(wall)
        samples.setdefault(name + "_cpu", []).append(cpu)

    for _ in range(args.runs):
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
    print(
        json.dumps(
            {
                "runs": args.runs,
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
        )
    )


if __name__ == "__main__":
    main()
