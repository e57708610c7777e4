"""The outbox survives a SIGKILL of a process that was delivering (real time, real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import trio

from actors.cloudsync import CloudSync
from tests.support.loopback import Loopback, json_reply
from tests.support.waiting import wait_until
from vvtv.core.clock import TrioClock
from vvtv.core.messages import PublishDaily
from vvtv.store import open_store

CHILD = Path(__file__).with_name("pump_child.py")
ROOT = Path(__file__).resolve().parents[2]


async def spawn(db: Path, url: str) -> trio.Process:
    return await trio.lowlevel.open_process(
        [sys.executable, str(CHILD), str(db), url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_report_in_flight_when_the_daemon_is_killed_is_delivered_after_restart(
    tmp_path: Path, receiver: Loopback
) -> None:
    db = tmp_path / "vvtv.db"
    clock = TrioClock()
    store = open_store(db, clock=clock)
    cloud = CloudSync(store=store, clock=clock, base_url=receiver.url, token="t", secret="s")
    for day in range(1, 6):
        await cloud.handle(PublishDaily(date(2026, 3, day), {"day": day}, {}))
    store.close()

    # The first report is taken, the second hangs in the receiver: kill mid-delivery.
    receiver.then(json_reply(), json_reply(delay=3600.0))
    first = await spawn(db, receiver.url)
    try:
        # The second request has arrived and is held open by the receiver.
        await wait_until(
            "the second report to arrive", lambda: len(receiver.requests) == 2, within=20
        )
        assert len(receiver.accepted) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert [r.json()["summary"]["day"] for r in receiver.accepted] == [1]

    watcher = open_store(db)
    second = await spawn(db, receiver.url)
    try:
        # Delivered means recorded as delivered by the daemon, not just received.
        await wait_until(
            "the outbox to be empty", lambda: watcher.pending_count("cloud") == 0, within=20
        )
    finally:
        second.send_signal(signal.SIGKILL)
        await second.wait()
    days = [r.json()["summary"]["day"] for r in receiver.accepted]
    assert days == [1, 2, 3, 4, 5]
    ids = [r.headers["x-vvtv-delivery-id"] for r in receiver.accepted]
    assert len(set(ids)) == 5
    assert len(receiver.accepted) == 5
