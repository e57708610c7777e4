"""The append-only audit trail, metric samples, export and retention (SPEC §7, §1.9)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import attrs

from vvtv.core.audit import AuditType, canonical, legacy_names
from vvtv.core.convert import to_json, to_jsonable
from vvtv.core.logs import log_event
from vvtv.core.model import AuditEvent, PipelineMetrics
from vvtv.store.base import StoreBase
from vvtv.store.rows import dump, from_ts, load, ts

RETENTION_BATCH = 5000

# Every audit event is also a log line named after its type (vvtv/core/logs.py): the
# journal shows the pipeline's steps. One line per screened-out candidate would drown it
# (a window screens thousands): those are DEBUG; refusals are warnings.
_log = logging.getLogger("vvtv.audit")
_LOG_LEVELS: dict[str, int] = {
    AuditType.DISCOVERY_REJECTED: logging.DEBUG,
    AuditType.DISCOVERY_ITEM_REJECTED: logging.DEBUG,
    AuditType.DISCOVERY_SOURCE_FAILED: logging.WARNING,
    AuditType.SLOT_UNFILLED: logging.WARNING,
    AuditType.STREAM_DISRUPTION: logging.WARNING,
    AuditType.EMERGENCY_ENTERED: logging.WARNING,
    AuditType.OWNER_CARD_REJECTED: logging.WARNING,
    AuditType.CONTROL_REFUSED: logging.WARNING,
    AuditType.WEBHOOK_REFUSED: logging.WARNING,
    AuditType.CLOUD_DELIVERY_REFUSED: logging.WARNING,
    AuditType.CLOUD_PUBLISH_INVALID: logging.WARNING,
}

_INSERT = """
INSERT INTO audit_events (event_id, at, event_type, reason_code, actor, plan_id, asset_id,
                          trace_id, details)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_COLUMNS = "event_id, at, event_type, reason_code, actor, plan_id, asset_id, trace_id, details"


@attrs.frozen
class RetentionCounts:
    """How many rows ``apply_retention`` deleted, per table."""

    audit_events: int
    metric_samples: int
    outbox: int
    probe_rejections: int = 0


def _row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        event.event_id,
        ts(event.at),
        event.event_type,
        event.reason_code,
        event.actor,
        event.plan_id,
        event.asset_id,
        event.trace_id,
        json.dumps(event.details, ensure_ascii=False, separators=(",", ":"), default=_jsonable),
    )


def _log_audit(event: AuditEvent) -> None:
    level = _LOG_LEVELS.get(event.event_type, logging.INFO)
    if not _log.isEnabledFor(level):
        return
    why = event.details.get("why")
    what = " ".join(x for x in (event.reason_code, why if isinstance(why, str) else "") if x)
    log_event(
        _log,
        event.event_type,
        what,
        trace_id=event.trace_id,
        level=level,
        reason_code=event.reason_code,
        actor=event.actor,
        plan_id=event.plan_id or "",
        asset_id=event.asset_id or "",
        details=to_jsonable(event.details),
    )


def _jsonable(value: Any) -> Any:
    """Datetimes, dates, enums and attrs values inside ``details`` in their JSON shape."""
    try:
        out = to_jsonable(value)
    except Exception as exc:
        raise TypeError(f"audit details hold a {type(value).__name__}, not JSON-able") from exc
    if out is value:  # the converter passed it through untouched: it is not JSON-able
        raise TypeError(f"audit details hold a {type(value).__name__}, not JSON-able")
    return out


def _event(row: tuple[Any, ...]) -> AuditEvent:
    return AuditEvent(
        event_id=row[0],
        at=from_ts(row[1]),
        event_type=canonical(row[2]),
        reason_code=row[3],
        actor=row[4],
        plan_id=row[5],
        asset_id=row[6],
        trace_id=row[7],
        details=json.loads(row[8]),
    )


