"""The queue: the timeline of ready entries (SPEC §1.6)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from vvtv.core.model import EntryStatus, QueueEntry
from vvtv.store.base import NotFoundError, StoreBase
from vvtv.store.rows import dump, load, ts


def _row(entry: QueueEntry) -> tuple[Any, ...]:
    return (
        entry.entry_id,
        entry.plan_id,
        entry.asset_id,
        ts(entry.start_at),
        ts(entry.end_at),
        entry.status.value,
        int(entry.fallback_level),
        dump(entry),
    )


# Only uniqueness conflicts are ignored (same id, or a live entry for the same plan).
_INSERT = """
INSERT INTO queue_entries
    (entry_id, plan_id, asset_id, start_at, end_at, status, fallback_level, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""
_REPLACE = """
UPDATE queue_entries SET plan_id = ?, asset_id = ?, start_at = ?, end_at = ?, status = ?,
    fallback_level = ?, data = ?
WHERE entry_id = ?
"""
_LIVE = "status != 'SKIPPED'"


class QueueMixin(StoreBase):
    def insert_queue_entries(self, entries: Iterable[QueueEntry]) -> list[QueueEntry]:
        """Add entries in one transaction; returns those actually inserted.

        Idempotent: an entry whose id exists, or whose plan already has a non-skipped
        entry, is ignored (committing the same plan twice queues it once).
        """
        inserted: list[QueueEntry] = []
        with self.transaction() as c:
            for entry in entries:
                before = c.total_changes
                c.execute(_INSERT, _row(entry))
                if c.total_changes > before:
                    inserted.append(entry)
        return inserted

    def insert_queue_entry(self, entry: QueueEntry) -> bool:
        """Add one entry; False when it (or a live entry for its plan) was already there."""
        return bool(self.insert_queue_entries([entry]))

    def get_queue_entry(self, entry_id: str) -> QueueEntry | None:
        row = self._read_one("SELECT data FROM queue_entries WHERE entry_id = ?", (entry_id,))
        return load(row[0], QueueEntry) if row else None

    def update_queue_entries(self, entries: Iterable[QueueEntry]) -> None:
        """Replace existing entries (e.g. re-timed by the curator) in one transaction."""
        with self.transaction() as c:
            for entry in entries:
                row = _row(entry)
                cur = c.execute(_REPLACE, (*row[1:], row[0]))
                if cur.rowcount != 1:
                    raise NotFoundError(f"unknown queue entry {entry.entry_id!r}")

    def set_entry_status(self, entry_id: str, status: EntryStatus) -> QueueEntry:
        with self.transaction():
            entry = self.get_queue_entry(entry_id)
            if entry is None:
                raise NotFoundError(f"unknown queue entry {entry_id!r}")
            updated = attrs.evolve(entry, status=status)
            self.update_queue_entries([updated])
            return updated

    def queue_after(self, t: datetime, *, include_skipped: bool = False) -> list[QueueEntry]:
        """Entries ending after ``t`` (the timeline from ``t`` on), ordered by start_at."""
        live = "" if include_skipped else f"AND {_LIVE}"
        rows = self._read(
            f"SELECT data FROM queue_entries WHERE end_at > ? {live} ORDER BY start_at, entry_id",
            (ts(t),),
        )
        return [load(r[0], QueueEntry) for r in rows]

    def queue_between(self, start: datetime, end: datetime) -> list[QueueEntry]:
        """Non-skipped entries starting in ``[start, end)``, ordered by start_at."""
        rows = self._read(
            f"SELECT data FROM queue_entries WHERE start_at >= ? AND start_at < ? AND {_LIVE} "
            "ORDER BY start_at, entry_id",
            (ts(start), ts(end)),
        )
        return [load(r[0], QueueEntry) for r in rows]

    def count_aired(self, since: datetime, until: datetime) -> int:
        """Entries starting in ``[since, until)`` that went on air (AIRING or AIRED)."""
        row = self._read_one(
            "SELECT count(*) FROM queue_entries "
            "WHERE start_at >= ? AND start_at < ? AND status IN ('AIRING', 'AIRED')",
            (ts(since), ts(until)),
        )
        return int(row[0])

    def fallback_rate(
        self, since: datetime, until: datetime, *, aired_only: bool = False
    ) -> float | None:
        """Share of entries starting in ``[since, until)`` that were not main content
        (reserve, emergency pool or slate); None when nothing was queued in the window.
        ``aired_only``: count only entries that went on air (AIRING or AIRED)."""
        which = "status IN ('AIRING', 'AIRED')" if aired_only else _LIVE
        row = self._read_one(
            "SELECT sum(fallback_level > 0), count(*) FROM queue_entries "
            f"WHERE start_at >= ? AND start_at < ? AND {which}",
            (ts(since), ts(until)),
        )
        fallbacks, total = row
        return fallbacks / total if total else None
