"""Fixtures for the operations tests: a real state database and a stand-in daemon API.

The daemon's HTTP API is someone else's module, so the release tools are tested against
``FakeApi``: the loopback server of ``tests/support`` (in a thread) answering
``/v1/status``, ``/metrics``, ``/v1/alerts`` and ``/v1/runtime`` with values the test
controls, verifying signed control calls with the real ``vvtv.core.signing.Verifier``, and
recording every request.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cards import write_card
from tests.support.loopback import Loopback, Reply, Request, loopback_in_thread
from tests.support.waiting import wait_for
from vvtv.core.signing import AuthError, Verifier

TOKEN = "test-token"
SECRET = "test-secret"
MiB = 1024 * 1024


class FakeApi:
    """A loopback stand-in for the daemon's API whose answers the test scripts."""

    def __init__(self, server: Loopback) -> None:
        self.status: dict[str, Any] = {
            "state": "RUNNING",
            "buffer_minutes": 55.0,
            "timestamp": "2026-11-22T00:00:00Z",
            "emergency_override": None,
        }
        self.buffers: list[float] = []  # one per /v1/status, then status["buffer_minutes"]
        self.rss: list[int] = []  # one per /metrics, then rss_default
        self.rss_default = 100 * MiB
        self.restarts: list[int] = []  # one per /v1/runtime, then restarts_default
        self.restarts_default = 0
        self.alerts: list[dict[str, Any]] = []
        self.failures: dict[str, int] = {}  # path -> how many more requests answer 500
        self.requests: list[tuple[str, str]] = []
        self.control: list[dict[str, Any]] = []
        self.on_status: Callable[[], None] | None = None
        # What the daemon's nightly control call answers (actors/scheduler.py nightly_now).
        self.nightly_reply: dict[str, Any] = {
            "ran": True,
            "local_date": "2026-11-22",
            "report_day": "2026-11-21",
            "export": "/var/lib/vvtv/exports/audit-2026-11-21.json",
            "weekly": "2026-W47",
            "forced": True,
        }
        self.verifier = Verifier(TOKEN, SECRET)
        self.now: Callable[[], float] = time.time  # what the signature window is checked against
        self._lock = threading.Lock()
        self.url = server.base
        server.default = self._reply

    def _next(self, queue: list[Any], default: Any) -> Any:
        with self._lock:
            return queue.pop(0) if queue else default

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes):
        """(status code, content type, body) for one request."""
        self.requests.append((method, path))
        with self._lock:
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                return 500, "application/json", b'{"error": "scripted failure"}'
        if method == "GET" and path == "/v1/status":
            if self.on_status:
                self.on_status()
            body_out = dict(self.status)
            body_out["buffer_minutes"] = self._next(self.buffers, self.status["buffer_minutes"])
            return 200, "application/json", json.dumps(body_out).encode()
        if method == "GET" and path == "/metrics":
            rss = self._next(self.rss, self.rss_default)
            text = (
                "# TYPE vvtv_buffer_minutes gauge\n"
                f"vvtv_buffer_minutes {self.status['buffer_minutes']}\n"
                f"process_resident_memory_bytes {float(rss)}\n"
            )
            return 200, "text/plain; version=0.0.4", text.encode()
        if method == "GET" and path == "/v1/alerts":
            payload = {"count": len(self.alerts), "alerts": self.alerts}
            return 200, "application/json", json.dumps(payload).encode()
        if method == "GET" and path == "/v1/runtime":
            restarts = self._next(self.restarts, self.restarts_default)
            tree = {
                "name": "root",
                "restarts": 0,
                "children": [{"name": "buffer", "restarts": restarts}],
            }
            return 200, "application/json", json.dumps(tree).encode()
        if method == "POST" and path == "/v1/control/emergency-mode":
            try:
                self.verifier.verify(method, path, headers, body, self.now())
            except AuthError as exc:
                return 401, "application/json", json.dumps({"error": exc.reason}).encode()
            if body:
                enabled = json.loads(body)["enabled"]
                self.control.append({"path": path, "enabled": enabled})
            else:  # the original's empty body: a toggle, held like a forced state
                enabled = self.status["state"] != "EMERGENCY"
                self.control.append({"path": path, "toggle": True})
            self.status["emergency_override"] = enabled
            # A release (null) leaves the rule in charge: emergency while the buffer is low.
            rule = self.status["buffer_minutes"] < self.status.get("buffer_critical_minutes", 20)
            on = enabled if enabled is not None else rule
            self.status["state"] = "EMERGENCY" if on else "RUNNING"
            return 200, "application/json", json.dumps(self.status).encode()
        if method == "POST" and path == "/v1/control/nightly":
            try:
                self.verifier.verify(method, path, headers, body, self.now())
            except AuthError as exc:
                return 401, "application/json", json.dumps({"error": exc.reason}).encode()
            self.control.append({"path": path, **json.loads(body)})
            return 200, "application/json", json.dumps(self.nightly_reply).encode()
        return 404, "application/json", b'{"error": "not found"}'

    def _reply(self, request: Request) -> Reply:
        code, kind, out = self.answer(request.method, request.path, request.headers, request.body)
        return Reply(code, out, kind)


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    with loopback_in_thread() as server:
        yield FakeApi(server)


