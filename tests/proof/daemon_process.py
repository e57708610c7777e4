"""A real ``vvtv run`` in a subprocess, for the chaos tests that SIGKILL it.

Each daemon gets a throwaway runtime dir, an OwnerCard whose only source is a folder of
tiny generated clips, and an API bound to a free loopback port (``127.0.0.1:0``; the
port is read back from the daemon's log). A pre-made slate is copied into the runtime
so boot does not spend ~6 s rendering one. The state database is read with plain
``sqlite3`` (read-only, as an operator would), never through the daemon's own code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.cards import folder_source, write_card
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
VVTV = Path(sys.executable).parent / "vvtv"


class Channel:
    """One channel's files (runtime, card, clips) and the daemon processes run over them."""

    def __init__(self, root: Path, clips: Path, slate: Path | None, **env: str) -> None:
        self.root = root
        self.runtime = root / "runtime"
        self.clips = clips
        self.card = root / "owner_card.yaml"
        write_card(
            self.card,
            search_policy={"allowlist_domains": ["localhost"]},
            schedule_policy={"timezone": "UTC"},
            sources=[folder_source("clips", clips)],
        )
        self.extra_env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.runs = 0
        self.base_url = ""
        if slate is not None and not (self.runtime / "hls" / "slate").exists():
            shutil.copytree(slate, self.runtime / "hls" / "slate")

    # --- process --------------------------------------------------------------------------

    def start(self, *args: str) -> None:
        """Start ``vvtv run *args`` and wait until its API answers."""
        assert self.proc is None or self.proc.poll() is not None, "a daemon is still running"
        self.runs += 1
        self.log_path = self.root / f"daemon-{self.runs}.log"
        env = {
            **os.environ,
            "VVTV_RUNTIME_DIR": str(self.runtime),
            "VVTV_API_BIND": "127.0.0.1:0",
            "VVTV_OWNER_CARD_PATH": str(self.card),
            "VVTV_ENV": "dev",
            **self.extra_env,
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(VVTV), "run", *args], cwd=REPO, env=env, stdout=log, stderr=log
            )
        self.base_url = wait_for("the daemon's API to listen", self._api_url, timeout=60)

    def _api_url(self) -> str | None:
        assert self.proc is not None and self.log_path is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited early ({self.proc.returncode}):\n{self.log()}")
        found = re.search(r"vvtv API on (http://127\.0\.0\.1:\d+)", self.log())
        return found.group(1) if found else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the daemon."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait for a graceful exit; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon ignored SIGTERM for 30 s:\n{self.log()}") from None

    # --- what it did ----------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.runtime / "state" / "vvtv.db"

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the state db as another process would (the daemon may be writing)."""
        if not self.db_path.exists():
            return []
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            con.close()

    def audit(self, event_type: str, actor: str | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT seq, reason_code, plan_id, asset_id, details FROM audit_events"
        sql += " WHERE event_type = ?" + (" AND actor = ?" if actor else "") + " ORDER BY seq"
        return self.query(sql, event_type, *([actor] if actor else []))

    def main_entries(self) -> list[tuple[str, str, str, str, str, str]]:
        """Queue entries of real content: (entry_id, plan_id, asset_id, start, end, status)."""
        return self.query(
            "SELECT entry_id, plan_id, asset_id, start_at, end_at, status FROM queue_entries"
            " WHERE plan_id IS NOT NULL ORDER BY start_at"
        )

    def hls_cursor(self) -> dict[str, Any]:
        rows = self.query("SELECT value FROM live_state WHERE key = 'hls_cursor'")
        return json.loads(rows[0][0]) if rows else {}

    def temp_dirs(self) -> list[Path]:
        hls = self.runtime / "hls"
        return sorted(p for p in hls.glob(".tmp-*") if p.is_dir()) if hls.is_dir() else []

    def media_sequence(self) -> int | None:
        """``EXT-X-MEDIA-SEQUENCE`` of the live playlist the API serves now."""
        try:
            reply = httpx.get(f"{self.base_url}/live/index.m3u8", timeout=5)
        except httpx.HTTPError:
            return None
        found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", reply.text)
        return int(found.group(1)) if reply.status_code == 200 and found else None
