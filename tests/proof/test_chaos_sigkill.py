"""SIGKILL a real ``vvtv run`` mid-step, restart it over the same runtime, check nothing broke.

Each test waits until the step is observably in progress (a prepare's hidden ``.tmp-*``
directory has output in it, a commit window has committed one item but not finished),
kills the daemon with SIGKILL (no cleanup runs), restarts it and checks SPEC's promises:
no queue entry duplicated or lost, the live playlist's media sequence continues, no
partial asset left behind.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from actors.daemon import LOCK_TTL_S
from tests.proof.daemon_process import Channel
from tests.support.loopback import Loopback, Reply, Request, loopback_in_thread
from tests.support.waiting import wait_for
from vvtv.notify.delivery import DELIVERY_ID_HEADER
from vvtv.store import open_store

N_CLIPS = 3
NIGHTLY_EVENTS = 100_000


def assert_queue_consistent(channel: Channel) -> None:
    """Each committed plan has exactly one live queue entry, and entries never overlap."""
    entries = [e for e in channel.main_entries() if e[5] != "SKIPPED"]
    per_plan = Counter(e[1] for e in entries)
    assert all(n == 1 for n in per_plan.values()), f"duplicate queue entries: {per_plan}"
    committed = {
        row[0]
        for row in channel.query("SELECT plan_id FROM plans WHERE state IN ('COMMITTED', 'AIRED')")
    }
    assert committed == set(per_plan), (
        f"committed plans without an entry: {committed - set(per_plan)}; "
        f"entries without a committed plan: {set(per_plan) - committed}"
    )
    for before, after in itertools.pairwise(entries):
        assert before[4] <= after[3], f"overlapping entries {before} and {after}"


def wait_all_committed(channel: Channel) -> None:
    """Every clip either queued or dropped with a reason (the folder holds N_CLIPS)."""

    def settled() -> bool:
        queued = {e[1] for e in channel.main_entries()}
        dropped = channel.query("SELECT plan_id FROM plans WHERE state = 'DROPPED'")
        return len(queued) + len(dropped) >= N_CLIPS

    wait_for("every clip to be committed", settled, timeout=60)


def restart_after_kill(channel: Channel, *args: str) -> None:
    """Restart at once, as systemd would; the dead holder's lock must not keep it waiting."""
    started = time.monotonic()
    channel.start(*args)
    assert time.monotonic() - started < LOCK_TTL_S / 2, "the restart waited out the lock TTL"
    assert "is no longer running; taking over" in channel.log()


def assert_no_actor_failed(channel: Channel) -> None:
    """The restarted daemon recovered from the store without any actor crashing on it."""

    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *(n for child in node.get("children") or [] for n in walk(child))]

    tree = httpx.get(f"{channel.base_url}/v1/runtime", timeout=10).json()
    crashed = {n["name"]: n["last_failure"] for n in walk(tree) if n["failures"]}
    assert not crashed, f"actors crashed after the restart: {crashed}"


def live_sequence(channel: Channel) -> int:
    """The live playlist's media sequence (it may be 0, hence the tuple for ``wait_for``)."""
    found = wait_for("a live playlist", lambda: _some(channel.media_sequence()), timeout=20)
    return found[0]


def _some(value: int | None) -> tuple[int] | None:
    return None if value is None else (value,)


