"""Introspection: the JSON-ready snapshot of the tree, and per-actor Prometheus metrics."""

from __future__ import annotations

import json

import pytest
import trio
from prometheus_client import CollectorRegistry, generate_latest

from supervisors import ActorDied, Backoff, CallTimeout, ChildSpec, Runtime, Strategy, Supervisor
from supervisors.testing import Crash, Probe, Recording, Sleep, running, settle, wait_restarts

MAILBOX_KEYS = {"depth", "capacity", "peak", "blocked_senders"}
NODE_KEYS = {
    "name",
    "kind",
    "strategy",
    "state",
    "incarnation",
    "restarts",
    "failures",
    "last_failure",
    "uptime_s",
}


def tree(rec: Recording) -> Supervisor:
    def pipeline() -> Supervisor:
        return Supervisor(
            "pipeline",
            [
                ChildSpec("a", lambda: Probe(rec, mailbox_size=3)),
                ChildSpec("b", lambda: Probe(rec)),
            ],
            strategy=Strategy.REST_FOR_ONE,
            backoff=Backoff(enabled=False),
        )

    return Supervisor(
        "root",
        [ChildSpec("api", lambda: Probe(rec)), ChildSpec("pipeline", pipeline)],
        backoff=Backoff(enabled=False),
    )


async def test_the_snapshot_describes_the_whole_tree_as_plain_json(autojump_clock: object) -> None:
    rec = Recording()
    async with running(tree(rec), wall_clock=lambda: 1_700_000_000.0 + trio.current_time()) as rt:
        await trio.sleep(10)
        with pytest.raises(ActorDied):
            await rt.ref("a").call(Crash("disk full"))
        await wait_restarts(rt, "a", 1)
        await trio.sleep(5)
        snap = json.loads(json.dumps(rt.snapshot()))  # plain data all the way down

    assert set(snap) == NODE_KEYS | {"children"}
    assert (snap["name"], snap["kind"], snap["strategy"], snap["state"]) == (
        "root",
        "supervisor",
        "one_for_one",
        "running",
    )
    assert snap["uptime_s"] == pytest.approx(15)
    api, pipeline = snap["children"]
    assert (
        api["kind"] == "actor" and api["strategy"] is None and set(api) == NODE_KEYS | {"mailbox"}
    )
    assert pipeline["strategy"] == "rest_for_one"
    a, b = pipeline["children"]
    assert (a["name"], a["state"], a["incarnation"], a["restarts"], a["failures"]) == (
        "a",
        "running",
        2,
        1,
        1,
    )
    assert a["last_failure"] == {
        "type": "InjectedCrash",
        "message": "a: disk full",
        "at": pytest.approx(1_700_000_010.0),
    }
    assert a["uptime_s"] == pytest.approx(5)
    assert b["restarts"] == 1 and b["failures"] == 0  # rest_for_one took b along
    assert a["mailbox"] == {"depth": 0, "capacity": 3, "peak": 0, "blocked_senders": 0}


async def test_the_snapshot_shows_mailbox_depth_peak_and_blocked_senders(
    autojump_clock: object,
) -> None:
    rec = Recording()
    async with running(tree(rec)) as rt, trio.open_nursery() as senders:
        ref = rt.ref("a")
        ref.cast_nowait(Sleep(100))
        await settle()
        for n in range(3):
            ref.cast_nowait(n)
        for n in range(2):
            senders.start_soon(ref.cast, n)
        await settle()
        a = rt.snapshot()["children"][1]["children"][0]
        assert a["mailbox"] == {"depth": 3, "capacity": 3, "peak": 3, "blocked_senders": 2}
        senders.cancel_scope.cancel()


async def test_a_never_started_tree_still_snapshots() -> None:
    rec = Recording()
    snap = Runtime(tree(rec)).snapshot()
    assert snap["state"] == "idle"
    assert [c["name"] for c in snap["children"]] == ["api", "pipeline"]


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_metrics_count_per_actor_on_a_private_registry(autojump_clock: object) -> None:
    rec = Recording()
    registry = CollectorRegistry()
    async with running(tree(rec), metrics_registry=registry) as rt:
        ref = rt.ref("b")
        for n in range(10):
            await ref.cast(n)
        await ref.call("x")
        with pytest.raises(CallTimeout):
            await ref.call(Sleep(2), timeout=1)
        with pytest.raises(ActorDied):
            await ref.call(Crash())
        await wait_restarts(rt, "b", 1)
        await settle(5)
        assert sample(registry, "actor_messages_handled_total", actor="b") == 12
        assert sample(registry, "actor_handle_seconds_count", actor="b") == 12
        # Handling time is real time (perf_counter), even under the MockClock: all quick here.
        assert 0 < sample(registry, "actor_handle_seconds_sum", actor="b") < 1  # type: ignore[operator]
        assert sample(registry, "actor_handle_seconds_bucket", actor="b", le="+Inf") == 12
        assert sample(registry, "actor_handle_seconds_bucket", actor="b", le="1.0") == 12
        assert sample(registry, "actor_restarts_total", actor="b") == 1
        assert sample(registry, "actor_failures_total", actor="b") == 1
        assert sample(registry, "actor_mailbox_capacity", actor="a") == 3
        assert sample(registry, "actor_mailbox_depth", actor="b") == 0
        outcomes = {
            o: sample(registry, "actor_calls_total", actor="b", outcome=o)
            for o in ("ok", "timeout", "died", "late_reply")
        }
        assert outcomes == {"ok": 1, "timeout": 1, "died": 1, "late_reply": 1}
        assert sample(registry, "actor_restarts_total", actor="pipeline") == 0
        assert b"actor_messages_handled_total" in generate_latest(registry)


async def test_many_runtimes_in_one_process_do_not_clash() -> None:
    rec = Recording()
    first, second = Runtime(tree(rec)), Runtime(tree(rec))
    assert first.metrics_registry is not second.metrics_registry
