"""`vvtv run --once`: one real cycle from a folder of clips to a queued, QA-passed timeline."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.daemon.harness import make_settings
from vvtv.media.generate import render_clip
from vvtv.ownercard.card import ChannelProfile


async def render_library_clip(path: Path, pattern: str, tags: list[str]) -> None:
    """A channel-conforming 4 s clip (the product's own generator) and its tag sidecar."""
    await render_clip(
        path,
        video=f"{pattern}=s=1280x720:r=25",
        audio="sine=f=330:sample_rate=48000",
        seconds=4,
        profile=ChannelProfile(),
    )
    path.with_suffix(".json").write_text(json.dumps({"title": path.stem, "tags": tags}))


def run_vvtv(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "VVTV_RUNTIME_DIR": str(root / "runtime"),
        "VVTV_OWNER_CARD_PATH": str(root / "owner_card.yaml"),
        "VVTV_API_BIND": "127.0.0.1:0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "vvtv", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=240,
    )


async def test_run_once_discovers_commits_prepares_and_queues_then_exits_0(
    tmp_path: Path, slate_template: Path
) -> None:
    make_settings(tmp_path, slate_template)
    await render_library_clip(tmp_path / "library" / "bars.mp4", "smptehdbars", ["calm"])
    await render_library_clip(tmp_path / "library" / "life.mp4", "testsrc2", ["nature"])

    done = await trio.to_thread.run_sync(lambda: run_vvtv(tmp_path, "run", "--once"))
    assert done.returncode == 0, done.stderr[-3000:]

    db = sqlite3.connect(tmp_path / "runtime" / "state" / "vvtv.db")
    states = dict(db.execute("SELECT state, count(*) FROM plans GROUP BY state").fetchall())
    assert states.get("COMMITTED", 0) + states.get("AIRED", 0) == 2
    passed = db.execute("SELECT count(*) FROM assets WHERE qa_status = 'PASSED'").fetchone()[0]
    assert passed == 3  # the two clips and the slate
    plan_ids = [r[0] for r in db.execute("SELECT plan_id FROM queue_entries WHERE plan_id != ''")]
    assert len(plan_ids) == len(set(plan_ids)) == 2
    kinds = {r[0] for r in db.execute("SELECT event_type FROM audit_events")}
    assert {"window_discovery", "window_commit", "qa_result", "queued"} <= kinds

    # A second cycle finds everything known: nothing is fetched or queued twice.
    again = await trio.to_thread.run_sync(lambda: run_vvtv(tmp_path, "run", "--once"))
    assert again.returncode == 0, again.stderr[-3000:]
    count = db.execute("SELECT count(*) FROM queue_entries WHERE plan_id != ''").fetchone()[0]
    assert count == 2


async def test_run_refuses_to_start_with_a_clear_message_on_bad_settings(tmp_path: Path) -> None:
    done = await trio.to_thread.run_sync(lambda: run_vvtv(tmp_path, "run", VVTV_ENV="production"))
    assert done.returncode == 2
    assert "VVTV_CONTROL_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


GOOD_PROD = {
    "VVTV_ENV": "production",
    "VVTV_CONTROL_TOKEN": "token-" + "t" * 32,
    "VVTV_CONTROL_SECRET": "secret-" + "s" * 32,
    "VVTV_CLOUDFLARE_BASE_URL": "https://api.voulezvous.tv",
    "VVTV_CLOUDFLARE_TOKEN": "cf-token",
    "VVTV_CLOUDFLARE_SECRET": "cf-secret-" + "c" * 32,
}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        # The public dev credentials on a port other machines reach: refused even in dev.
        ({"VVTV_API_BIND": "0.0.0.0:0"}, ["VVTV_API_BIND", "VVTV_CONTROL_TOKEN"]),
        ({**GOOD_PROD, "VVTV_CONTROL_SECRET": "too-short"}, ["VVTV_CONTROL_SECRET", "32"]),
        (
            {**GOOD_PROD, "VVTV_CONTROL_SECRET": GOOD_PROD["VVTV_CONTROL_TOKEN"]},
            ["VVTV_CONTROL_TOKEN and VVTV_CONTROL_SECRET are the same"],
        ),
        (
            {**GOOD_PROD, "VVTV_ALERT_WEBHOOK_URL": "http://hooks.example.com/x"},
            ["VVTV_ALERT_WEBHOOK_URL", "https://"],
        ),
    ],
)
async def test_run_refuses_unsafe_settings_with_exit_code_2_naming_the_variable(
    tmp_path: Path, env: dict[str, str], names: list[str]
) -> None:
    done = await trio.to_thread.run_sync(lambda: run_vvtv(tmp_path, "run", **env))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("vvtv: cannot start:")
    for name in names:
        assert name in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runtime" / "state" / "vvtv.db").exists()  # refused before anything


async def test_run_refuses_a_corrupt_state_database(tmp_path: Path, slate_template: Path) -> None:
    make_settings(tmp_path, slate_template)
    db = tmp_path / "runtime" / "state" / "vvtv.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    done = await trio.to_thread.run_sync(lambda: run_vvtv(tmp_path, "run", "--once"))
    assert done.returncode == 2
    assert "restore" in done.stderr and "Traceback" not in done.stderr
    assert db.read_bytes().startswith(b"this is not a database")  # never replaced silently


async def test_a_one_shot_run_beside_a_running_channel_refuses_at_once_and_says_why(
    tmp_path: Path, slate_template: Path
) -> None:
    """`vvtv runbook force-nightly` runs `vvtv run --once`: with the service up it must not
    wait forever as a standby, but say what holds the state and what to do."""
    from datetime import UTC, datetime

    from vvtv.store import open_store

    settings = make_settings(tmp_path, slate_template)
    alive = f"{socket.gethostname()}:{os.getpid()}:running-service"
    with open_store(settings.state_db) as store:
        assert store.acquire_lock("scheduler", alive, datetime.now(UTC), ttl=600) is not None
    done = await trio.to_thread.run_sync(
        lambda: run_vvtv(tmp_path, "run", "--once", "--force-nightly")
    )
    assert done.returncode == 2
    assert "another vvtv" in done.stderr and "systemctl stop vvtv" in done.stderr
    assert "Traceback" not in done.stderr
