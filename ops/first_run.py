#!/usr/bin/env python3
"""Measure a first run as a newcomer has it: a fresh clone, `bash ops/bootstrap.sh run`.

    python3 ops/first_run.py                   # clone this checkout's HEAD, watch 65 minutes
    python3 ops/first_run.py --watch-minutes 5 --keep

What it does, in order:
1. clones this repository's current commit into a new directory (``--workdir``, default a
   temporary one) so nothing of this checkout (``.venv``, ``runtime/``) is reused;
2. starts ``bash ops/bootstrap.sh run`` there, the API on a free loopback port
   (``VVTV_API_BIND``) and nothing else configured: the card is the default one;
3. times the install (until ``vvtv run`` starts: the bootstrap ``exec``s it), then the
   daemon from its start to ``/v1/status`` saying ``RUNNING``;
4. then reads ``/v1/status`` and ``/v1/alerts`` every ``--every`` seconds for
   ``--watch-minutes`` and counts every sample that is not RUNNING or shows an alert;
5. stops the daemon with SIGTERM and prints one JSON object on its last line.

Exit 0 when the run reached RUNNING within ``--running-within`` seconds of the daemon's
start and stayed RUNNING without an alert for the whole watch, 1 otherwise, 2 on bad
arguments. Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ops/first_run.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--watch-minutes", type=float, default=65.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--running-within", type=float, default=180.0, help="seconds (goal)")
    parser.add_argument("--start-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    args = parser.parse_args(argv)
    for name in ("watch_minutes", "every", "running_within", "start_timeout"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be a positive number")
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir} is not empty")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def fresh_clone(dest: Path) -> str:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", "--detach", commit], check=True)
    return commit


def is_daemon(pid: int) -> bool:
    """Whether ``pid`` runs ``vvtv run`` yet (the bootstrap execs it: same pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"/vvtv") for a in argv) and b"run" in argv


def measure(args: argparse.Namespace, clone: Path) -> dict[str, Any]:
    commit = fresh_clone(clone)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VVTV_")}
    env["VVTV_API_BIND"] = f"127.0.0.1:{port}"
    log = (clone.parent / "first_run.log").open("w")
    result: dict[str, Any] = {
        "commit": commit,
        "nproc": os.cpu_count(),
        "load_avg_at_start": round(os.getloadavg()[0], 2),
    }
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "ops/bootstrap.sh", "run"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        daemon_at = api_at = running_at = None
        while running_at is None:
            now = time.monotonic()
            if proc.poll() is not None:
                raise RuntimeError(f"bootstrap exited with {proc.returncode} before RUNNING")
            if now - t0 > args.start_timeout:
                raise RuntimeError(f"not RUNNING {args.start_timeout:g} s after the bootstrap")
            if daemon_at is None and is_daemon(proc.pid):
                daemon_at = now
            try:
                status = get_json(f"{base}/v1/status")
            except (OSError, urllib.error.URLError, ValueError):
                status = None
            if status is not None:
                api_at = api_at or now
                if status.get("state") == "RUNNING":
                    running_at = now
            time.sleep(0.5)
        daemon_at = daemon_at or t0
        result |= {
            "install_s": round(daemon_at - t0, 1),
            "daemon_start_to_api_s": round((api_at or running_at) - daemon_at, 1),
            "daemon_start_to_running_s": round(running_at - daemon_at, 1),
            "bootstrap_to_running_s": round(running_at - t0, 1),
            "load_avg_at_running": round(os.getloadavg()[0], 2),
        }
        samples = not_running = with_alerts = errors = 0
        codes: set[str] = set()
        buffers: list[float] = []
        end = running_at + args.watch_minutes * 60
        while time.monotonic() < end:
            time.sleep(args.every)
            try:
                status, alerts = get_json(f"{base}/v1/status"), get_json(f"{base}/v1/alerts")
            except (OSError, urllib.error.URLError, ValueError):
                errors += 1
                continue
            samples += 1
            buffers.append(float(status.get("buffer_minutes", 0.0)))
            not_running += status.get("state") != "RUNNING"
            if alerts.get("count", 0):
                with_alerts += 1
                codes |= {a.get("code", "?") for a in alerts.get("alerts", [])}
        result |= {
            "watched_min": round((time.monotonic() - running_at) / 60, 1),
            "samples": samples,
            "samples_not_running": not_running,
            "samples_with_alerts": with_alerts,
            "alert_codes": sorted(codes),
            "request_errors": errors,
            "buffer_minutes_min": min(buffers, default=None),
            "buffer_minutes_at_end": buffers[-1] if buffers else None,
            "load_avg_at_end": round(os.getloadavg()[0], 2),
        }
        result["ok"] = (
            result["daemon_start_to_running_s"] <= args.running_within
            and samples > 0
            and not_running == with_alerts == errors == 0
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parent = args.workdir or Path(tempfile.mkdtemp(prefix="vvtv-first-run-"))
    parent.mkdir(parents=True, exist_ok=True)
    try:
        result = measure(args, parent / "vvtv")
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        result = {"ok": False, "error": str(exc), "log": str(parent / "first_run.log")}
    finally:
        if not args.keep:
            shutil.rmtree(parent / "vvtv", ignore_errors=True)
    print(json.dumps(result, sort_keys=True))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
