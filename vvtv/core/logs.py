"""The daemon's log an operator can grep: one line per record, JSON or text.

JSON lines by default under systemd (it sets ``JOURNAL_STREAM``/``INVOCATION_ID``), text
elsewhere; ``VVTV_LOG_FORMAT=json|text`` overrides (``Settings.log_json``). A JSON line is
one object: ``ts``, ``level``, ``logger``, ``msg``, then ``event`` (a stable name, below),
``trace_id`` (the item's, on every line about an item) and the event's own fields; a text
line is ``TIME LEVEL LOGGER: EVENT: MESSAGE key=value ...``. Either way
``journalctl -u vvtv | grep fetch_failed`` finds every failed download, and
``grep <trace_id>`` one item's whole path from discovery to air.

The event names: every audit event is logged under its ``AuditType`` value (the store
does it as it appends; discovery, plan transitions, QA, queue, air, emergency, curator,
control, alerts, refused cloud deliveries), plus the steps the audit trail does not record,
``LogEvent`` below (fetch, prepare, cloud delivery).
"""

from __future__ import annotations

import enum
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The ``extra`` keys a record carries its event in (``log_event``).
_EVENT = "vvtv_event"
_TRACE = "vvtv_trace_id"
_FIELDS = "vvtv_fields"


class LogEvent(enum.StrEnum):
    """Pipeline steps that are logged but not audited (the audit names the rest)."""

    FETCH_DONE = "fetch_done"  # an item's media downloaded (or copied) and checksummed
    FETCH_FAILED = "fetch_failed"
    PREPARE_DONE = "prepare_done"  # remuxed or transcoded into HLS segments
    PREPARE_FAILED = "prepare_failed"
    CLOUD_DELIVERED = "cloud_delivered"  # an outbox document accepted by the edge
    CLOUD_DELIVERY_FAILED = "cloud_delivery_failed"  # kept at the head, retried


def log_event(
    logger: logging.Logger,
    event: str,
    message: str = "",
    *,
    trace_id: str | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """Log ``message`` as ``event`` with the item's ``trace_id`` and ``fields``."""
    if not logger.isEnabledFor(level):
        return
    extra = {_EVENT: str(event), _TRACE: trace_id or "", _FIELDS: fields}
    logger.log(level, "%s", message or str(event), extra=extra)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (a message's own newlines stay inside its string)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event = getattr(record, _EVENT, None)
        if event:
            line["event"] = event
        trace = getattr(record, _TRACE, "")
        if trace:
            line["trace_id"] = trace
        fields: Mapping[str, Any] = getattr(record, _FIELDS, None) or {}
        for key, value in fields.items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=_jsonable, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: EVENT: MESSAGE key=value ...`` (plain values only)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        event = getattr(record, _EVENT, None)
        if not event:
            return text
        head, _, message = text.partition(f"{record.name}: ")
        parts = [f"{head}{record.name}: {event}:"]
        if message != event:
            parts.append(message)
        trace = getattr(record, _TRACE, "")
        if trace:
            parts.append(f"trace_id={trace}")
        fields: Mapping[str, Any] = getattr(record, _FIELDS, None) or {}
        for key, value in fields.items():
            if isinstance(value, str | int | float | bool) and value != "":
                parts.append(f"{key}={value}")
        return " ".join(parts)


def configure(level: str, *, as_json: bool) -> None:
    """The process's logging: every record to stderr (the journal under systemd)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
