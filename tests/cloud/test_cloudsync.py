"""CloudSync end to end: durable outbox in a real SQLite file, a real loopback cloud,
the supervision runtime, simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import trio
from trio.testing import MockClock

from actors.cloudsync import CloudSync, check_week
from supervisors import ChildSpec, Runtime, Supervisor
from tests.support.loopback import Loopback, json_reply
from vvtv.core.clock import TrioClock
from vvtv.core.messages import PublishDaily, PublishStatus, PublishWeekly
from vvtv.core.signing import Verifier
from vvtv.notify.delivery import BreakerState, CircuitBreaker
from vvtv.observe.metrics import ChannelMetrics
from vvtv.store import Store, open_store

TOKEN, SECRET = "cf-token", "cf-secret"
METRICS = {"qa_pass_rate": 0.9}


@asynccontextmanager
async def running(factory: Callable[[], CloudSync]) -> AsyncIterator[Runtime]:
    runtime = Runtime(Supervisor("root", [ChildSpec("cloudsync", factory)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        yield runtime
        runtime.shutdown()


def make(store: Store, clock: TrioClock, url: str | None, **kw: object) -> Callable[[], CloudSync]:
    def factory() -> CloudSync:
        return CloudSync(
            store=store,
            clock=clock,
            base_url=url,
            token=TOKEN,
            secret=SECRET,
            **kw,  # type: ignore[arg-type]
        )

    return factory


def daily(day: int) -> PublishDaily:
    return PublishDaily(date(2026, 3, day), {"aired": day}, METRICS)


async def test_reports_and_status_are_posted_signed_to_their_paths(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    async with running(make(store, clock, receiver.url + "/")) as rt:
        cs = rt.ref("cloudsync")
        cs.cast_nowait(PublishStatus({"state": "RUNNING", "buffer_minutes": 61.5}))
        cs.cast_nowait(daily(1))
        cs.cast_nowait(PublishWeekly("2026-W09", {"aired": 7}, {}))
        await trio.sleep(5)
    assert [(r.path, r.json()) for r in receiver.accepted] == [
        ("/v1/ingest/status", {"state": "RUNNING", "buffer_minutes": 61.5}),
        (
            "/v1/ingest/daily",
            {"date": "2026-03-01", "summary": {"aired": 1}, "metrics": {"qa_pass_rate": 0.9}},
        ),
        ("/v1/ingest/weekly", {"week": "2026-W09", "summary": {"aired": 7}, "metrics": {}}),
    ]
    verifier = Verifier(TOKEN, SECRET)
    for r in receiver.accepted:
        assert r.headers["content-type"] == "application/json"
        verifier.verify("POST", r.path, r.headers, r.body, clock.now().timestamp())


async def test_an_outage_of_hours_loses_nothing_and_delivery_resumes_in_order(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    breaker = CircuitBreaker()
    metrics = ChannelMetrics(process_metrics=False)
    await receiver.down()
    async with running(make(store, clock, receiver.url, breaker=breaker, metrics=metrics)) as rt:
        cs = rt.ref("cloudsync")
        for day in range(1, 4):
            await cs.cast(daily(day))
            for k in range(4):  # status snapshots after each commit window coalesce
                await cs.cast(PublishStatus({"window": day * 10 + k}))
            await trio.sleep(3 * 3600)
        assert store.pending_count("cloud") == 4  # 3 reports + the latest status
        assert breaker.failing and breaker.state(clock.now()) is not BreakerState.CLOSED
        text = metrics.render().decode()
        assert "vvtv_cloud_outbox_depth 4.0" in text
        assert 'vvtv_cloud_circuit{vvtv_cloud_circuit="closed"} 0.0' in text
        await receiver.up()
        await trio.sleep(400)
    got = [(r.path, r.json()) for r in receiver.accepted]
    assert got == [
        ("/v1/ingest/daily", {"date": f"2026-03-0{d}", "summary": {"aired": d}, "metrics": METRICS})
        for d in (1, 2, 3)
    ] + [("/v1/ingest/status", {"window": 33})]
    assert not breaker.failing and breaker.state(clock.now()) is BreakerState.CLOSED
    assert store.pending_count("cloud") == 0
    text = metrics.render().decode()
    assert "vvtv_cloud_outbox_depth 0.0" in text
    assert 'vvtv_cloud_circuit{vvtv_cloud_circuit="closed"} 1.0' in text
    assert 'vvtv_cloud_delivery_failures_total{path="/v1/ingest/daily"}' in text


async def test_reports_are_idempotent_by_date_and_week(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    async with running(make(store, clock, receiver.url)) as rt:
        cs = rt.ref("cloudsync")
        first = await cs.call(daily(1))
        await trio.sleep(5)
        again = await cs.call(daily(1))  # a re-run nightly job
        await cs.call(PublishWeekly("2026-W09", {}, {}))
        await cs.call(PublishWeekly("2026-W09", {"changed": True}, {}))
        await trio.sleep(5)
    assert first == again
    assert [r.path for r in receiver.accepted] == ["/v1/ingest/daily", "/v1/ingest/weekly"]


async def test_a_refused_report_is_audited_and_does_not_block_the_next(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    receiver.then(json_reply(400))
    async with running(make(store, clock, receiver.url)) as rt:
        await rt.ref("cloudsync").call(daily(1))
        await rt.ref("cloudsync").call(daily(2))
        await trio.sleep(5)
    assert [r.answered for r in receiver.requests] == [400, 200]
    assert receiver.accepted[0].json()["date"] == "2026-03-02"
    [audit] = store.query_audit(event_type="cloud_delivery_refused")
    assert audit.reason_code == "CLOUD_REJECTED"
    assert audit.details["status"] == 400 and audit.details["path"] == "/v1/ingest/daily"


async def test_a_cloud_that_says_not_now_is_retried_one_that_says_no_is_not(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    # SPEC §6 plus the one retry policy: 5xx, 429, 408, 425 again; another 4xx never.
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    receiver.then(
        json_reply(502), json_reply(429), json_reply(408), json_reply(403), json_reply(425)
    )
    async with running(make(store, clock, receiver.url)) as rt:
        await rt.ref("cloudsync").call(daily(1))
        await rt.ref("cloudsync").call(daily(2))
        await trio.sleep(5)
    assert [r.answered for r in receiver.requests] == [502, 429, 408, 403, 425, 200]
    assert [r.json()["date"] for r in receiver.accepted] == ["2026-03-02"]
    [audit] = store.query_audit(event_type="cloud_delivery_refused")
    assert audit.details["status"] == 403 and audit.details["path"] == "/v1/ingest/daily"


async def test_a_401_keeps_the_report_and_says_so_until_the_credential_is_fixed(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    """A rotated credential or a clock 300 s off is not the report's fault: never dropped."""
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    breaker = CircuitBreaker()
    receiver.answer_always(json_reply(401))
    factory = make(store, clock, receiver.url, breaker=breaker)
    async with running(factory) as rt:
        await rt.ref("cloudsync").call(daily(1))
        await rt.ref("cloudsync").call(daily(2))
        await trio.sleep(600)
        assert store.pending_count("cloud") == 2
        assert breaker.failing and "HTTP 401" in breaker.last_error
        refused = {r.json()["date"] for r in receiver.requests}
        assert refused == {"2026-03-01"}  # the head waits; nothing behind it jumps the queue
        receiver.answer_always(json_reply())  # the credential is fixed
        await trio.sleep(400)
    assert [r.json()["date"] for r in receiver.accepted] == ["2026-03-01", "2026-03-02"]
    assert not breaker.failing
    assert store.query_audit(event_type="cloud_delivery_refused") == []