def spawn_fake_daemon() -> subprocess.Popen[bytes]:
    """A live process whose command line says vvtv, as the restore's pid check expects.

    Returns once the child has exec'd: before that, /proc shows the parent's command line.
    """
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "vvtv"])

    def execd() -> bool:
        try:
            return b"vvtv" in Path(f"/proc/{child.pid}/cmdline").read_bytes()
        except OSError:
            return False

    wait_for("the stand-in daemon to exec", execd, timeout=5, every=0.01)
    return child


def make_state_db(path: Path, rows: int = 200) -> Path:
    """A WAL database with a few tables, blobs and a schema version, like the daemon's."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA user_version=3")
    conn.execute("CREATE TABLE plans (id INTEGER PRIMARY KEY, title TEXT, data BLOB)")
    conn.execute("CREATE TABLE audit_events (id INTEGER PRIMARY KEY, at TEXT, details TEXT)")
    conn.executemany(
        "INSERT INTO plans (title, data) VALUES (?, ?)",
        [(f"plan {i} ünïcode", bytes([i % 256]) * 64) for i in range(rows)],
    )
    conn.executemany(
        "INSERT INTO audit_events (at, details) VALUES (?, ?)",
        [(f"2026-11-22T00:00:{i % 60:02d}Z", json.dumps({"n": i})) for i in range(rows * 2)],
    )
    conn.commit()
    conn.close()
    return path


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def runtime(tmp_path: Path) -> dict[str, Path]:
    """Paths of a small installation: state db, OwnerCard, backup root, key dir."""
    root = tmp_path / "runtime"
    (root / "state").mkdir(parents=True)
    card = write_card(
        tmp_path / "owner_card.yaml", search_policy={"allowlist_domains": ["example.com"]}
    )
    return {
        "root": root,
        "state_db": make_state_db(root / "state" / "vvtv.db"),
        "owner_card": card,
        "backups": root / "backups",
        "keys": root / "keys",
    }


@pytest.fixture
def ops_env(
    runtime: dict[str, Path], fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    """The environment the CLI reads, pointed at ``runtime`` and ``fake_api``."""
    for name in list(__import__("os").environ):
        if name.startswith("VVTV_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VVTV_RUNTIME_DIR", str(runtime["root"]))
    monkeypatch.setenv("VVTV_STATE_DB", str(runtime["state_db"]))
    monkeypatch.setenv("VVTV_OWNER_CARD_PATH", str(runtime["owner_card"]))
    monkeypatch.setenv("VVTV_API_URL", fake_api.url)
    monkeypatch.setenv("VVTV_CONTROL_TOKEN", TOKEN)
    monkeypatch.setenv("VVTV_CONTROL_SECRET", SECRET)
    return runtime
