"""When the channel was on air: the heartbeat the air writes, kept as intervals (SPEC §9).

The Buffer beats every ``HEARTBEAT_S`` while it runs the air (and once more when it stops
cleanly). A beat extends the latest interval of this daemon when that interval's last beat is
at most ``GAP_S`` old; otherwise it opens a new interval. So the table holds one row per
stretch of continuous air, however long, and a stop, a crash, a stalled event loop or a
Buffer that kept restarting leaves a gap between two rows: the availability of a day is the
share of it the rows cover (``vvtv.nightly.reports.availability``). A crash is counted from
the last beat before it, so up to ``HEARTBEAT_S`` of air may be counted as downtime: the
figure errs on the side of the viewer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vvtv.store.base import StoreBase
from vvtv.store.rows import from_ts, ts

HEARTBEAT_S = 30.0
# A beat later than this after the previous one means the air stopped in between.
GAP_S = 2.5 * HEARTBEAT_S

Interval = tuple[datetime, datetime]


class UptimeMixin(StoreBase):
    def beat(self, run_id: str, now: datetime) -> None:
        """Record that the air is running at ``now`` for the daemon ``run_id``."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT id, beat_at FROM uptime WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                (run_id,),
            ).fetchone()
            if row is not None and timedelta(0) <= now - from_ts(row[1]) <= timedelta(
                seconds=GAP_S
            ):
                c.execute("UPDATE uptime SET beat_at = ? WHERE id = ?", (ts(now), row[0]))
            else:
                c.execute(
                    "INSERT INTO uptime (run_id, started_at, beat_at) VALUES (?, ?, ?)",
                    (run_id, ts(now), ts(now)),
                )

    def uptime_between(self, since: datetime, until: datetime, now: datetime) -> list[Interval]:
        """The stretches of air overlapping ``[since, until)``, oldest first, each as
        ``(first beat, last beat)``; the one still beating (its last beat within ``GAP_S`` of
        ``now``) reaches ``now``."""
        rows = self._read(
            "SELECT started_at, beat_at FROM uptime WHERE beat_at >= ? AND started_at < ? "
            "ORDER BY started_at, id",
            (ts(since), ts(until)),
        )
        live = now - timedelta(seconds=GAP_S)
        out: list[Interval] = []
        for started, beat in rows:
            start, end = from_ts(started), from_ts(beat)
            out.append((start, now if live <= end <= now else end))
        return out

    def first_beat(self) -> datetime | None:
        """When the channel first went on air (None: never)."""
        row = self._read_one("SELECT min(started_at) FROM uptime")
        return from_ts(row[0]) if row and row[0] else None

    def prune_uptime(self, before: datetime) -> int:
        """Forget stretches that ended before ``before``; the number removed. The very first
        row is kept, so a channel's first air (where availability starts) is not forgotten."""
        with self.transaction() as c:
            cur = c.execute(
                "DELETE FROM uptime WHERE beat_at < ? AND id != (SELECT min(id) FROM uptime)",
                (ts(before),),
            )
            return cur.rowcount