async def test_a_slow_cloud_never_blocks_senders(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    receiver.answer_always(json_reply(delay=3600.0))
    async with running(make(store, clock, receiver.url)) as rt:
        cs = rt.ref("cloudsync")
        t0 = trio.current_time()
        for day in range(1, 21):
            await cs.call(daily(day), timeout=1.0)
        assert trio.current_time() - t0 < 1.0
        assert store.pending_count("cloud") == 20


async def test_without_a_base_url_cloud_sync_is_disabled_and_stores_nothing(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    factory = make(store, clock, None)
    async with running(factory) as rt:
        assert await rt.ref("cloudsync").call(daily(1)) is None
        assert await rt.ref("cloudsync").call(PublishStatus({"x": 1})) is None
    assert store.pending_count("cloud") == 0
    assert not factory().failing


async def test_a_malformed_week_is_refused_and_audited_without_crashing(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    import pytest

    store = open_store(tmp_path / "vvtv.db", clock=clock)
    async with running(make(store, clock, receiver.url)) as rt:
        assert await rt.ref("cloudsync").call(PublishWeekly("2026-09", {}, {})) is None
        assert await rt.ref("cloudsync").call(PublishWeekly("2026-W54", {}, {})) is None
        await trio.sleep(1)
    assert receiver.requests == []
    errors = [e.details["error"] for e in store.query_audit(event_type="cloud_publish_invalid")]
    assert len(errors) == 2 and "ISO week" in errors[0] and "does not exist" in errors[1]
    assert check_week("2026-W53") == "2026-W53"
    with pytest.raises(ValueError, match="does not exist"):
        check_week("2025-W53")


async def test_bad_configuration_is_refused_at_construction(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock
) -> None:
    import pytest

    store = open_store(tmp_path / "vvtv.db", clock=clock)
    with pytest.raises(ValueError, match="must be http"):
        CloudSync(store=store, clock=clock, base_url="api.voulezvous.tv")
    with pytest.raises(ValueError, match="token and a secret"):
        CloudSync(store=store, clock=clock, base_url="https://api.voulezvous.tv", token="t")
