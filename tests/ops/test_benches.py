"""Every benchmark in ``ops/bench/`` runs end to end, smoke-sized, and ends with its figures.

Nothing else runs the benchmarks (``tests/proof/test_simweek.py`` and
``tests/daemon/test_outputs_live.py`` import their parts, not the scripts), and ``air.py``
was broken for weeks after a rename before anyone noticed (issue 20). Here each one runs as
a subprocess, as PERFORMANCE.md runs it, with the smallest arguments that still take it
through every phase (its baseline included), and must:

- exit 0 within its timeout;
- print, as its last stdout line, one strict JSON object (no NaN: a figure that was not
  measured is a failure) holding the figures its docstring documents, its same-run ratios
  against the baseline finite and positive;
- show that the run was the one asked for (counts that follow from the arguments) and, where
  a figure is a rule rather than a speed (no dead air, no timestamp regression), keep it;
- leave nothing behind: no process of its session still running, nothing in its TMPDIR.

Slow (about five minutes on two shared cores), so opt-in:

    nice -n 5 .venv/bin/python -m pytest -m slow tests/ops/test_benches.py -v

No speed is asserted: figures on a smoke-sized run on a shared machine say nothing; the
targets are read from full runs (ops/PERFORMANCE.md). The tools the benchmarks need (ffmpeg,
nginx with the RTMP module, node with the edge's npm packages) are installed by
``bash ops/bootstrap.sh test``, so a missing one fails here, naming it, rather than skipping.
``api.py`` uses ``wrk`` when installed (bootstrap does not install it) and an httpx load
process otherwise: both are accepted, and ``load_generator`` says which ran.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.support.push import have_rtmp_server

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "ops" / "bench"
Figures = dict[str, Any]


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@attrs.frozen
class Bench:
    """One smoke run; ``args``, ``keys``, ``ratios`` and ``tools`` are space-separated."""

    script: str
    args: tuple[str, ...] = attrs.field(converter=words)
    timeout_s: float
    keys: tuple[str, ...] = attrs.field(converter=words)  # figures its docstring documents
    ratios: tuple[str, ...] = attrs.field(converter=words)  # against a same-run baseline
    check: Callable[[Figures], None]  # the run was the one asked for; its rules held
    # Installed by ops/bootstrap.sh (test): a missing one is a broken setup, not a skip.
    tools: tuple[str, ...] = attrs.field(default="", converter=words)


def check_air(f: Figures) -> None:
    assert f["runs"] == 1
    assert f["timeline_entries"] > 1 and f["timeline_segments"] > 0


def check_runtime(f: Figures) -> None:
    assert f["rounds"] == 1  # --quick


def check_planning(f: Figures) -> None:
    assert f["runs"] == 1
    assert f["screen_3000_accepted"] == f["screen_3000_naive_kept"] > 0


def check_simweek(f: Figures) -> None:
    # One simulated day from Monday 04:00 crosses one nightly (03:00): every part ran.
    assert f["simulated_days"] == 1 and f["nightly_runs"] == 1 and f["daily_reports"] == 1
    assert f["aired_items"] > 0
    assert f["dead_air_s"] == 0 and f["untraceable_items"] == 0, f
    assert f["actor_restarts"] == 0 and f["missing_daily_reports"] == 0, f


def check_recovery(f: Figures) -> None:
    assert (f["audit_events"], f["plans"], f["queue_entries"], f["runs"]) == (2000, 1000, 50, 1)
    assert f["api_up"] is True
    # The 40 queue entries from now on, and the 500 plans in flight, came back.
    assert f["recovered_queue"] == 40 and f["recovered_plans_in_flight"] == 500


def check_prep(f: Figures) -> None:
    assert f["media_seconds"] == 4 and f["runs"] == 1 and f["window_clips"] == 2
    # The three paths the ratios are about: a transcode, a remux whose audio is normalised,
    # a remux whose audio is copied.
    assert f["path"]["transcode"]["remuxed"] is False
    assert f["path"]["remux"] == {"remuxed": True, "audio": "volume"}
    assert f["path"]["remux_audio_on_target"] == {"remuxed": True, "audio": "copy"}
    # The QA gate as it ran against a full decode of the same asset, per kind of clip.
    qa = f["qa_vs_full_qa"]
    assert set(qa) == set(f["path"]) and all(math.isfinite(r) and r > 0 for r in qa.values()), qa


def check_api(f: Figures) -> None:
    assert f["load_generator"] in ("wrk", "httpx")
    assert (f["http_runs"], f["ws_runs"]) == (1, 1)
    assert f["ws_clients"] == 20  # every dashboard connected, beside the stalled one


def check_load(f: Figures) -> None:
    assert f["ws_clients"] == 20
    assert f["http_requests"] == 75  # 5 a second for 15 s, every 5th a signed control call
    assert f["event_loop_lag_samples"] > 0


def check_outputs(f: Figures) -> None:
    assert f["runs"] == 1 and f["xmltv_programmes"] == 1440
    assert f["push_outputs"] == 2 and f["push_segments_sent"] > 0
    assert f["push_timestamp_regressions"] == 0, f
    assert f["rendition_runs"] == 1


def check_edge(f: Figures) -> None:
    assert f["viewers"] == [100, 1000] and f["seconds_per_phase"] == 15
    assert f["control_relays"] == 2  # one command per phase, each relayed and applied
    assert f["viewer_requests"] > 0 and f["viewer_bytes_100"] > 0 and f["viewer_bytes_1000"] > 0
    # Viewers are served by the edge: none of their requests reaches the channel.
    assert f["origin_live_requests"] == 0, f


BENCHES = [
    Bench(
        "air.py",
        "--runs 1 --ticks 50 --hours 1",
        120,
        keys="tick_us advance_us naive_window_us curator_review_ms fill_gap_60min_ms ticks_per_s"
        " tick_cpu_us",
        ratios="window_speedup",
        check=check_air,
    ),
    Bench(
        "runtime.py",
        "--quick",
        120,
        keys="raw_msgs_per_s cast_msgs_per_s raw_rtt_p99_us call_p99_us restart_p99_ms"
        " restart_cpu_p99_ms raw_restart_p99_ms",
        ratios="cast_ratio cast_await_ratio call_ratio_p99 restart_vs_raw_p99"
        " restart_cpu_vs_raw_p99",
        check=check_runtime,
    ),
    Bench(
        "planning.py",
        "--runs 1",
        180,
        keys="grid_1000_30themes_s grid_3000_30themes_s grid_5000_30themes_s"
        " grid_3000_unique_themes_short_s screen_3000_s rescore_8000_s",
        ratios="grid_1000_vs_naive grid_3000_vs_naive grid_5000_vs_naive"
        " grid_3000_unique_themes_short_vs_naive screen_3000_vs_naive music_cap_ratio"
        " rescore_vs_grid",
        check=check_planning,
    ),
    Bench(
        "simweek.py",
        "--days 1",
        300,
        keys="wall_s cpu_s cpu_s_per_day rss_growth_mb baseline_tick_us week_cpu_target_s"
        " dead_air_s untraceable_items",
        ratios="day_in_ticks",  # a simulated day's CPU in Buffer ticks timed in the same process
        check=check_simweek,
    ),
    Bench(
        "recovery.py",
        "--audit 2000 --plans 1000 --queue 50 --runs 1",
        180,
        keys="recover_s bare_read_s db_mb store_recover_s transition_p50_us audit_append_p50_us",
        ratios="recover_vs_bare_read recover_cpu_vs_bare_read",
        check=check_recovery,
        tools="ffmpeg",
    ),
    Bench(
        "prep.py",
        "--seconds 4 --runs 1 --window-seconds 4 --window-clips 2",
        400,
        keys="remux_audio_on_target_realtime loudness_error_lu qa_vs_full_qa realtime steps_s"
        " cpu_s window_cpu_s window_cores_busy",
        ratios="transcode_vs_ffmpeg remux_vs_ffmpeg window_speedup",
        check=check_prep,
        tools="ffmpeg ffprobe",
    ),
    Bench(
        "api.py",
        "--http-runs 1 --seconds 1 --runs 1 --clients 20 --ws-seconds 2 --ws-procs 2",
        300,
        keys="bare_rps status_rps bare_p99_ms status_p99_ms ws_delivery_p99_ms"
        " ws_delivery_p99_ms_no_stall bare_ws_delivery_p99_ms",
        ratios="status_ratio stalled_slowdown_ratio ws_delivery_vs_bare",
        check=check_api,
    ),
    Bench(
        "load.py",
        "--minutes 0.25 --clients 20 --rps 5 --ws-procs 2 --control-every 5 --warmup 2"
        " --startup-timeout 300",
        600,
        keys="ws_delivery_p99_ms http_p99_ms event_loop_lag_p99_ms event_loop_lag_samples_over_ms"
        " baseline_lag_p99_ms baseline_lag_p99_ms_bucketed rss_mb daemon_cpu_pct errors",
        ratios="event_loop_lag_vs_idle",
        check=check_load,
        tools="ffmpeg",
    ),
    Bench(
        # 25 s of push: phase 2 crosses the boundary between the 30-s programmes.
        "outputs.py",
        "--runs 1 --push-seconds 25 --rendition-runs 1",
        600,
        keys="xmltv_render_ms xmltv_render_cpu_ms push_cpu_pct_per_output push_idle_cpu_pct"
        " push_baseline_cpu_pct push_timestamp_regressions push_duration_error_pct"
        " push_reconnect_s",
        ratios="xmltv_vs_elementtree push_cpu_vs_baseline rendition_remux_ratio"
        " rendition_transcode_ratio",
        check=check_outputs,
        tools="ffmpeg ffprobe nginx-rtmp",
    ),
    Bench(
        "edge.py",
        "--seconds 15 --commands 1",
        400,
        keys="origin_bytes_per_stream_minute_100 origin_bytes_per_stream_minute_1000"
        " edge_playlist_lag_p99_segments control_relay_p99_s control_relay_stages_p99_s"
        " control_round_trip_p99_s viewer_errors edge_cache_hit_ratio targets_met",
        ratios="origin_egress_ratio_1000_vs_100 viewer_segments_per_viewer_ratio_1000_vs_100",
        check=check_edge,
        tools="ffmpeg workerd",
    ),
]


def test_every_benchmark_is_covered() -> None:
    """A benchmark added to ops/bench/ gets its smoke run here (this one is not slow)."""
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(b.script for b in BENCHES)


def missing_tool(tool: str) -> str | None:
    if tool == "nginx-rtmp":
        return None if have_rtmp_server() else "nginx and libnginx-mod-rtmp"
    if tool == "workerd":
        found = (REPO / "cloud" / "worker" / "node_modules" / ".bin" / "workerd").exists()
        return None if found and shutil.which("node") else "node and cloud/worker's npm packages"
    return None if shutil.which(tool) else tool


def session_members(sid: int) -> list[str]:
    """``pid command`` of every live process in session ``sid`` (zombies are gone already)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat.split(" (", 1)[1].rsplit(")", 1)
        fields = rest.split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(f"{proc.name} {comm}")
    return found


