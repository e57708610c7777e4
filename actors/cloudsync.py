"""CloudSync: publishes status snapshots and reports to the cloud, never losing one (SPEC §6).

Owns: the ``cloud`` outbox topic and its delivery pump.
Receives: ``PublishStatus`` (after each commit window), ``PublishDaily`` and
``PublishWeekly`` (after the nightly job), ``DrainOutbox`` (``--once`` before exiting:
the reply is how many documents are still undelivered).
Sends: signed POSTs to ``/v1/ingest/status``, ``/v1/ingest/daily`` and
``/v1/ingest/weekly`` under ``VVTV_CLOUDFLARE_BASE_URL``.

Handling a message is one quick SQLite write into the outbox, so senders are never
slowed by the cloud (``cast_nowait`` is the intended way to send; the mailbox is
bounded). The pump runs beside it, in order, with the ``Deliverer``'s retries and
circuit breaker; a cloud outage only grows the outbox:

- status snapshots coalesce: only the latest pending one is sent;
- a daily report is enqueued once per date, a weekly one once per ISO week
  (dedupe keys), so a re-run nightly job never publishes twice;
- the Alerter enqueues its notifications on the same topic (``vvtv.notify.cloud``), in
  the transaction that records them, and wakes the pump through the shared ``wake``;
- a document the cloud refuses (4xx other than 401 and 429) is audited and skipped;
  a 401 (a credential rotated on one side only, a clock more than 300 s off) is not the
  document's fault: it stays at the head and is retried with the pump's backoff, the
  breaker counts the failure and CLOUD_SYNC_FAILING says why (ops/runbook.md);
- every request carries a fresh nonce inside its signature (the edge accepts each
  signature once), and every failed delivery nudges the Alerter.

With no base URL (dev) the actor accepts messages and drops them: the channel
runs the same with or without a cloud.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import trio

from supervisors import Actor, ActorContext, ActorError
from vvtv.core import tls
from vvtv.core.audit import AuditType
from vvtv.core.clock import Clock
from vvtv.core.messages import (
    DrainOutbox,
    EvaluateAlerts,
    PublishDaily,
    PublishStatus,
    PublishWeekly,
)
from vvtv.core.model import AuditEvent, new_id
from vvtv.core.retry import RetryPolicy
from vvtv.notify.cloud import (
    CLOUD_HOLD_STATUSES,
    CLOUD_TOPIC,
    DAILY_PATH,
    STATUS_PATH,
    WEEKLY_PATH,
    enqueue_daily,
    enqueue_status,
    enqueue_weekly,
)
from vvtv.notify.delivery import (
    DELIVERY_RETRY,
    CircuitBreaker,
    Deliverer,
    DeliveryResult,
    PumpPolicy,
    PumpSignal,
    check_base_url,
    drain,
    pump,
)
from vvtv.observe.metrics import ChannelMetrics
from vvtv.store import Store

__all__ = ["CLOUD_TOPIC", "DAILY_PATH", "STATUS_PATH", "WEEKLY_PATH", "CloudSync", "check_week"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def check_week(week: str) -> str:
    """``week`` if it is a real ISO week ``%G-W%V`` (e.g. ``2026-W09``), else ValueError."""
    m = _WEEK.match(week)
    if m is None:
        raise ValueError(f"week must be an ISO week like 2026-W09 (%G-W%V), got {week!r}")
    try:
        date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise ValueError(f"week {week!r} does not exist in ISO year {m[1]}") from None
    return week


class CloudSync(Actor):
    mailbox_size = 64
    accepts = (PublishStatus, PublishDaily, PublishWeekly, DrainOutbox)

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        base_url: str | None,
        token: str | None = None,
        secret: str | None = None,
        client_factory: Callable[[], httpx.AsyncClient] = tls.client,
        breaker: CircuitBreaker | None = None,
        metrics: ChannelMetrics | None = None,
        pump_policy: PumpPolicy | None = None,
        retry: RetryPolicy = DELIVERY_RETRY,
        wake: PumpSignal | None = None,
    ) -> None:
        self.base_url = base_url or None
        if self.base_url is not None:
            check_base_url(self.base_url)
        if bool(token) != bool(secret):
            raise ValueError("cloud sync needs both a token and a secret, or neither")
        self.store = store
        self.clock = clock
        self.token = token or None
        self.secret = secret or None
        self.client_factory = client_factory
        # Shared across incarnations when the composition root passes one, so the
        # CLOUD_SYNC_FAILING alert and the circuit gauge survive a restart.
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.metrics = metrics
        self.pump_policy = pump_policy or PumpPolicy()
        self.retry = retry
        # Shared with the Alerter when the composition root passes one: it enqueues
        # alert notifications on this topic and wakes the pump.
        self._wake = wake if wake is not None else PumpSignal()
        self._ctx: ActorContext | None = None
        self._failed_since_delivery = False
        if metrics is not None:
            self.breaker.on_change = lambda state: metrics.cloud_circuit.state(str(state))

    @property
    def enabled(self) -> bool:
        return self.base_url is not None

    @property
    def failing(self) -> bool:
        """For CLOUD_SYNC_FAILING: the last delivery failed and none succeeded since."""
        return self.enabled and self.breaker.failing

    # --- lifecycle -------------------------------------------------------------------

    async def started(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        if self.enabled:
            self._refresh_depth()
            ctx.start_soon(self._deliver)

    async def handle(
        self, msg: PublishStatus | PublishDaily | PublishWeekly | DrainOutbox
    ) -> int | None:
        """Enqueue the document; the reply is its outbox id (None when disabled or invalid).
        ``DrainOutbox``: the number of documents still undelivered after waiting."""
        if isinstance(msg, DrainOutbox):
            if not self.enabled:
                return 0
            return await drain(self.store, CLOUD_TOPIC, msg.timeout_s, self._wake)
        if not self.enabled:
            return None
        now = self.clock.now()
        if isinstance(msg, PublishStatus):
            item = enqueue_status(self.store, msg.snapshot, now)
        elif isinstance(msg, PublishDaily):
            item = enqueue_daily(self.store, msg.day.isoformat(), msg.summary, msg.metrics, now)
        else:
            try:
                week = check_week(msg.week)
            except ValueError as exc:
                # A malformed week from our own scheduler: refuse this report loudly
                # in the audit trail, keep publishing everything else.
                self._audit(
                    AuditType.CLOUD_PUBLISH_INVALID, "CLOUD_PUBLISH_INVALID", {"error": str(exc)}
                )
                return None
            item = enqueue_weekly(self.store, week, msg.summary, msg.metrics, now)
        self._refresh_depth()
        self._wake.set()
        return item

    # --- delivery --------------------------------------------------------------------

    async def _deliver(self) -> None:
        assert self.base_url is not None
        if self.metrics is not None:
            self.metrics.cloud_circuit.state(str(self.breaker.state(self.clock.now())))
        async with self.client_factory() as client:
            deliverer = Deliverer(
                self.base_url,
                self.token,
                self.secret,
                client,
                self.clock,
                retry=self.retry,
                breaker=self.breaker,
                on_attempt=self._attempted,
                nonce=True,
                hold_statuses=CLOUD_HOLD_STATUSES,
            )
            await pump(
                self.store,
                CLOUD_TOPIC,
                deliverer,
                lambda item: item.payload["path"],
                self.clock,
                policy=self.pump_policy,
                signal=self._wake,
                body_for=lambda item: item.payload["body"],
                on_permanent=self._refused,
                on_delivered=self._delivered,
                after_round=self._refresh_depth,
            )

    def _attempted(self, path: str, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.cloud_attempts.labels(path).inc()
            if not ok:
                self.metrics.cloud_failures.labels(path).inc()
        if not ok:
            self._failed_since_delivery = True
            self._nudge_alerter()

    def _delivered(self, item: Any, result: DeliveryResult) -> None:
        if self._failed_since_delivery:
            # The delivery that ends a failure: CLOUD_SYNC_FAILING clears now.
            self._failed_since_delivery = False
            self._nudge_alerter()

    def _nudge_alerter(self) -> None:
        """Let the Alerter look now: CLOUD_SYNC_FAILING follows the breaker, and the
        Alerter's own minute would make a short outage invisible or its end late."""
        if self._ctx is None:
            return
        # The Alerter evaluates on its own schedule too: a full mailbox loses nothing.
        with contextlib.suppress(ActorError, trio.WouldBlock):
            self._ctx.ref("alerter").cast_nowait(EvaluateAlerts(reason="cloud delivery"))

    def _refresh_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.cloud_outbox_depth.set(self.store.pending_count(CLOUD_TOPIC))

    def _refused(self, item: Any, result: DeliveryResult) -> None:
        """The cloud refused a document (4xx other than 401 and 429): audited, never retried."""
        self._audit(
            AuditType.CLOUD_DELIVERY_REFUSED,
            "CLOUD_REJECTED",
            {
                "outbox_id": item.id,
                "path": item.payload["path"],
                "status": result.status,
                "error": result.error,
            },
        )

    def _audit(self, event_type: AuditType, reason_code: str, details: dict[str, Any]) -> None:
        self.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.clock.now(),
                event_type=event_type,
                reason_code=reason_code,
                actor="cloudsync",
                details=details,
            )
        )
