"""One Store shared by the Trio thread and worker threads: slow work in a thread never
loses or corrupts the event loop's writes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import trio

from tests.store.state_builders import T0, plan
from vvtv.core.model import AuditEvent, PlanState
from vvtv.store import Store


async def test_retention_and_export_in_worker_threads_run_beside_event_loop_writes(
    store: Store, tmp_path: Path
) -> None:
    old = [AuditEvent(f"old{i}", T0 - timedelta(days=200, seconds=i), "x") for i in range(12_000)]
    store.append_audit_many(old)
    store.insert_plans([plan(f"p{i}") for i in range(200)])
    now = T0 + timedelta(days=1)
    results: dict[str, object] = {}

    async def in_thread(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        results[name] = await trio.to_thread.run_sync(fn)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(in_thread, "retention", lambda: store.apply_retention(now, days=90))
        nursery.start_soon(
            in_thread, "export", lambda: store.export_audit(date(2026, 3, 1), tmp_path)
        )
        for i in range(200):  # the event loop keeps writing meanwhile
            store.transition_plan(f"p{i}", PlanState.SCHEDULED, T0 + timedelta(seconds=i))
            await trio.sleep(0)

    assert results["retention"].audit_events == 12_000  # type: ignore[attr-defined]
    assert store.count_plans()[PlanState.SCHEDULED] == 200
    assert store.count_audit(event_type="plan_transition") == 200
    exported = json.loads(Path(results["export"]).read_text())  # type: ignore[arg-type]
    assert all(e["event_type"] == "plan_transition" for e in exported)
