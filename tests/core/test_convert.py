"""JSON round trips: every model and message type survives to_json/from_json unchanged."""

from __future__ import annotations

import enum
import json
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vvtv.core import model
from vvtv.core.convert import ConversionError, from_json, to_json
from vvtv.ownercard.card import OwnerCard

MODEL_TYPES: list[type] = [
    model.PlanItem,
    model.QAReport,
    model.AssetItem,
    model.QueueEntry,
    model.AuditEvent,
    model.PipelineMetrics,
    model.DailyReport,
    model.WeeklyReport,
    model.AlertState,
    OwnerCard,
]
try:  # the actors' messages join the same test as soon as the module exists
    from vvtv.core.messages import ALL_MESSAGES
except ImportError:  # pragma: no cover
    ALL_MESSAGES = ()
ROUND_TRIP_TYPES: list[type] = [*MODEL_TYPES, *ALL_MESSAGES]

# JSON-native values for dict[str, Any] fields (details, summaries, snapshots).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# Any offset: the converter normalises to UTC and equality compares instants.
aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)
).flatmap(
    lambda dt: st.sampled_from(
        [UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5, minutes=30))]
    ).map(lambda tz: dt.replace(tzinfo=tz))
)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(a) for a in args))
    if origin is tuple:
        return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), json_values, max_size=3)
    if tp is type(None):
        return st.none()
    if tp is Any:
        return json_values
    if attrs.has(tp):
        hints = typing.get_type_hints(tp)
        return st.builds(tp, **{f.name: strategy_for(hints[f.name]) for f in attrs.fields(tp)})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is datetime:
        return aware_datetimes
    if tp is date:
        return st.dates()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(2**53), 2**53)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=12)
    raise TypeError(f"no strategy for {tp!r}: teach strategy_for about it")


@pytest.mark.parametrize("cls", ROUND_TRIP_TYPES, ids=lambda c: c.__name__)
def test_every_model_and_message_type_round_trips_through_json(cls: type) -> None:
    @settings(max_examples=40, deadline=None)
    @given(strategy_for(cls))
    def round_trip(value: Any) -> None:
        text = to_json(value)
        assert from_json(text, cls) == value
        assert to_json(from_json(text, cls)) == text  # one canonical form

    round_trip()


def test_datetimes_are_rfc3339_utc_with_z() -> None:
    event = model.AuditEvent(
        event_id="a1",
        at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3))),
        event_type="x",
    )
    doc = json.loads(to_json(event))
    assert doc["at"] == "2026-03-01T12:00:00Z"


def test_microseconds_are_kept_only_when_present() -> None:
    m = model.PipelineMetrics(at=datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC))
    assert json.loads(to_json(m))["at"] == "2026-03-01T12:00:00.250000Z"


def test_enums_are_values_and_tuples_are_lists() -> None:
    entry = model.QueueEntry(
        entry_id="e",
        asset_id="a",
        start_at=datetime(2026, 3, 1, tzinfo=UTC),
        duration_sec=10.0,
        title="t",
        fallback_level=model.FallbackLevel.SLATE,
        slot_type=model.SlotType.EMERGENCY,
    )
    doc = json.loads(to_json(entry))
    assert doc["fallback_level"] == 3 and doc["slot_type"] == "EMERGENCY"
    plan = model.PlanItem("p", "u", "t", 1.0, datetime(2026, 3, 1, tzinfo=UTC), tags=("a", "b"))
    assert json.loads(to_json(plan))["tags"] == ["a", "b"]


def test_dates_are_iso() -> None:
    report = model.DailyReport(date=date(2026, 3, 1), generated_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert json.loads(to_json(report))["date"] == "2026-03-01"


def test_naive_datetime_is_refused_when_writing() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        to_json(model.PipelineMetrics(at=datetime(2026, 3, 1)))


def test_timestamp_without_offset_is_refused_when_reading() -> None:
    with pytest.raises(ConversionError, match="PipelineMetrics"):
        from_json('{"at": "2026-03-01T12:00:00"}', model.PipelineMetrics)


def test_bad_fields_are_named() -> None:
    with pytest.raises(ConversionError) as info:
        from_json('{"entry_id": "e", "status": "NOPE"}', model.QueueEntry)
    message = str(info.value)
    assert "QueueEntry.asset_id" in message and "QueueEntry.status" in message


def test_malformed_json_is_a_conversion_error() -> None:
    with pytest.raises(ConversionError, match="invalid JSON"):
        from_json("{not json", model.PipelineMetrics)
