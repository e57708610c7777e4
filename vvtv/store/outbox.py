"""A durable outbox for outgoing notifications (webhook, cloud sync).

An item is enqueued in the same transaction as the change it reports, then a
pump delivers it; what was enqueued survives ``kill -9`` and is delivered once
the receiver is back. Statuses: ``pending`` → ``delivered``, or ``failed`` (a
permanent failure: ``mark_failed(..., next_attempt_at=None)``).

- ``dedupe_key``: enqueue is idempotent per (topic, key) over the whole history
  (a daily report for a date is sent once).
- ``coalesce_key``: a new item replaces the still-pending one with the same key
  (only the latest status snapshot matters). The old row is deleted and a new
  one appended, so a delivery of the old payload in progress can never mark the
  new payload delivered.
- ``due`` returns items in enqueue order and stops at the first pending item that
  is backing off, so a receiver never sees notifications out of order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import attrs

from vvtv.store.base import StoreBase
from vvtv.store.rows import from_ts, from_ts_or_none, ts

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

_COLUMNS = (
    "id, topic, payload, attempts, created_at, next_attempt_at, last_error, status, "
    "dedupe_key, coalesce_key, done_at"
)


@attrs.frozen
class OutboxItem:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None  # None: due at once
    last_error: str = ""
    status: str = PENDING
    dedupe_key: str | None = None
    coalesce_key: str | None = None
    done_at: datetime | None = None


def _item(row: tuple[Any, ...]) -> OutboxItem:
    return OutboxItem(
        id=row[0],
        topic=row[1],
        payload=json.loads(row[2]),
        attempts=row[3],
        created_at=from_ts(row[4]),
        next_attempt_at=from_ts_or_none(row[5]),
        last_error=row[6],
        status=row[7],
        dedupe_key=row[8],
        coalesce_key=row[9],
        done_at=from_ts_or_none(row[10]),
    )


class OutboxMixin(StoreBase):
    def enqueue(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        coalesce_key: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Add an item, due at once; returns its id (the existing one for a dedupe hit).

        ``now`` (default: the store's clock) is only recorded as ``created_at``.
        """
        now = now or self.now()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        with self.transaction() as c:
            if dedupe_key is not None:
                row = c.execute(
                    "SELECT id FROM outbox WHERE topic = ? AND dedupe_key = ?", (topic, dedupe_key)
                ).fetchone()
                if row:
                    return int(row[0])
            if coalesce_key is not None:
                c.execute(
                    "DELETE FROM outbox WHERE topic = ? AND coalesce_key = ? AND status = ?",
                    (topic, coalesce_key, PENDING),
                )
            cur = c.execute(
                "INSERT INTO outbox (topic, payload, dedupe_key, coalesce_key, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, NULL)",
                (topic, body, dedupe_key, coalesce_key, ts(now)),
            )
            return int(cur.lastrowid or 0)

    def due(self, topic: str, now: datetime, limit: int = 10) -> list[OutboxItem]:
        """Pending items to deliver now, oldest first, up to the first one still backing off."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM outbox WHERE topic = ? AND status = ? ORDER BY id LIMIT ?",
            (topic, PENDING, limit),
        )
        out: list[OutboxItem] = []
        for row in rows:
            item = _item(row)
            if item.next_attempt_at is not None and item.next_attempt_at > now:
                break
            out.append(item)
        return out

    def next_due_at(self, topic: str) -> datetime | None:
        """When the head of the topic's queue is next due (None when nothing is pending)."""
        row = self._read_one(
            "SELECT next_attempt_at FROM outbox WHERE topic = ? AND status = ? ORDER BY id LIMIT 1",
            (topic, PENDING),
        )
        if row is None:
            return None
        return from_ts(row[0]) if row[0] else self.now()

    def mark_delivered(self, item_id: int, *, now: datetime | None = None) -> None:
        """Record a successful delivery (a no-op for an item coalesced away meanwhile)."""
        now = now or self.now()
        with self.transaction() as c:
            c.execute(
                "UPDATE outbox SET status = ?, done_at = ?, attempts = attempts + 1 "
                "WHERE id = ? AND status = ?",
                (DELIVERED, ts(now), item_id, PENDING),
            )

    def mark_failed(
        self,
        item_id: int,
        error: str,
        next_attempt_at: datetime | None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Record a failed attempt: retry at ``next_attempt_at``, or give up when it is None.

        A no-op for an item coalesced away meanwhile (its newer replacement is pending).
        """
        now = now or self.now()
        with self.transaction() as c:
            if next_attempt_at is None:
                c.execute(
                    "UPDATE outbox SET status = ?, done_at = ?, last_error = ?, "
                    "attempts = attempts + 1 WHERE id = ? AND status = ?",
                    (FAILED, ts(now), error, item_id, PENDING),
                )
            else:
                c.execute(
                    "UPDATE outbox SET next_attempt_at = ?, last_error = ?, "
                    "attempts = attempts + 1 WHERE id = ? AND status = ?",
                    (ts(next_attempt_at), error, item_id, PENDING),
                )

    def get_outbox_item(self, item_id: int) -> OutboxItem | None:
        row = self._read_one(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        return _item(row) if row else None

    def pending_count(self, topic: str) -> int:
        row = self._read_one(
            "SELECT count(*) FROM outbox WHERE topic = ? AND status = ?", (topic, PENDING)
        )
        return int(row[0])