def test_sigkill_during_prepare_leaves_no_partial_asset_and_loses_nothing(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    channel = Channel(tmp_path, clips, slate)
    channel.start()
    try:
        before = live_sequence(channel)
        busy = wait_for(
            "a prepare with output in its temp dir",
            lambda: [d for d in channel.temp_dirs() if any(d.iterdir())],
            timeout=30,
            every=0.02,
        )
        seq_at_kill = channel.hls_cursor().get("media_sequence", before)
        channel.kill()
        assert all(d.exists() for d in busy), "the prepare finished before the kill"

        restart_after_kill(channel)
        assert not any(d.exists() for d in busy), "a crashed prepare's temp dir survived"
        assert live_sequence(channel) >= max(before, seq_at_kill)
        wait_all_committed(channel)
        assert_queue_consistent(channel)
        assert_no_actor_failed(channel)
        published = {p.name for p in (channel.runtime / "hls").iterdir()}
        assets = {row[0] for row in channel.query("SELECT asset_id FROM assets")}
        assert published <= assets, f"asset dirs with no asset record: {published - assets}"
    finally:
        channel.stop()


def test_sigkill_in_the_middle_of_a_commit_window_neither_repeats_nor_loses_items(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    channel = Channel(tmp_path, clips, slate)
    channel.start()
    try:
        wait_for(
            "one item of the commit window through QA",
            lambda: channel.audit("qa_result", "committer"),
            timeout=30,
            every=0.02,
        )
        done = channel.audit("window_commit", "scheduler")
        before = live_sequence(channel)
        channel.kill()
        assert not done, "the commit window finished before the kill"
        first_run = {e[1] for e in channel.main_entries()}

        restart_after_kill(channel)
        assert live_sequence(channel) >= before
        wait_all_committed(channel)
        assert_queue_consistent(channel)
        assert first_run <= {e[1] for e in channel.main_entries()}, "a queued item was lost"
        # The window prepares items side by side but queues them in their planned order.
        planned = dict(channel.query("SELECT plan_id, start_at FROM plans"))
        queued = [planned[e[1]] for e in channel.main_entries()]
        assert queued == sorted(queued), "the queue is out of the planned air order"
        assert_no_actor_failed(channel)
    finally:
        channel.stop()


def seed_audit_day(channel: Channel, day: date, events: int) -> None:
    """A busy day of audit events, so the nightly export of that day takes a moment."""
    open_store(channel.db_path).close()  # the daemon's schema
    start = datetime.combine(day, datetime.min.time(), UTC)
    step = timedelta(days=1) / events
    rows = [
        (
            f"evt-seed-{i}",
            (start + i * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "queued",
            "seed",
            json.dumps({"n": i}),
        )
        for i in range(events)
    ]
    con = sqlite3.connect(channel.db_path)
    with con:
        con.executemany(
            "INSERT INTO audit_events (event_id, at, event_type, actor, details)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    con.close()


def test_sigkill_during_the_nightly_export_then_a_rerun_exports_the_day_once(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    channel = Channel(tmp_path, clips, slate)
    day = datetime.now(UTC).date() - timedelta(days=1)
    seed_audit_day(channel, day, NIGHTLY_EVENTS)
    export = channel.runtime / "exports" / f"audit-{day.isoformat()}.json"
    partial = export.with_suffix(".json.tmp")
    channel.start("--force-nightly")
    try:
        wait_for(
            "the export to be half written",
            lambda: partial.exists() and partial.stat().st_size > 0,
            timeout=30,
            every=0.01,
        )
        channel.kill()
        assert not export.exists(), "the export finished before the kill"
        assert not channel.audit("nightly", "scheduler")

        restart_after_kill(channel, "--force-nightly")
        wait_for("the nightly job", lambda: channel.audit("nightly", "scheduler"), timeout=60)
        exported = json.loads(export.read_text())
        seeded = [e for e in exported if e["actor"] == "seed"]
        assert len(seeded) == NIGHTLY_EVENTS
        assert len({e["event_id"] for e in exported}) == len(exported), "duplicated events"
        assert not partial.exists()
        assert len(channel.audit("nightly", "scheduler")) == 1
        reports = channel.query("SELECT key FROM reports WHERE kind = 'daily'")
        assert reports == [(day.isoformat(),)]
    finally:
        channel.stop()


def delivery_ids(hook: Loopback) -> list[str]:
    """The delivery id of each request the webhook received (stable across retries)."""
    return [r.headers.get(DELIVERY_ID_HEADER.lower(), "") for r in hook.requests]


def test_sigkill_during_a_webhook_delivery_then_it_is_delivered_exactly_once(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    """Receivers dedupe by the delivery id, so "exactly once" is one distinct id per outbox
    item, each document unchanged by its retries."""
    release = threading.Event()

    async def hold_the_first(request: Request) -> Reply:
        # The first delivery stays in flight (no answer) until the daemon has been killed.
        if request is hook.requests[0]:
            await trio.to_thread.run_sync(release.wait, 30.0, abandon_on_cancel=True)
        return Reply(200)

    with loopback_in_thread() as hook:
        hook.serve("/hook", hold_the_first)
        # No start-up grace: the boot's own emergency is the alert whose delivery is killed.
        channel = Channel(
            tmp_path,
            clips,
            slate,
            VVTV_ALERT_WEBHOOK_URL=hook.url_for("/hook"),
            VVTV_ALERT_STARTUP_GRACE_SECS="0",
        )
        channel.start()
        try:
            wait_for("a webhook delivery in flight", lambda: hook.requests, timeout=30)
            pending = channel.query("SELECT id FROM outbox WHERE status = 'pending'")
            channel.kill()
            release.set()
            assert pending, "the delivery finished before the kill"

            restart_after_kill(channel)

            def all_delivered() -> list[tuple[int, str]]:
                rows = channel.query("SELECT id, status FROM outbox WHERE topic = 'webhook'")
                return rows if rows and all(r[1] == "delivered" for r in rows) else []

            items = wait_for("every webhook item delivered", all_delivered, timeout=30)
            ids = delivery_ids(hook)
            assert sorted(set(ids)) == sorted(f"webhook-{i}" for i, _ in items)
            assert ids.count(ids[0]) == 2, "the interrupted delivery was not retried"
            bodies: dict[str, set[bytes]] = {i: set() for i in ids}
            for request in list(hook.requests):
                bodies[request.headers[DELIVERY_ID_HEADER.lower()]].add(request.body)
            assert all(len(b) == 1 for b in bodies.values()), "a retry changed the document"
        finally:
            release.set()
            channel.stop()
