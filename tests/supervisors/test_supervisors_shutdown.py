"""Graceful shutdown: reverse start order, per-child timeouts, the global budget, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from supervisors import ActorUnavailable, ChildSpec, Runtime, Supervisor
from supervisors.testing import Probe, Recording, Sleep, settle

ROOT = Path(__file__).resolve().parents[2]


def probe(rec: Recording, name: str, **options: object) -> ChildSpec:
    timeout = options.pop("shutdown_timeout", 5.0)
    return ChildSpec(name, lambda: Probe(rec, **options), shutdown_timeout=timeout)  # type: ignore[arg-type]


async def run_until_up(rt: Runtime, nursery: trio.Nursery) -> None:
    await nursery.start(rt.run)


async def test_children_stop_in_reverse_start_order_depth_first(autojump_clock: object) -> None:
    rec = Recording()
    sub = ChildSpec("sub", lambda: Supervisor("sub", [probe(rec, "d"), probe(rec, "e")]))
    root = Supervisor("root", [probe(rec, "a"), probe(rec, "b"), sub, probe(rec, "c")])
    rt = Runtime(root)
    async with trio.open_nursery() as nursery:
        await run_until_up(rt, nursery)
        assert rec.starts() == ["a", "b", "d", "e", "c"]
        rt.shutdown()
    assert rec.stops() == ["c", "e", "d", "b", "a"]
    snap = rt.snapshot()
    assert snap["state"] == "stopped"
    assert {c["state"] for c in snap["children"]} == {"stopped"}


async def test_a_child_overrunning_its_shutdown_timeout_is_cancelled_and_the_rest_go_on(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            probe(rec, "first"),
            probe(rec, "slow", stop_delay=100, shutdown_timeout=2),
            probe(rec, "last"),
        ],
    )
    rt = Runtime(root)
    async with trio.open_nursery() as nursery:
        await run_until_up(rt, nursery)
        start = trio.current_time()
        rt.shutdown()
    assert trio.current_time() - start == pytest.approx(2)
    stopped_at = {e.name: e.at - start for e in rec.events if e.what == "stopping"}
    assert stopped_at == pytest.approx({"last": 0, "slow": 0, "first": 2})
    assert rt.node("slow").state == "stopped"


async def test_an_in_flight_message_finishes_and_queued_calls_fail_promptly_on_shutdown(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor("root", [probe(rec, "w", reply=lambda m: "done")])
    rt = Runtime(root)
    results: list[object] = []

    async def call(msg: object) -> None:
        try:
            results.append(await rt.ref("w").call(msg, timeout=60))
        except ActorUnavailable as exc:
            results.append(str(exc))

    async with trio.open_nursery() as nursery:
        await run_until_up(rt, nursery)
        nursery.start_soon(call, Sleep(3))
        await settle()
        nursery.start_soon(call, "queued")
        await settle()
        start = trio.current_time()
        rt.shutdown()
    assert results == ["actor 'w' stopped (shutdown)", "done"]
    assert trio.current_time() - start == pytest.approx(3)


async def test_the_global_budget_bounds_the_whole_shutdown(autojump_clock: object) -> None:
    rec = Recording()
    root = Supervisor(
        "root",
        [
            probe(rec, "a", stop_delay=100, shutdown_timeout=50),
            probe(rec, "b", stop_delay=100, shutdown_timeout=50),
        ],
    )
    rt = Runtime(root, shutdown_budget=10)
    async with trio.open_nursery() as nursery:
        await run_until_up(rt, nursery)
        start = trio.current_time()
        rt.shutdown()
    assert trio.current_time() - start == pytest.approx(10)
    assert rec.stops() == ["b"]  # a never got its turn: the budget cancelled the tree


async def test_shutdown_during_a_slow_start_is_bounded_by_the_budget(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor("root", [probe(rec, "stuck", start_delay=1000)])
    rt = Runtime(root, shutdown_budget=3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rt.run)
        await trio.sleep(1)
        rt.shutdown()
    assert trio.current_time() == pytest.approx(4)


async def test_shutdown_before_run_starts_nothing(autojump_clock: object) -> None:
    rec = Recording()
    rt = Runtime(Supervisor("root", [probe(rec, "a")]))
    rt.shutdown()
    await rt.run()
    assert rec.events == []


def test_runtime_refuses_a_non_supervisor_root_and_a_bad_budget() -> None:
    with pytest.raises(TypeError, match="root must be a Supervisor"):
        Runtime("root")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shutdown_budget"):
        Runtime(Supervisor("root", []), shutdown_budget=0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_shuts_the_daemon_down_gracefully(signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sigterm_tree.py"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A non-interactive shell's background jobs ignore SIGINT; make sure this one does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "up"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.split() == ["stopping", "third", "stopping", "second", "stopping", "first", "exited"]


async def test_a_shutdown_during_the_initial_start_still_answers_nursery_start(
    autojump_clock: object,
) -> None:
    rec = Recording()
    root = Supervisor("root", [probe(rec, "slow", start_delay=5), probe(rec, "never")])
    rt = Runtime(root)

    async def stop_soon() -> None:
        await trio.sleep(1)
        rt.shutdown()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_soon)
        await nursery.start(rt.run)  # no "exited without calling started" error
    assert rec.starts() == ["slow"] and rec.stops() == ["slow"]
    assert trio.current_time() == pytest.approx(5)