def _filters(
    since: datetime | None,
    until: datetime | None,
    event_type: str | None,
    reason_code: str | None,
    plan_id: str | None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("at >= ?", ts(since) if since else None),
        ("at < ?", ts(until) if until else None),
        ("reason_code = ?", reason_code),
        ("plan_id = ?", plan_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if event_type is not None:
        clause, values = _type_clause(canonical(event_type))
        clauses.append(clause)
        params.extend(values)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _type_clause(name: str) -> tuple[str, list[Any]]:
    """Rows of type ``name``, and rows stored under one of its retired names.

    A retired name's row is left out when a row of today's name carries the same trace id
    (written at the same moment or just after): the same event recorded twice, as the
    commit window was, counts once.
    """
    old = legacy_names(name)
    if not old:
        return "event_type = ?", [name]
    marks = ", ".join("?" * len(old))
    clause = (
        f"(event_type = ? OR (event_type IN ({marks}) AND NOT (trace_id != '' AND EXISTS ("
        "SELECT 1 FROM audit_events AS twin WHERE twin.event_type = ? "
        "AND twin.at >= audit_events.at AND twin.trace_id = audit_events.trace_id))))"
    )
    return clause, [name, *old, name]


class AuditMixin(StoreBase):
    # --- audit trail ------------------------------------------------------------------

    def append_audit(self, event: AuditEvent) -> None:
        self.append_audit_many([event])

    def append_audit_many(self, events: Iterable[AuditEvent]) -> None:
        """Append events in one transaction.

        ``details`` should hold JSON-native values; datetimes, dates, enums and attrs
        values are stored in their ``vvtv.core.convert`` JSON shape (and read back as such).
        """
        events = list(events)
        rows = [_row(e) for e in events]
        with self.transaction() as c:
            c.executemany(_INSERT, rows)
        for event in events:
            _log_audit(event)

    def query_audit(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event_type: str | None = None,
        reason_code: str | None = None,
        plan_id: str | None = None,
        limit: int | None = 1000,
    ) -> list[AuditEvent]:
        """Events in ``[since, until)`` matching the filters, oldest first."""
        where, params = _filters(since, until, event_type, reason_code, plan_id)
        sql = f"SELECT {_COLUMNS} FROM audit_events {where} ORDER BY at, seq LIMIT ?"
        rows = self._read(sql, (*params, -1 if limit is None else limit))
        return [_event(r) for r in rows]

    def count_audit(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event_type: str | None = None,
        reason_code: str | None = None,
        plan_id: str | None = None,
    ) -> int:
        """How many events match (e.g. DISCOVERY_FAILED_DOMAIN in the last 24 h)."""
        where, params = _filters(since, until, event_type, reason_code, plan_id)
        return int(self._read_one(f"SELECT count(*) FROM audit_events {where}", params)[0])

    def export_audit(self, day: date, out_dir: str | Path, *, tz: tzinfo = UTC) -> Path:
        """Write the day's events to ``out_dir/audit-YYYY-MM-DD.json``; returns the path.

        The file is a JSON array ordered by time, each event in ``vvtv.core.convert``'s
        shape. ``day`` is a calendar day in ``tz`` (UTC unless told). It is streamed
        from a separate read-only connection (no lock held, memory stays flat) and
        written atomically: a temp file renamed into place.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"audit-{day.isoformat()}.json"
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tz)
        tmp = target.with_suffix(".json.tmp")
        with self._reader() as conn, tmp.open("w", encoding="utf-8") as f:
            f.write("[")
            for i, event in enumerate(_stream_events(conn, start, end)):
                f.write(",\n" if i else "\n")
                f.write(to_json(event))
            f.write("\n]\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(target)
        return target

    # --- metric samples ---------------------------------------------------------------

    def record_metrics(self, sample: PipelineMetrics) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO metric_samples (at, data) VALUES (?, ?)", (ts(sample.at), dump(sample))
            )

    def metrics_between(self, start: datetime, end: datetime) -> list[PipelineMetrics]:
        rows = self._read(
            "SELECT data FROM metric_samples WHERE at >= ? AND at < ? ORDER BY at, id",
            (ts(start), ts(end)),
        )
        return [load(r[0], PipelineMetrics) for r in rows]

    def latest_metrics(self, at_or_before: datetime | None = None) -> PipelineMetrics | None:
        """The newest sample (at or before a time, e.g. 24 h ago for growth baselines)."""
        if at_or_before is None:
            row = self._read_one(
                "SELECT data FROM metric_samples ORDER BY at DESC, id DESC LIMIT 1"
            )
        else:
            row = self._read_one(
                "SELECT data FROM metric_samples WHERE at <= ? ORDER BY at DESC, id DESC LIMIT 1",
                (ts(at_or_before),),
            )
        return load(row[0], PipelineMetrics) if row else None

    # --- retention --------------------------------------------------------------------

    def apply_retention(self, now: datetime, days: int = 90) -> RetentionCounts:
        """Delete audit events, metric samples, finished outbox items and remembered probe
        rejections older than ``days``.

        Deletes in batches of ``RETENTION_BATCH`` rows, one short transaction each, so
        other writers (the event loop) never wait long. Run it in a worker thread.
        """
        cutoff = ts(now - timedelta(days=days))
        audit = self._delete_batches(
            "DELETE FROM audit_events WHERE seq IN "
            "(SELECT seq FROM audit_events WHERE at < ? LIMIT ?)",
            cutoff,
            gate=True,
        )
        metrics = self._delete_batches(
            "DELETE FROM metric_samples WHERE id IN "
            "(SELECT id FROM metric_samples WHERE at < ? LIMIT ?)",
            cutoff,
        )
        outbox = self._delete_batches(
            "DELETE FROM outbox WHERE id IN "
            "(SELECT id FROM outbox WHERE done_at IS NOT NULL AND done_at < ? LIMIT ?)",
            cutoff,
        )
        probes = self._delete_batches(
            "DELETE FROM probe_rejections WHERE normalized_url IN "
            "(SELECT normalized_url FROM probe_rejections WHERE at < ? LIMIT ?)",
            cutoff,
        )
        return RetentionCounts(
            audit_events=audit, metric_samples=metrics, outbox=outbox, probe_rejections=probes
        )

    def _delete_batches(self, sql: str, cutoff: str, *, gate: bool = False) -> int:
        total = 0
        while True:
            with self.transaction() as c:
                if gate:  # the append-only trigger lets deletes through only while open
                    c.execute("INSERT INTO retention_gate (open) VALUES (1)")
                n = c.execute(sql, (cutoff, RETENTION_BATCH)).rowcount
                if gate:
                    c.execute("DELETE FROM retention_gate")
            total += n
            if n < RETENTION_BATCH:
                return total


def _stream_events(
    conn: sqlite3.Connection, start: datetime, end: datetime
) -> Iterator[AuditEvent]:
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_events WHERE at >= ? AND at < ? ORDER BY at, seq",
        (ts(start), ts(end)),
    )
    while batch := cur.fetchmany(1000):
        for row in batch:
            yield _event(row)
