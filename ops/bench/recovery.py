"""Boot recovery benchmark (issue 3): open a big state database and recover the channel's state.

Builds a database with 1,000,000 audit events, 100,000 plans and 10,000 queue entries
(batch inserts through the store's own methods), then measures, several times, the
time from ``Store.open`` (integrity check and migrations included) to a complete
``RecoveredState`` in memory. Reports the median. Target: recover_s <= 2.0, which
holds only because recovery reads indexed ranges and never scans the audit trail.

    .venv/bin/python ops/bench/recovery.py [--audit N] [--plans N] [--queue N] [--runs N]
        [--db PATH] (reuse a database built by an earlier run with the same sizes)

Also measured on the big database: the median cost of one plan transition (with its
audit event) and of one audit append — the quick writes actors make on the event loop.

Last line: JSON with audit_events, plans, queue_entries, recover_s, db_mb (+ details).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vvtv.model import (
    AssetItem,
    AuditEvent,
    EntryStatus,
    PlanItem,
    PlanState,
    QAReport,
    QAStatus,
    QueueEntry,
)
from vvtv.store import Store, open_store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BATCH = 50_000
IN_FLIGHT = 500  # scheduled/reserved/committed plans: a day's grid with reserves, generously


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


def measure(path: Path) -> tuple[float, float, int, int]:
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
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "vvtv.db"
        if not path.exists():
            build(path, args.audit, args.plans, args.queue)
        runs = [measure(path) for _ in range(args.runs)]
        transition_us, append_us = write_latency(path)
        total = statistics.median(r[0] for r in runs)
        opening = statistics.median(r[1] for r in runs)
        result = {
            "audit_events": args.audit,
            "plans": args.plans,
            "queue_entries": args.queue,
            "recover_s": round(total, 4),
            "open_s": round(opening, 4),
            "recovered_queue": runs[0][2],
            "recovered_plans_in_flight": runs[0][3],
            "runs": args.runs,
            "all_recover_s": [round(r[0], 4) for r in runs],
            "db_mb": round(path.stat().st_size / 2**20, 1),
            "transition_p50_us": round(transition_us, 1),
            "audit_append_p50_us": round(append_us, 1),
            "target_recover_s": 2.0,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
