"""The Alerter: watches the channel, keeps alert state, tells people exactly once.

Owns: the persisted ``AlertState`` of every code, the ``webhook`` outbox topic.
Receives: ``EvaluateAlerts`` (any actor may nudge it after a metrics change); it
also evaluates on its own at least every ``interval_s`` (60 s). ``DrainOutbox``
(``--once`` before exiting): the reply is how many webhook notifications are still
undelivered.
Sends: webhook notifications (high and critical only, SPEC §5) through the
durable outbox, delivered in order with retries; the same notifications to the edge
(``/v1/ingest/alerts``) on CloudSync's ``cloud`` topic when a cloud is configured; the
active alert list to the ``alerts`` topic and the shared ``AlertBoard`` behind
``/v1/alerts``.

What happened is what the audit trail says: a notification handed to the webhook's or
the edge's outbox is ``alert_notified`` (or ``alert_cleared``, ``details.to`` says where)
and counted in ``vvtv_alerts_notified``; with neither configured the same decision is
``alert_recorded`` (nobody was told). Inhibited alerts and alerts held by the start-up
grace produce no notification at all (``vvtv.notify.alerts``); they show on
``/v1/alerts`` (``inhibited_by``, ``startup_grace_until``) and in
``vvtv_alerts_inhibited``.

Each evaluation is one transaction: the changed states and the notifications they
produce are committed together, so a crash either loses both (and the next
evaluation redoes them) or keeps both (and the restart neither re-sends nor
forgets).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import trio

from supervisors import Actor, ActorContext
from vvtv.core import tls
from vvtv.core.audit import AuditType
from vvtv.core.clock import Clock
from vvtv.core.messages import DrainOutbox, EvaluateAlerts
from vvtv.core.model import AlertState, AuditEvent, Severity, new_id
from vvtv.core.retry import RetryPolicy
from vvtv.notify.alerts import (
    AlertInputs,
    AlertThresholds,
    Notification,
    active_alerts,
    changed,
    evaluate,
    rfc3339,
    step,
)
from vvtv.notify.cloud import enqueue_alert
from vvtv.notify.delivery import (
    DELIVERY_RETRY,
    Deliverer,
    DeliveryResult,
    PumpPolicy,
    PumpSignal,
    check_base_url,
    drain,
    pump,
)
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.store import Store

WEBHOOK_TOPIC = "webhook"
ALERTS_TOPIC = "alerts"
DISCOVERY_FAILED_DOMAIN = "DISCOVERY_FAILED_DOMAIN"
NO_TARGET = (
    "nobody to tell: no webhook (VVTV_ALERT_WEBHOOK_URL) and no cloud "
    "(VVTV_CLOUDFLARE_BASE_URL) configured"
)

InputsPort = Callable[[datetime], AlertInputs | Awaitable[AlertInputs]]
"""Measures the channel at ``now``; sync or async. Built by the composition root."""


class AlertBoard:
    """The active alerts, shared by every Alerter incarnation and the HTTP face.

    Lives outside the actor so ``/v1/alerts`` keeps answering while the Alerter
    restarts; the new incarnation refills it from the persisted states at start.
    """

    def __init__(self) -> None:
        self._alerts: list[dict[str, Any]] = []

        self._grace_until: str | None = None

    def alerts(self) -> list[dict[str, Any]]:
        """``[{code, severity, message, since, inhibited_by}]``, most severe first."""
        return list(self._alerts)

    def view(self) -> dict[str, Any]:
        """The ``/v1/alerts`` body and the ``alerts`` topic payload: every active alert
        (``count``), how many of them are inhibited, and until when the start-up grace
        holds notifications back (None once it is over)."""
        return {
            "count": len(self._alerts),
            "alerts": self.alerts(),
            "inhibited": sum(1 for a in self._alerts if a.get("inhibited_by")),
            "startup_grace_until": self._grace_until,
        }

    def replace(self, alerts: list[dict[str, Any]], grace_until: str | None = None) -> bool:
        """Set the list and the grace; True when either changed."""
        if alerts == self._alerts and grace_until == self._grace_until:
            return False
        self._alerts = list(alerts)
        self._grace_until = grace_until
        return True


def inputs_from_store(store: Store, now: datetime) -> dict[str, Any]:
    """The ``AlertInputs`` fields the state database answers.

    ``qa_pass_rate`` and ``fallback_rate`` come from the latest metric sample, with
    how many QA results and aired items of the last 24 hours they are rates of; the
    growth baseline is the latest sample at or before ``now − 24 h`` (None until the
    channel has a day of history); discovery failures are the DISCOVERY_FAILED_DOMAIN
    audit events of the last 24 hours.
    """
    latest = store.latest_metrics(now)
    day_ago = store.latest_metrics(now - timedelta(hours=24))
    since = now - timedelta(hours=24)
    return {
        "qa_pass_rate": latest.qa_pass_rate if latest else None,
        "fallback_rate": latest.fallback_rate if latest else None,
        "fallback_rate_baseline": day_ago.fallback_rate if day_ago else None,
        "qa_checked_24h": store.count_audit(since=since, until=now, event_type=AuditType.QA_RESULT),
        "aired_24h": store.count_aired(since, now),
        "discovery_failures_24h": store.count_audit(
            since=since, until=now, reason_code=DISCOVERY_FAILED_DOMAIN
        ),
    }


class Alerter(Actor):
    mailbox_size = 32
    accepts = (EvaluateAlerts, DrainOutbox)

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        inputs: InputsPort,
        thresholds: AlertThresholds | None = None,
        cooldown_s: float = 900.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        client_factory: Callable[[], httpx.AsyncClient] = tls.client,
        board: AlertBoard | None = None,
        topics: TopicHub | None = None,
        metrics: ChannelMetrics | None = None,
        interval_s: float = 60.0,
        pump_policy: PumpPolicy | None = None,
        for_seconds: Mapping[str, float] | None = None,
        retry: RetryPolicy = DELIVERY_RETRY,
        cloud_wake: PumpSignal | None = None,
        grace_until: datetime | None = None,
    ) -> None:
        """``cloud_wake``: with one (CloudSync's), notifications also go to the edge on the
        ``cloud`` outbox topic, and the signal wakes CloudSync's pump."""
        if cooldown_s < 0:
            raise ValueError(f"alert cooldown must be >= 0 s, got {cooldown_s}")
        if not 0 < interval_s <= 60:
            raise ValueError(f"alert interval must be in (0, 60] s, got {interval_s}")
        self.store = store
        self.clock = clock
        self.inputs = inputs
        self.thresholds = thresholds or AlertThresholds()
        self.cooldown_s = cooldown_s
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret or None
        self.client_factory = client_factory
        self.board = board if board is not None else AlertBoard()
        self.topics = topics
        self.metrics = metrics
        self.interval_s = interval_s
        self.pump_policy = pump_policy or PumpPolicy()
        self.for_seconds = for_seconds
        self.retry = retry
        self.cloud_wake = cloud_wake
        # The start-up grace: the daemon's boot + VVTV_ALERT_STARTUP_GRACE_SECS. Fixed at
        # boot, so an Alerter restarted by its supervisor does not start a new grace.
        self.grace_until = grace_until
        self.states: dict[str, AlertState] = {}
        self._lock = trio.Lock()
        self._wake = PumpSignal()
        if self.webhook_url is not None:
            # Fail at construction (start-up), not at the first notification.
            check_base_url(self.webhook_url)

    # --- lifecycle -------------------------------------------------------------------

    async def started(self, ctx: ActorContext) -> None:
        self.states = self.store.load_alert_states()
        self._publish()
        ctx.start_soon(self._tick)
        if self.webhook_url is not None:
            ctx.start_soon(self._deliver_webhooks)

    async def handle(self, msg: EvaluateAlerts | DrainOutbox) -> list[dict[str, Any]] | int:
        if isinstance(msg, DrainOutbox):
            if self.webhook_url is None:
                return 0
            return await drain(self.store, WEBHOOK_TOPIC, msg.timeout_s, self._wake)
        return await self.evaluate_now()

    # --- evaluation ------------------------------------------------------------------

    async def evaluate_now(self) -> list[dict[str, Any]]:
        """Measure, fold into the states, persist, enqueue, publish; returns active alerts."""
        async with self._lock:
            now = self.clock.now()
            measured = self.inputs(now)
            inputs = await measured if inspect.isawaitable(measured) else measured
            firing = evaluate(inputs, self.thresholds)
            new, notes = step(
                self.states,
                firing,
                now,
                self.cooldown_s,
                for_seconds=self.for_seconds,
                hold_until=self.grace_until,
            )
            self._commit(changed(self.states, new), notes, now)
            self.states = new
            self._publish(now)
            return self.board.alerts()

    async def _tick(self) -> None:
        while True:
            await self.evaluate_now()
            wait = self.interval_s
            if self.grace_until is not None:
                # Wake when the grace ends, so what it held back goes out at once.
                to_grace = (self.grace_until - self.clock.now()).total_seconds()
                if 0 < to_grace < wait:
                    wait = to_grace
            await trio.sleep(wait)

    def _commit(self, moved: list[AlertState], notes: list[Notification], now: datetime) -> None:
        if not moved and not notes:
            return
        targets = self.targets
        with self.store.transaction():
            self.store.save_alert_states(moved)
            if notes:
                self.store.append_audit_many(_audit(n, targets) for n in notes)
            if self.webhook_url is not None:
                for note in notes:
                    self.store.enqueue(WEBHOOK_TOPIC, note.payload(), now=now)
            if self.cloud_wake is not None:
                for note in notes:
                    enqueue_alert(self.store, note.payload(), now)
        if self.metrics is not None and targets:
            for note in notes:
                self.metrics.alerts_notified.labels(note.code, note.event).inc()
        if notes:
            if self.webhook_url is not None:
                self._wake.set()
            if self.cloud_wake is not None:
                self.cloud_wake.set()

    @property
    def targets(self) -> tuple[str, ...]:
        """Who is told of a notification: the webhook, the edge (the cloud), or nobody."""
        return tuple(
            name
            for name, on in (("webhook", self.webhook_url), ("edge", self.cloud_wake))
            if on is not None
        )

    def _publish(self, now: datetime | None = None) -> None:
        alerts = active_alerts(self.states)
        if self.metrics is not None:
            paging = {s: 0 for s in Severity}
            muted = {s: 0 for s in Severity}
            for a in alerts:
                severity = Severity(a["severity"])
                (muted if a["inhibited_by"] else paging)[severity] += 1
            for severity in Severity:
                self.metrics.alerts_active.labels(str(severity)).set(paging[severity])
                self.metrics.alerts_inhibited.labels(str(severity)).set(muted[severity])
        now = now or self.clock.now()
        grace = self.grace_until
        grace_until = rfc3339(grace) if grace is not None and now < grace else None
        if self.board.replace(alerts, grace_until) and self.topics is not None:
            self.topics.publish(ALERTS_TOPIC, self.board.view())

    # --- webhook delivery ------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        assert self.webhook_url is not None
        async with self.client_factory() as client:
            deliverer = Deliverer(
                self.webhook_url,
                None,
                self.webhook_secret,
                client,
                self.clock,
                retry=self.retry,
            )
            await pump(
                self.store,
                WEBHOOK_TOPIC,
                deliverer,
                lambda item: "",
                self.clock,
                policy=self.pump_policy,
                signal=self._wake,
                on_permanent=self._refused,
            )

    def _refused(self, item: Any, result: DeliveryResult) -> None:
        """A webhook receiver refused a notification (4xx): it will not be retried."""
        self.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.clock.now(),
                event_type=AuditType.WEBHOOK_REFUSED,
                reason_code="WEBHOOK_REJECTED",
                actor="alerter",
                details={
                    "outbox_id": item.id,
                    "status": result.status,
                    "error": result.error,
                    "payload": item.payload,
                },
            )
        )


def _audit(note: Notification, targets: tuple[str, ...]) -> AuditEvent:
    """``alert_notified``/``alert_cleared`` when the notification went to an outbox (the
    webhook's, the edge's: ``details.to``); ``alert_recorded`` (the payload, and why nobody
    was told) when neither is configured."""
    details = {**note.payload(), "to": list(targets)}
    if not targets:
        details = {**note.payload(), "notified": False, "why": NO_TARGET}
    return AuditEvent(
        event_id=new_id("evt"),
        at=note.at,
        event_type=(
            (AuditType.ALERT_NOTIFIED if note.event == "alert" else AuditType.ALERT_CLEARED)
            if targets
            else AuditType.ALERT_RECORDED
        ),
        reason_code=note.code,
        actor="alerter",
        details=details,
    )
