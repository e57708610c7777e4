"""The Alerter actor end to end: real SQLite file, real supervision runtime, a real
loopback webhook receiver, all in simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import trio
from trio.testing import MockClock

from actors.alerter import AlertBoard, Alerter, inputs_from_store
from supervisors import ChildSpec, Runtime, Supervisor
from tests.support.loopback import Loopback, json_reply
from tests.support.waiting import wait_until
from vvtv.core.audit import AuditType
from vvtv.core.clock import TrioClock
from vvtv.core.messages import EvaluateAlerts
from vvtv.core.model import AuditEvent, PipelineMetrics, new_id
from vvtv.core.signing import sign
from vvtv.notify.alerts import AlertInputs
from vvtv.notify.delivery import PumpPolicy
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.store import Store, open_store

HEALTHY = AlertInputs(buffer_minutes=60.0, buffer_critical_minutes=20.0, qa_pass_rate=0.95)
LOW_BUFFER = attrs.evolve(HEALTHY, buffer_minutes=10.0)
SECRET = "hook-secret"


@attrs.define
class World:
    """What the channel measures; tests change it as time passes."""

    inputs: AlertInputs = HEALTHY

    def __call__(self, now: datetime) -> AlertInputs:
        return self.inputs


@asynccontextmanager
async def running(factory: Callable[[], Alerter]) -> AsyncIterator[Runtime]:
    runtime = Runtime(Supervisor("root", [ChildSpec("alerter", factory)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        yield runtime
        runtime.shutdown()


def make(
    store: Store,
    clock: TrioClock,
    world: World,
    url: str | None,
    **kw: object,
) -> Callable[[], Alerter]:
    options: dict[str, object] = {"inputs": world, **kw}

    def factory() -> Alerter:
        return Alerter(
            store=store,
            clock=clock,
            cooldown_s=900,
            webhook_url=url,
            webhook_secret=SECRET,
            **options,  # type: ignore[arg-type]
        )

    return factory


def _node(tree: dict, name: str) -> dict:
    if tree.get("name") == name:
        return tree
    for child in tree.get("children", []):
        found = _node(child, name)
        if found:
            return found
    return {}


def events(receiver: Loopback) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["code"]) for r in receiver.accepted]


async def test_an_alert_held_shorter_than_its_for_time_never_notifies(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(LOW_BUFFER)
    async with running(make(store, clock, world, receiver.url)) as rt:
        await trio.sleep(30)
        await rt.ref("alerter").call(EvaluateAlerts("metrics changed"))
        await trio.sleep(29)
        world.inputs = HEALTHY
        await rt.ref("alerter").call(EvaluateAlerts("metrics changed"))
        await trio.sleep(3600)
    assert receiver.requests == []
    assert store.pending_count("webhook") == 0
    assert not store.load_alert_states()["BUFFER_CRITICAL"].active


async def test_one_signed_notification_per_cooldown_then_a_clear_on_resolve(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(LOW_BUFFER)
    start = trio.current_time()
    async with running(make(store, clock, world, receiver.url)):
        await trio.sleep(3000)  # evaluations at 0, 60, ... fire at 60 s, re-send each 900 s
        world.inputs = HEALTHY
        await trio.sleep(120)
    assert events(receiver) == [("alert", "BUFFER_CRITICAL")] * 4 + [
        ("alert_clear", "BUFFER_CRITICAL")
    ]
    offsets = [round(r.at - start) for r in receiver.accepted]
    assert offsets[:4] == [60, 960, 1860, 2760]
    first = receiver.accepted[0]
    assert first.json() == {
        "event": "alert",
        "code": "BUFFER_CRITICAL",
        "severity": "critical",
        "message": "buffer at 10.0 min, below the critical 20 min",
        "timestamp": "2026-03-01T12:01:00Z",
    }
    ts = first.headers["x-vvtv-ts"]
    assert first.headers["x-vvtv-signature"] == sign(SECRET, "POST", "/", ts, first.body)
    assert set(receiver.accepted[-1].json()) == {"event", "code", "timestamp"}


async def test_medium_alerts_are_listed_but_never_sent(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(attrs.evolve(HEALTHY, fallback_rate=0.25, fallback_rate_baseline=0.05))
    board = AlertBoard()
    async with running(make(store, clock, world, receiver.url, board=board)):
        await trio.sleep(1000)
        assert [a["code"] for a in board.alerts()] == ["FALLBACK_RATE_GROWING"]
    assert receiver.requests == []


async def test_a_restart_mid_alert_neither_resends_nor_forgets(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    db = tmp_path / "vvtv.db"
    world = World(LOW_BUFFER)
    first = open_store(db, clock=clock)
    async with running(make(first, clock, world, receiver.url)):
        await trio.sleep(200)  # fired and notified at 60 s
    first.close()
    assert events(receiver) == [("alert", "BUFFER_CRITICAL")]

    # A new daemon: a new store on the same file, a new actor, a new board.
    second = open_store(db, clock=clock)
    board = AlertBoard()
    async with running(make(second, clock, world, receiver.url, board=board)) as rt:
        await trio.sleep(0)
        assert [a["code"] for a in board.alerts()] == ["BUFFER_CRITICAL"]  # not forgotten
        await trio.sleep(300)  # still inside the cooldown: nothing re-sent
        assert events(receiver) == [("alert", "BUFFER_CRITICAL")]
        world.inputs = HEALTHY
        await rt.ref("alerter").call(EvaluateAlerts("recovered"))
        await trio.sleep(10)
    assert events(receiver) == [("alert", "BUFFER_CRITICAL"), ("alert_clear", "BUFFER_CRITICAL")]
    assert board.alerts() == []


async def test_a_crash_of_the_actor_keeps_state_through_the_supervisor_restart(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(LOW_BUFFER)
    calls = {"n": 0}

    def flaky(now: datetime) -> AlertInputs:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("measurement failed")
        return world(now)

    async with running(make(store, clock, world, receiver.url, inputs=flaky)) as rt:
        await trio.sleep(600)
        snap = rt.snapshot()
    assert _node(snap, "alerter")["restarts"] == 1
    assert events(receiver) == [("alert", "BUFFER_CRITICAL")]


async def test_a_receiver_down_for_two_hours_gets_every_notification_once_in_order(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(HEALTHY)
    await receiver.down()
    async with running(make(store, clock, world, receiver.url)) as rt:
        alerter = rt.ref("alerter")
        # Emergency mode flaps every 10 minutes for two hours: 12 alerts, 12 clears.
        for _ in range(12):
            world.inputs = attrs.evolve(HEALTHY, emergency_active=True)
            await alerter.call(EvaluateAlerts())
            await trio.sleep(300)
            world.inputs = HEALTHY
            await alerter.call(EvaluateAlerts())
            await trio.sleep(300)
        assert receiver.accepted == []
        assert store.pending_count("webhook") == 24
        await receiver.up()
        await trio.sleep(PumpPolicy().retry_cap_s + 60)
    assert (
        events(receiver)
        == [("alert", "EMERGENCY_ACTIVE"), ("alert_clear", "EMERGENCY_ACTIVE")] * 12
    )
    stamps = [r.json()["timestamp"] for r in receiver.accepted]
    assert stamps == sorted(stamps) and len(set(stamps)) == 24
    ids = [r.headers["x-vvtv-delivery-id"] for r in receiver.accepted]
    assert len(set(ids)) == 24
    assert store.pending_count("webhook") == 0


async def test_a_refused_notification_is_audited_and_does_not_block_the_next(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(attrs.evolve(HEALTHY, emergency_active=True))
    receiver.then(json_reply(400))
    async with running(make(store, clock, world, receiver.url)) as rt:
        await trio.sleep(10)
        world.inputs = HEALTHY
        await rt.ref("alerter").call(EvaluateAlerts())
        await trio.sleep(10)
    assert [r.answered for r in receiver.requests] == [400, 200]
    assert events(receiver) == [("alert_clear", "EMERGENCY_ACTIVE")]
    [refused] = store.query_audit(event_type="webhook_refused")
    assert refused.reason_code == "WEBHOOK_REJECTED" and refused.details["status"] == 400


async def test_a_webhook_that_says_not_now_is_retried_one_that_says_no_is_not(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    # The one retry policy: 408, 425, 429 and 5xx again (DELIVERY_RETRY), 404 never.
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(attrs.evolve(HEALTHY, emergency_active=True))
    receiver.then(json_reply(408), json_reply(425), json_reply(503), json_reply(404))
    async with running(make(store, clock, world, receiver.url)) as rt:
        await trio.sleep(10)
        world.inputs = HEALTHY
        await rt.ref("alerter").call(EvaluateAlerts())
        await trio.sleep(10)
    assert [r.answered for r in receiver.requests] == [408, 425, 503, 404, 200]
    assert events(receiver) == [("alert_clear", "EMERGENCY_ACTIVE")]
    [refused] = store.query_audit(event_type="webhook_refused")
    assert refused.details["status"] == 404


async def test_active_alerts_go_to_the_topic_the_board_and_the_metrics(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(attrs.evolve(HEALTHY, emergency_active=True, last_segment_age_s=60.0))
    topics, board, metrics = TopicHub(), AlertBoard(), ChannelMetrics(process_metrics=False)
    async with running(
        make(store, clock, world, None, topics=topics, board=board, metrics=metrics)
    ) as rt:
        await trio.sleep(1)
        view = topics["alerts"].latest
        assert view["count"] == 2
        assert [a["code"] for a in view["alerts"]] == ["STREAM_STALE", "EMERGENCY_ACTIVE"]
        assert view["alerts"][0]["since"] == "2026-03-01T12:00:00Z"
        assert board.view() == view
        seq = topics["alerts"].seq
        await rt.ref("alerter").call(EvaluateAlerts())
        assert topics["alerts"].seq == seq  # nothing changed, nothing republished
    text = metrics.render().decode()
    assert 'vvtv_alerts_active{severity="critical"} 1.0' in text
    # No webhook configured: nothing queued, nobody told, and the trail says exactly that.
    assert store.pending_count("webhook") == 0
    assert "vvtv_alerts_notified_total{" not in text
    assert store.query_audit(event_type="alert_notified") == []
    recorded = store.query_audit(event_type="alert_recorded")
    assert sorted(e.reason_code for e in recorded) == ["EMERGENCY_ACTIVE", "STREAM_STALE"]
    assert all(e.details["notified"] is False for e in recorded)
    assert "VVTV_ALERT_WEBHOOK_URL" in recorded[0].details["why"]


async def test_with_a_webhook_the_notification_is_audited_and_counted_as_notified(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(attrs.evolve(HEALTHY, last_segment_age_s=60.0))
    metrics = ChannelMetrics(process_metrics=False)
    async with running(make(store, clock, world, receiver.url, metrics=metrics)):
        await wait_until("the webhook got the alert", lambda: len(receiver.accepted) == 1)
        world.inputs = HEALTHY
        await trio.sleep(61)
        await wait_until("the webhook got the clear", lambda: len(receiver.accepted) == 2)
    text = metrics.render().decode()
    assert 'vvtv_alerts_notified_total{code="STREAM_STALE",event="alert"} 1.0' in text
    assert 'vvtv_alerts_notified_total{code="STREAM_STALE",event="alert_clear"} 1.0' in text
    trail = [(e.event_type, e.details["to"]) for e in store.query_audit(reason_code="STREAM_STALE")]
    assert trail == [("alert_notified", ["webhook"]), ("alert_cleared", ["webhook"])]
    assert store.query_audit(event_type="alert_recorded") == []


async def test_inputs_from_store_read_rates_baseline_and_discovery_failures(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock
) -> None:
    from datetime import timedelta

    store = open_store(tmp_path / "vvtv.db", clock=clock)
    now = clock.now()
    assert inputs_from_store(store, now) == {
        "qa_pass_rate": None,
        "fallback_rate": None,
        "fallback_rate_baseline": None,
        "qa_checked_24h": 0,
        "aired_24h": 0,
        "discovery_failures_24h": 0,
    }
    store.record_metrics(PipelineMetrics(at=now - timedelta(hours=25), fallback_rate=0.05))
    store.record_metrics(
        PipelineMetrics(at=now - timedelta(minutes=5), qa_pass_rate=0.8, fallback_rate=0.3)
    )
    for hours in (30, 20, 2, 1):
        store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=now - timedelta(hours=hours),
                event_type="discovery_source_failed",
                reason_code="DISCOVERY_FAILED_DOMAIN",
            )
        )
    for hours, passed in ((30, True), (3, True), (2, False)):
        store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=now - timedelta(hours=hours),
                event_type=AuditType.QA_RESULT,
                reason_code="" if passed else "QA_REJECTED",
                details={"passed": passed},
            )
        )
    got = inputs_from_store(store, now)
    assert got == {
        "qa_pass_rate": 0.8,
        "fallback_rate": 0.3,
        "fallback_rate_baseline": 0.05,
        "qa_checked_24h": 2,  # the rates' sample sizes: QA results and aired items in 24 h
        "aired_24h": 0,
        "discovery_failures_24h": 3,
    }


async def test_a_malformed_webhook_url_or_settings_are_refused_at_construction(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock
) -> None:
    import pytest

    store = open_store(tmp_path / "vvtv.db", clock=clock)
    with pytest.raises(ValueError, match="must be http"):
        make(store, clock, World(), "hooks.example.com/x")()
    with pytest.raises(ValueError, match="cooldown"):
        Alerter(store=store, clock=clock, inputs=World(), cooldown_s=-1)
    with pytest.raises(ValueError, match="interval"):
        Alerter(store=store, clock=clock, inputs=World(), interval_s=120)


# --- a fresh boot: start-up grace and inhibition ------------------------------------------

INCIDENT = attrs.evolve(LOW_BUFFER, emergency_active=True)


async def test_a_fresh_boot_that_fills_its_buffer_within_the_grace_pages_nobody(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(INCIDENT)  # what every boot looks like: empty buffer, emergency on
    board, metrics = AlertBoard(), ChannelMetrics(process_metrics=False)
    grace = clock.now() + timedelta(seconds=300)
    async with running(
        make(store, clock, world, receiver.url, board=board, metrics=metrics, grace_until=grace)
    ):
        await trio.sleep(90)
        # Shown, one incident: the emergency is what would page, the buffer is inhibited.
        view = board.view()
        assert {a["code"]: a["inhibited_by"] for a in view["alerts"]} == {
            "BUFFER_CRITICAL": "EMERGENCY_ACTIVE",
            "EMERGENCY_ACTIVE": None,
        }
        assert (view["inhibited"], view["startup_grace_until"]) == (1, "2026-03-01T12:05:00Z")
        text = metrics.render().decode()
        assert 'vvtv_alerts_active{severity="critical"} 0.0' in text
        assert 'vvtv_alerts_inhibited{severity="critical"} 1.0' in text
        assert 'vvtv_alerts_active{severity="high"} 1.0' in text
        world.inputs = HEALTHY  # content arrived: RUNNING
        await trio.sleep(3600)
        assert board.view()["count"] == 0
        assert board.view()["startup_grace_until"] is None
    assert receiver.requests == []
    assert store.pending_count("webhook") == 0


async def test_an_incident_outlasting_the_grace_pages_once_when_it_ends(
    autojump_clock: MockClock, tmp_path: Path, clock: TrioClock, receiver: Loopback
) -> None:
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    world = World(INCIDENT)
    start = trio.current_time()
    grace = clock.now() + timedelta(seconds=300)
    async with running(make(store, clock, world, receiver.url, grace_until=grace)):
        await wait_until(
            "the page after the grace", lambda: len(receiver.accepted) == 1, within=600
        )
        await trio.sleep(120)
        world.inputs = HEALTHY
        await wait_until("the clear", lambda: len(receiver.accepted) == 2, within=120)
    assert events(receiver) == [("alert", "EMERGENCY_ACTIVE"), ("alert_clear", "EMERGENCY_ACTIVE")]
    assert round(receiver.accepted[0].at - start) == 300  # at the grace's end, not a tick later
