"""Benchmark: alert evaluation cost and outbox delivery throughput (not collected by pytest).

Run: .venv/bin/python -m tests.cloud.bench_delivery [--items 300] [--runs 5]

Measures, as medians of ``--runs`` in-process runs:
- ``alert_evals_per_s``: ``evaluate`` + ``step`` over all rules (the Alerter's pure work);
- ``pump_items_per_s``: signed posts delivered through the durable SQLite outbox
  (enqueue, due, post, mark_delivered) to a loopback receiver, real clock;
- ``raw_posts_per_s``: the baseline, the same signed posts sent straight with httpx;
- ``outbox_overhead_ratio`` = raw / pump (1.0 means the outbox costs nothing).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import trio

from tests.support.loopback import start_receiver
from vvtv.core.clock import TrioClock
from vvtv.notify.alerts import AlertInputs, evaluate, step
from vvtv.notify.delivery import Deliverer, PumpPolicy, pump
from vvtv.store import open_store


def bench_alerts(n: int = 20_000) -> float:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    bad = AlertInputs(buffer_minutes=10, qa_pass_rate=0.5, emergency_active=True)
    good = AlertInputs(buffer_minutes=60, qa_pass_rate=0.95)
    states: dict = {}
    start = time.perf_counter()
    for i in range(n):
        inputs = bad if (i // 50) % 2 else good
        states, _ = step(states, evaluate(inputs), t0 + timedelta(seconds=i * 60), 900)
    return n / (time.perf_counter() - start)


async def bench_delivery(items: int) -> tuple[float, float]:
    async with trio.open_nursery() as nursery:
        receiver = await start_receiver(nursery)
        clock = TrioClock()
        async with httpx.AsyncClient() as client:
            d = Deliverer(receiver.url, "t", "s", client, clock)
            start = time.perf_counter()
            for i in range(items):
                assert (await d.post("/v1/ingest/status", {"n": i})).ok
            raw = items / (time.perf_counter() - start)

            with tempfile.TemporaryDirectory() as tmp:
                store = open_store(Path(tmp) / "bench.db", clock=clock)
                for i in range(items):
                    store.enqueue("cloud", {"n": i})
                start = time.perf_counter()
                with trio.move_on_after(120):
                    async with trio.open_nursery() as inner:
                        inner.start_soon(
                            lambda: pump(
                                store,
                                "cloud",
                                d,
                                lambda item: "/v1/ingest/status",
                                clock,
                                policy=PumpPolicy(idle_poll_s=0.01),
                            )
                        )
                        while store.pending_count("cloud"):
                            await trio.sleep(0.01)
                        inner.cancel_scope.cancel()
                pumped = items / (time.perf_counter() - start)
                store.close()
        nursery.cancel_scope.cancel()
    return pumped, raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import logging

    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    evals, pumped, raw = [], [], []
    for _ in range(args.runs):
        evals.append(bench_alerts())
        p, r = trio.run(bench_delivery, args.items)
        pumped.append(p)
        raw.append(r)
    result = {
        "runs": args.runs,
        "items": args.items,
        "alert_evals_per_s": round(statistics.median(evals)),
        "pump_items_per_s": round(statistics.median(pumped), 1),
        "raw_posts_per_s": round(statistics.median(raw), 1),
        "outbox_overhead_ratio": round(statistics.median(raw) / statistics.median(pumped), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
