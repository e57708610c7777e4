"""What the channel sends to the cloud (the edge, cloud/worker), as outbox items.

Every non-media document for the edge goes through one durable outbox topic, ``cloud``,
delivered in order by CloudSync's pump (``vvtv.notify.delivery.pump``): status snapshots,
daily and weekly reports, and alert notifications. An item's payload is
``{"path": <ingest route>, "body": <JSON document>}``; whoever enqueues it (CloudSync for
status and reports, the Alerter for alerts, in the same transaction as the alert state)
uses the helpers here, so the routes and keys live in one place. The edge's side of each
route: cloud/worker/PROTOCOL.md §5.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from vvtv.core.convert import to_jsonable
from vvtv.core.model import new_id

CLOUD_TOPIC = "cloud"
STATUS_PATH = "/v1/ingest/status"
DAILY_PATH = "/v1/ingest/daily"
WEEKLY_PATH = "/v1/ingest/weekly"
ALERTS_PATH = "/v1/ingest/alerts"

#: What the edge answers when a delivery is refused for who sent it, not what was sent:
#: a credential rotated on one side only, or a clock more than 300 s off. The document is
#: kept and sent again (with CLOUD_SYNC_FAILING raised meanwhile), never dropped.
CLOUD_HOLD_STATUSES = frozenset({401})


class Outbox(Protocol):
    """The part of ``vvtv.store.Store`` used to enqueue."""

    def enqueue(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = ...,
        coalesce_key: str | None = ...,
        now: datetime | None = ...,
    ) -> int: ...


def enqueue_status(store: Outbox, snapshot: dict[str, Any], now: datetime) -> int:
    """A status snapshot; a newer one replaces one still pending (only the latest matters)."""
    payload = {"path": STATUS_PATH, "body": to_jsonable(snapshot)}
    return store.enqueue(CLOUD_TOPIC, payload, coalesce_key="status", now=now)


def enqueue_daily(
    store: Outbox, day: str, summary: dict[str, Any], metrics: dict[str, Any], now: datetime
) -> int:
    """The daily report of ``day`` (``YYYY-MM-DD``), enqueued once per date."""
    body = {"date": day, "summary": summary, "metrics": metrics}
    payload = {"path": DAILY_PATH, "body": to_jsonable(body)}
    return store.enqueue(CLOUD_TOPIC, payload, dedupe_key=f"daily:{day}", now=now)


def enqueue_weekly(
    store: Outbox, week: str, summary: dict[str, Any], metrics: dict[str, Any], now: datetime
) -> int:
    """The weekly report of ``week`` (``%G-W%V``, already checked), once per week."""
    body = {"week": week, "summary": summary, "metrics": metrics}
    payload = {"path": WEEKLY_PATH, "body": to_jsonable(body)}
    return store.enqueue(CLOUD_TOPIC, payload, dedupe_key=f"weekly:{week}", now=now)


def enqueue_alert(store: Outbox, notification: dict[str, Any], now: datetime) -> int:
    """One alert or alert_clear notification (SPEC §5's webhook payload).

    It gets an ``id`` the edge records: the pump delivers at least once (a crash between
    the edge's 200 and our commit sends it again), and the edge ignores an id it has
    already seen, so each alert is recorded there once.
    """
    body = {**notification, "id": new_id("alert")}
    return store.enqueue(CLOUD_TOPIC, {"path": ALERTS_PATH, "body": body}, now=now)
