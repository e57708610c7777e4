"""The channel's state in SQLite (SPEC §7): everything it knows survives a crash.

``Store.open(path)`` checks, migrates and returns the store; ``store.recover(now)``
loads what the daemon needs to continue where it stopped. Each entity family
lives in its own module (plans, assets, queue, audit, control, outbox,
commands, uptime); the
threading model and start-up safety are described in ``vvtv.store.base``, the
schema and its conventions in ``vvtv.store.schema``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from vvtv.core.model import AlertState, AssetItem, PlanItem, PlanState, QueueEntry
from vvtv.store.assets import AssetsMixin
from vvtv.store.audit import AuditMixin, RetentionCounts
from vvtv.store.base import RESTORE_HINT, FencingError, NotFoundError, StoreError
from vvtv.store.commands import CommandRecord, CommandsMixin
from vvtv.store.control import CardVersion, ControlMixin, LiveCounters, LockInfo
from vvtv.store.outbox import OutboxItem, OutboxMixin
from vvtv.store.plans import IN_FLIGHT, Page, PlansMixin
from vvtv.store.queue import QueueMixin
from vvtv.store.schema import SCHEMA_VERSION
from vvtv.store.uptime import UptimeMixin


@attrs.frozen
class RecoveredState:
    """What the daemon reloads at boot, in one consistent read."""

    now: datetime
    queue: list[QueueEntry]  # non-skipped entries ending after ``now``, by start_at
    assets: dict[str, AssetItem]  # the assets the recovered queue refers to
    plans_in_flight: list[PlanItem]  # SCHEDULED, RESERVED and COMMITTED plans, by start_at
    plan_counts: dict[PlanState, int]
    cursors: dict[str, datetime]
    live_counters: LiveCounters
    live_values: dict[str, Any]
    alert_states: dict[str, AlertState]
    card_version: CardVersion | None
    schema_version: int


class Store(
    PlansMixin,
    AssetsMixin,
    QueueMixin,
    ControlMixin,
    AuditMixin,
    OutboxMixin,
    CommandsMixin,
    UptimeMixin,
):
    """The state database. Methods are synchronous and short; see ``vvtv.store.base``."""

    def recover(self, now: datetime) -> RecoveredState:
        """Load the queue from ``now``, plans in flight, cursors, counters, alert states and the
        latest OwnerCard version in one transaction (a consistent snapshot).

        Reads only indexed ranges of the small tables: it never scans the audit trail.
        """
        with self.transaction():
            queue = self.queue_after(now)
            return RecoveredState(
                now=now,
                queue=queue,
                assets=self.get_assets([e.asset_id for e in queue]),
                plans_in_flight=self.plans_in_flight(),
                plan_counts=self.count_plans(),
                cursors=self.cursors(),
                live_counters=self.get_live_counters(),
                live_values=self.live_values(),
                alert_states=self.load_alert_states(),
                card_version=self.latest_card_version(),
                schema_version=self.schema_version(),
            )


def open_store(path: Any, **kwargs: Any) -> Store:
    """``Store.open`` with a precise return type."""
    store: Store = Store.open(path, **kwargs)
    return store


__all__ = [
    "IN_FLIGHT",
    "RESTORE_HINT",
    "SCHEMA_VERSION",
    "CardVersion",
    "CommandRecord",
    "FencingError",
    "LiveCounters",
    "LockInfo",
    "NotFoundError",
    "OutboxItem",
    "Page",
    "RecoveredState",
    "RetentionCounts",
    "Store",
    "StoreError",
    "open_store",
]
