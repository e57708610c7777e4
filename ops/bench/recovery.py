"""Boot recovery benchmark (issue 3): boot the real daemon on a big state database.

Builds a database with 1,000,000 audit events, 100,000 plans and 10,000 queue entries
(batch inserts through the store's own methods), then measures, several times, what a
restart of the daemon costs: from ``actors.daemon.boot`` (settings checked, the store
opened and checked with its migrations, the OwnerCard loaded, the slate found) until
``actors.daemon.run`` reports the supervision tree up, i.e. every actor's ``started()``
has returned with its recovered state in memory: the Buffer's timeline reloaded from the
store with each queued asset's segment playlist read from disk, its live cursor,
emergency and curator state, its emergency pool (40 prepared assets, playlists read too);
the Alerter's alert states; the API bound (127.0.0.1:0); the scheduler lock taken. Each
run is a fresh process (one-time costs such as first-use code generation count, as they
do for the daemon; imports do not) on the same runtime directory with a fresh copy of the
prepared database, so every run recovers the same state. The tree is shut down at the
started signal: the discovery and commit windows the scheduler starts right after
start-up are not timed. Reports the median.

Baseline, same run, same database copy: ``bare_read_s``, a fresh process (imports not
counted either) that opens the database with Python's bare ``sqlite3`` and SELECTs the rows
a restart needs (the timeline from five minutes ago, its assets, the emergency pool, the
plans in flight, the cursors, the alert states), decodes each row's JSON and reads each of
those assets' playlist files: the data, without the daemon. ``recover_vs_bare_read`` =
``recover_s`` ÷ that, the median of per-run ratios (boots and bare reads alternate, so a
burst of load from elsewhere hits both); ``recover_cpu_vs_bare_read`` the same in CPU time
(the process's, all threads: steadier on a shared machine, where a 10 ms read is easily
preempted for longer than it runs). What the daemon does on top: the store's quick
check and migrations, the OwnerCard, the slate, typed rows (cattrs), parsed playlists,
the scheduler lock, the API bound, every actor started.
Target: recover_s <= 2.0 (the issue's, absolute: information on a shared machine);
``recover_vs_bare_read`` has no target yet (see ops/PERFORMANCE.md).

    .venv/bin/python ops/bench/recovery.py [--audit N] [--plans N] [--queue N] [--runs N]
        [--db PATH]

The database is built once per size and kept (default under /tmp/vvtv-bench-recovery/,
with the slate; ``--db PATH`` for another place) and copied for each invocation, so the
cached file is never changed by a run. The runtime directory (the copy, the slate, one
small looping playlist per queued or pool asset) lives in a temporary directory.

Also measured: ``Store.recover()`` alone (``store_recover_s``, the store's one-transaction
snapshot, which the daemon itself does not call) and, on the big database, the median
cost of one plan transition (with its audit event) and of one audit append, the quick
writes actors make on the event loop.

Last line: JSON with audit_events, plans, queue_entries, recover_s, bare_read_s,
recover_vs_bare_read, db_mb (+ details).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T_IMPORT = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.core.model import (  # noqa: E402
    AssetItem,
    AuditEvent,
    EntryStatus,
    PlanItem,
    PlanState,
    QAReport,
    QAStatus,
    QueueEntry,
)
from vvtv.store import Store, open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BATCH = 50_000
IN_FLIGHT = 500  # scheduled/reserved/committed plans: a day's grid with reserves, generously
CACHE_DIR = Path(tempfile.gettempdir()) / "vvtv-bench-recovery"


def build(path: Path, n_audit: int, n_plans: int, n_queue: int) -> None:
    store = open_store(path)
    t = time.perf_counter()
    # Plans: a past of aired/dropped items, a candidate pool, and the grid in flight.
    plans: list[PlanItem] = []
    for i in range(n_plans):
        if i < IN_FLIGHT:
            state = (PlanState.SCHEDULED, PlanState.RESERVED, PlanState.COMMITTED)[i % 3]
            start = NOW + timedelta(minutes=10 * i)
        elif i % 10 == 0:
            state, start = PlanState.CANDIDATE, None
        else:
            state = PlanState.AIRED if i % 7 else PlanState.DROPPED
            start = NOW - timedelta(minutes=10 * i)
        plans.append(
            PlanItem(
                plan_id=f"plan-{i:07d}",
                source_url=f"https://example.com/videos/{i}.mp4",
                title=f"Programme number {i}",
                duration_sec=600.0,
                discovered_at=NOW - timedelta(days=60),
                state=state,
                score=0.7,
                theme=("nature", "city", "music", "sea")[i % 4],
                tags=("calm", "hd"),
                source_name="bench",
                normalized_url=f"example.com/videos/{i}.mp4",
                normalized_title=f"programme number {i}",
                resolution_height=1080,
                hd_confirmed=True,
                start_at=start,
                hour_window=start.replace(minute=0) if start else None,
            )
        )
        if len(plans) == BATCH:
            store.insert_plans(plans)
            plans = []
    store.insert_plans(plans)
    # Queue: mostly aired history, the last 40 entries from now on (about 6.5 h ahead).
    entries = []
    for i in range(n_queue):
        start = NOW + timedelta(minutes=10 * (i - (n_queue - 40)))
        entries.append(
            QueueEntry(
                entry_id=f"entry-{i:06d}",
                asset_id=f"asset-{i:06d}",
                start_at=start,
                duration_sec=600.0,
                title=f"Programme number {i}",
                plan_id=f"plan-{i:07d}",
                status=EntryStatus.AIRED if start < NOW else EntryStatus.QUEUED,
            )
        )
    store.insert_queue_entries(entries)
    with store.transaction():
        for e in entries[-40:]:
            store.save_asset(
                AssetItem(
                    asset_id=e.asset_id,
                    plan_id=e.plan_id or "",
                    source_url="https://example.com/v.mp4",
                    checksum=f"sha-{e.asset_id}",
                    local_path=f"/media/{e.asset_id}.mp4",
                    created_at=NOW - timedelta(hours=4),
                    duration_sec=600.0,
                    qa_status=QAStatus.PASSED,
                    qa=QAReport(passed=True, height=720, integrated_lufs=-16.1),
                )
            )
    # Audit: 90 days of events, evenly spread.
    step = timedelta(days=90) / max(n_audit, 1)
    events: list[AuditEvent] = []
    for i in range(n_audit):
        events.append(
            AuditEvent(
                event_id=f"audit-{i:08d}",
                at=NOW - timedelta(days=90) + step * i,
                event_type=("plan_transition", "as_run", "qa_result", "discovery")[i % 4],
                reason_code="DISCOVERY_FAILED_DOMAIN" if i % 97 == 0 else "",
                actor="bench",
                plan_id=f"plan-{i % n_plans:07d}" if i % 2 else None,
                details={"from": "SCHEDULED", "to": "COMMITTED", "n": i},
            )
        )
        if len(events) == BATCH:
            store.append_audit_many(events)
            events = []
    store.append_audit_many(events)
    for name in ("discovery", "commit", "nightly"):
        store.set_cursor(name, NOW)
    store.record_card_version("0" * 64, "schema_version: 1\n", NOW)
    store.close()
    print(f"built {path} in {time.perf_counter() - t:.1f}s", file=sys.stderr)


def cached_db(db: Path | None, n_audit: int, n_plans: int, n_queue: int) -> Path:
    """The pristine built database for these sizes, built now if missing."""
    path = db or CACHE_DIR / f"recovery-{n_audit}-{n_plans}-{n_queue}.db"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        build(partial, n_audit, n_plans, n_queue)
        partial.rename(path)
    return path


def bench_card() -> str:
    """The sample OwnerCard, its demo source a plain folder (no clip generation at boot)."""
    text = (ROOT / "config" / "owner_card.sample.yaml").read_text()
    card = text.replace("    demo: true\n", "")
    if card == text:
        raise SystemExit("config/owner_card.sample.yaml changed: update bench_card()")
    return card


async def prepare_runtime(root: Path, db: Path) -> Path:
    """A channel's files under ``root``: the database copy, the card, the slate, and a
    small playlist (looping the slate's segments) for each queued asset and for an
    emergency pool of POOL_KEEP assets, as prepared assets leave them. Returns the
    runtime directory."""
    from actors.buffer import HISTORY_S, POOL_KEEP
    from vvtv.media.slate import ensure_slate
    from vvtv.ownercard.load import load_owner_card_file

    runtime = root / "runtime"
    state = runtime / "state"
    state.mkdir(parents=True)
    shutil.copyfile(db, state / "vvtv.db")
    card_path = root / "owner_card.yaml"
    card_path.write_text(bench_card())
    (root / "runtime" / "media" / "demo").mkdir(parents=True)
    card = load_owner_card_file(card_path).card
    # The slate is made once (ffmpeg) beside the cached database, then copied.
    slate = await ensure_slate(db.parent / "hls", card.channel, card.quality_policy)
    hls_dir = runtime / "hls"
    hls_dir.mkdir()
    shutil.copytree(slate.dir, hls_dir / "slate")
    segments = [(s.path_name, s.duration_sec) for s in slate.segments]

    def asset(asset_id: str, plan_id: str, seconds: float, pool: bool) -> AssetItem:
        directory = hls_dir / asset_id
        directory.mkdir()
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6"]
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
        total, i = 0.0, 0
        while total < seconds - 1e-6:
            name, length = segments[i % len(segments)]
            length = min(length, seconds - total)
            lines += [f"#EXTINF:{length:.3f},", name]
            total += length
            i += 1
        lines.append("#EXT-X-ENDLIST")
        (directory / "index.m3u8").write_text("\n".join(lines) + "\n")
        for name, _ in segments:
            (directory / name).hardlink_to(hls_dir / "slate" / name)
        return AssetItem(
            asset_id=asset_id,
            plan_id=plan_id,
            source_url="https://example.com/v.mp4",
            checksum=f"sha-{asset_id}",
            local_path=str(directory),
            created_at=NOW - timedelta(hours=4 if not pool else 48),
            duration_sec=round(total, 3),
            qa_status=QAStatus.PASSED,
            qa=QAReport(passed=True, height=720, integrated_lufs=-16.1),
            segments_dir=str(directory),
            segment_count=i,
            emergency_eligible=pool,
        )

    store = open_store(state / "vvtv.db")
    with store.transaction():
        for entry in store.queue_after(NOW - timedelta(seconds=HISTORY_S)):
            store.save_asset(asset(entry.asset_id, entry.plan_id or "", entry.duration_sec, False))
        for i in range(POOL_KEEP):
            store.save_asset(asset(f"pool-{i:03d}", f"plan-{IN_FLIGHT + 1 + i:07d}", 600.0, True))
    store.close()
    return runtime


def child_settings(runtime: Path) -> Any:
    from vvtv.core.settings import Settings

    return Settings.from_env(
        {
            "VVTV_RUNTIME_DIR": str(runtime),
            "VVTV_OWNER_CARD_PATH": str(runtime.parent / "owner_card.yaml"),
            "VVTV_API_BIND": "127.0.0.1:0",
        }
    )


async def timed_boot(runtime: Path) -> dict[str, Any]:
    """One daemon boot, as ``vvtv run`` does it, timed up to the tree's started signal."""
    import trio

    from actors.daemon import Daemon, boot, run
    from vvtv.core.clock import TrioClock

    settings = child_settings(runtime)
    c0 = time.process_time()
    t0 = time.perf_counter()
    ch = await boot(settings, clock=TrioClock(NOW))
    t1 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        daemon: Daemon = await nursery.start(
            lambda task_status: run(ch, signals=False, task_status=task_status)
        )
        t2 = time.perf_counter()
        c2 = time.process_time()
        node = daemon.runtime.node("buffer")
        buffer = node.cell.actor if node.cell is not None else None
        facts = {
            "buffer_entries": len(buffer.entries) if buffer else None,
            "buffer_playlists": len(buffer.segments) if buffer else None,
            "buffer_pool": len(buffer.pool) if buffer else None,
            "api_up": bool(ch.api_url),
        }
        daemon.runtime.shutdown()
    t3 = time.perf_counter()
    return {
        "recover_s": t2 - t0,
        "recover_cpu_s": c2 - c0,
        "boot_s": t1 - t0,
        "tree_s": t2 - t1,
        "stop_s": t3 - t2,
        "imports_s": t0 - T_IMPORT,
        **facts,
    }


def child(runtime: Path) -> None:
    import logging

    import trio

    from vvtv.cli.run import tune_gc

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tune_gc()
    print(json.dumps(trio.run(timed_boot, runtime)))


def bare_read(runtime: Path) -> dict[str, Any]:
    """The baseline: the rows a restart recovers, with the bare sqlite3 module and json."""
    import sqlite3

    from actors.buffer import HISTORY_S, POOL_KEEP
    from vvtv.store.rows import ts

    since = ts(NOW - timedelta(seconds=HISTORY_S))
    c0 = time.process_time()
    t0 = time.perf_counter()
    conn = sqlite3.connect(runtime / "state" / "vvtv.db")

    def rows(sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return [json.loads(r[0]) for r in conn.execute(sql, params)]

    queue = rows(
        "SELECT data FROM queue_entries WHERE end_at > ? AND status != 'SKIPPED' "
        "ORDER BY start_at, entry_id",
        (since,),
    )
    ids = tuple(e["asset_id"] for e in queue)
    assets = rows(f"SELECT data FROM assets WHERE asset_id IN ({','.join('?' * len(ids))})", ids)
    pool = rows(
        "SELECT data FROM assets WHERE qa_status = 'PASSED' AND emergency_eligible = 1 "
        "ORDER BY last_aired_at IS NOT NULL, last_aired_at, asset_id LIMIT ?",
        (POOL_KEEP,),
    )
    plans = rows(
        "SELECT data FROM plans WHERE state IN ('SCHEDULED', 'RESERVED', 'COMMITTED') "
        "ORDER BY start_at IS NULL, start_at, plan_id"
    )
    cursors = conn.execute("SELECT name, at FROM scheduler_cursors").fetchall()
    alerts = rows("SELECT data FROM alert_states ORDER BY code")
    playlist_bytes = sum(
        len((Path(a["segments_dir"]) / "index.m3u8").read_bytes()) for a in (*assets, *pool)
    )
    conn.close()
    return {
        "bare_read_s": time.perf_counter() - t0,
        "bare_read_cpu_s": time.process_time() - c0,
        "queue": len(queue),
        "assets": len(assets),
        "pool": len(pool),
        "plans_in_flight": len(plans),
        "cursors": len(cursors),
        "alerts": len(alerts),
        "playlist_bytes": playlist_bytes,
    }


def run_child(runtime: Path, mode: str = "--child") -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, mode, str(runtime)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def store_recover(path: Path) -> tuple[float, float, int, int]:
    """``Store.open`` + ``Store.recover`` alone: seconds total, seconds opening, sizes."""
    t0 = time.perf_counter()
    store: Store = open_store(path)
    t1 = time.perf_counter()
    state = store.recover(NOW)
    t2 = time.perf_counter()
    store.close()
    return t2 - t0, t1 - t0, len(state.queue), len(state.plans_in_flight)


def write_latency(path: Path, n: int = 300) -> tuple[float, float]:
    """Median microseconds of one plan transition (with its audit event) and of one audit
    append, on the big database: the cost of a quick write made on the event loop."""
    store = open_store(path)
    candidates = store.list_plans([PlanState.CANDIDATE], limit=n).items
    transitions: list[float] = []
    for p in candidates:
        t = time.perf_counter()
        store.transition_plan(p.plan_id, PlanState.SCHEDULED, NOW, start_at=NOW)
        transitions.append(time.perf_counter() - t)
        store.transition_plan(p.plan_id, PlanState.CANDIDATE, NOW)  # keep the grid as built
    appends: list[float] = []
    for i in range(n):
        event = AuditEvent(f"bench-{time.time_ns()}-{i}", NOW, "bench", details={"i": i})
        t = time.perf_counter()
        store.append_audit(event)
        appends.append(time.perf_counter() - t)
    store.close()
    return statistics.median(transitions) * 1e6, statistics.median(appends) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--plans", type=int, default=100_000)
    ap.add_argument("--queue", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", type=Path, default=None, help="the cached database (built if missing)")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--bare-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    # Plans past the first IN_FLIGHT are the history and the candidate pool; a transition is
    # timed on candidates (write_latency), so a database without any cannot be measured.
    if args.plans <= IN_FLIGHT or args.runs < 1:
        ap.error(f"--plans must be above {IN_FLIGHT} (the plans in flight), --runs at least 1")
    if args.child is not None:
        child(args.child)
        return
    if args.bare_child is not None:
        print(json.dumps(bare_read(args.bare_child)))
        return

    import trio

    cache = cached_db(args.db, args.audit, args.plans, args.queue)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = trio.run(prepare_runtime, Path(tmp), cache)
        path = runtime / "state" / "vvtv.db"
        load_before = os.getloadavg()
        # Every run boots the same state: a fresh copy of the prepared database (the
        # windows the scheduler starts right after start-up would otherwise change it).
        pristine = Path(tmp) / "prepared.db"
        shutil.copyfile(path, pristine)

        def restore() -> None:
            for extra in ("-wal", "-shm"):
                path.with_name(path.name + extra).unlink(missing_ok=True)
            shutil.copyfile(pristine, path)

        runs, bares = [], []
        for _ in range(args.runs):
            restore()
            bares.append(run_child(runtime, "--bare-child"))  # reads only
            runs.append(run_child(runtime))
        load_after = os.getloadavg()
        restore()
        stores = [store_recover(path) for _ in range(args.runs)]
        transition_us, append_us = write_latency(path)

        def med(key: str) -> float:
            return round(statistics.median(r[key] for r in runs), 4)

        result = {
            "audit_events": args.audit,
            "plans": args.plans,
            "queue_entries": args.queue,
            "recover_s": med("recover_s"),
            "boot_s": med("boot_s"),
            "tree_s": med("tree_s"),
            "stop_s": med("stop_s"),
            "imports_s": med("imports_s"),
            "all_recover_s": [round(r["recover_s"], 4) for r in runs],
            "bare_read_s": round(statistics.median(b["bare_read_s"] for b in bares), 4),
            "all_bare_read_s": [round(b["bare_read_s"], 4) for b in bares],
            "recover_vs_bare_read": round(
                statistics.median(
                    r["recover_s"] / b["bare_read_s"] for r, b in zip(runs, bares, strict=True)
                ),
                1,
            ),
            "recover_cpu_s": med("recover_cpu_s"),
            "bare_read_cpu_s": round(statistics.median(b["bare_read_cpu_s"] for b in bares), 4),
            "recover_cpu_vs_bare_read": round(
                statistics.median(
                    r["recover_cpu_s"] / b["bare_read_cpu_s"]
                    for r, b in zip(runs, bares, strict=True)
                ),
                1,
            ),
            "bare_read_rows": {k: v for k, v in bares[0].items() if not k.startswith("bare_")},
            "runs": args.runs,
            "buffer_entries": runs[0]["buffer_entries"],
            "buffer_playlists": runs[0]["buffer_playlists"],
            "buffer_pool": runs[0]["buffer_pool"],
            "api_up": all(r["api_up"] for r in runs),
            "store_recover_s": round(statistics.median(s[0] for s in stores), 4),
            "open_s": round(statistics.median(s[1] for s in stores), 4),
            "recovered_queue": stores[0][2],
            "recovered_plans_in_flight": stores[0][3],
            "db_mb": round(path.stat().st_size / 2**20, 1),
            "transition_p50_us": round(transition_us, 1),
            "audit_append_p50_us": round(append_us, 1),
            "loadavg_1m": [round(load_before[0], 2), round(load_after[0], 2)],
            "target_recover_s": 2.0,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
