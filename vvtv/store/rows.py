"""Small conversions between model values and SQLite column values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from vvtv.core.convert import converter

T = TypeVar("T")

_COLUMN_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(value: datetime) -> str:
    """A timestamp column value: fixed-width UTC text, so text order is time order."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone; use UTC")
    return value.astimezone(UTC).strftime(_COLUMN_FORMAT)


def ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def from_ts(text: str) -> datetime:
    return datetime.strptime(text, _COLUMN_FORMAT).replace(tzinfo=UTC)


def from_ts_or_none(text: str | None) -> datetime | None:
    return None if text is None else from_ts(text)


def dump(obj: Any) -> str:
    """An entity (or any jsonable value) as compact JSON text for a ``data`` column."""
    return json.dumps(converter.unstructure(obj), ensure_ascii=False, separators=(",", ":"))


def load(text: str, cls: type[T]) -> T:
    return converter.structure(json.loads(text), cls)