def strict_json(line: str) -> Figures:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON (a figure that was not measured)")

    figures = json.loads(line, parse_constant=refuse)
    assert isinstance(figures, dict), f"last line is JSON but not an object: {line[:200]}"
    return figures


def run_bench(bench: Bench, tmp_path: Path) -> Figures:
    """Run ``bench`` in a session of its own (so its every process can be found and, on a
    timeout, killed) with ``TMPDIR`` in the test's directory; its last stdout line, parsed."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args = list(bench.args)
    if bench.script == "recovery.py":
        # Not the shared cache in /tmp; its slate is made beside the database, kept too.
        args += ["--db", str(tmp_path / "cache" / "recovery.db")]
    proc = subprocess.Popen(
        ["nice", "-n", "5", sys.executable, str(BENCH / bench.script), *args],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=bench.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"{bench.script} still running after {bench.timeout_s:g} s (killed)\n"
            f"stdout tail:\n{out[-2000:]}\nstderr tail:\n{err[-3000:]}"
        )
    took = time.monotonic() - started
    print(f"{bench.script} {' '.join(bench.args)}: {took:.1f} s")
    assert proc.returncode == 0, (
        f"{bench.script} exited {proc.returncode}\nstdout tail:\n{out[-2000:]}\n"
        f"stderr tail:\n{err[-3000:]}"
    )
    # Whatever it started has ended with it (a few seconds' grace for exiting ones).
    deadline = time.monotonic() + 5
    while (left := session_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"{bench.script} left processes running: {left}"
    leftovers = sorted(str(p.relative_to(scratch)) for p in scratch.iterdir())
    assert not leftovers, f"{bench.script} left files in its TMPDIR: {leftovers[:10]}"
    lines = out.strip().splitlines()
    assert lines, f"{bench.script} printed nothing on stdout\nstderr tail:\n{err[-3000:]}"
    return strict_json(lines[-1])


@pytest.mark.slow
@pytest.mark.parametrize("bench", BENCHES, ids=lambda b: b.script.removesuffix(".py"))
def test_benchmark_runs_and_ends_with_its_figures(bench: Bench, tmp_path: Path) -> None:
    missing = [m for tool in bench.tools if (m := missing_tool(tool))]
    if missing:
        pytest.fail(f"{bench.script} needs {', '.join(missing)}: run `bash ops/bootstrap.sh test`")
    figures = run_bench(bench, tmp_path)
    absent = [k for k in (*bench.keys, *bench.ratios) if figures.get(k) is None]
    assert not absent, f"{bench.script}: figures missing from its JSON: {absent}"
    for name in bench.ratios:
        value = figures[name]
        assert isinstance(value, int | float) and not isinstance(value, bool), (name, value)
        assert math.isfinite(value) and value > 0, (name, value)
    bench.check(figures)
