"""What schemathesis found drifting (issue 17), each pinned where it lives.

The document's shapes are derived from the types the code builds (vvtv.web.schema), the
week pattern accepts exactly what the route accepts, a plain GET on a websocket route is a
documented 426, and every 405 names the allowed methods. tests/proof/test_openapi_conformance
runs schemathesis over the whole document against a real daemon.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import trio

from tests.web.conftest import Served
from vvtv.air.status import BufferState, ItemView, StatusDict, starting_status
from vvtv.core.model import FallbackLevel, QueueEntry, SlotType
from vvtv.web.openapi import ISO_WEEK_PATTERN, openapi_document
from vvtv.web.params import BadInput, parse_week
from vvtv.web.schema import json_schema

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    spec = openapi_document(1 << 20)
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _entry(i: int) -> QueueEntry:
    return QueueEntry(
        entry_id=f"e{i}",
        asset_id=f"a{i}",
        title=f"Item {i}",
        theme="news",
        start_at=NOW + timedelta(minutes=10 * i),
        duration_sec=600.0,
        slot_type=SlotType.MAIN,
        fallback_level=FallbackLevel.MAIN,
    )


def test_the_status_document_is_the_status_the_code_builds() -> None:
    # The drift: "next" is a list of items; the hand-written document said object-or-null.
    items = [ItemView.of(_entry(i)) for i in range(3)]
    state = BufferState(
        "RUNNING", 20.0, NOW, 60.0, 20.0, now_playing=items[0], next=tuple(items[1:])
    )
    body = dict(state.to_status_dict())
    _validator("Status").validate(body)
    assert isinstance(body["next"], list) and len(body["next"]) == 2
    _validator("Status").validate(
        dict(starting_status(NOW, target_minutes=60, critical_minutes=20))
    )
    with pytest.raises(jsonschema.ValidationError):
        _validator("Status").validate({**body, "next": body["next"][0]})


def test_a_field_added_to_the_status_type_is_documented_by_itself() -> None:
    schema = json_schema(StatusDict)
    assert set(schema["properties"]) == set(StatusDict.__annotations__)
    assert schema["properties"]["next"]["type"] == "array"
    assert schema["properties"]["state"]["enum"] == ["STARTING", "RUNNING", "EMERGENCY"]
    item = schema["properties"]["next"]["items"]["properties"]
    assert item["slot_type"]["enum"] == [level.value for level in SlotType]


@pytest.mark.parametrize("week", ["0000-W00", "2026-W00", "0000-W01", "2026-W54", "2026-W5"])
def test_the_week_pattern_refuses_what_the_route_refuses(week: str) -> None:
    assert not re.search(ISO_WEEK_PATTERN, week)
    with pytest.raises(BadInput):
        parse_week(week)


@pytest.mark.parametrize("week", ["0001-W01", "2026-W09", "2026-W53", "9999-W52", "2020-W53"])
def test_the_week_pattern_admits_what_the_route_reads(week: str) -> None:
    assert re.search(ISO_WEEK_PATTERN, week)
    try:
        assert parse_week(week) == week
    except BadInput as exc:
        # W53 of a 52-week year, and 9999-W52 (its Sunday is in year 10000): a documented
        # 400, never a 500.
        assert week in ("2026-W53", "9999-W52") and "invalid iso week" in exc.message


@pytest.mark.parametrize("topic", ["buffer", "alerts", "runtime"])
async def test_a_plain_get_on_a_websocket_route_is_a_documented_426(
    served: Served, topic: str
) -> None:
    r = await served.client.get(f"/v1/ws/{topic}")
    assert (r.status_code, r.headers["upgrade"]) == (426, "websocket")
    spec = (await served.client.get("/openapi.json")).json()
    assert "426" in spec["paths"][f"/v1/ws/{topic}"]["get"]["responses"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/status", {"GET", "HEAD"}),
        ("DELETE", "/openapi.json", {"GET", "HEAD"}),
        ("GET", "/v1/control/emergency-mode", {"OPTIONS", "POST"}),
    ],
)
async def test_a_405_says_which_methods_the_route_answers(
    served: Served, method: str, path: str, allowed: set[str]
) -> None:
    r = await served.client.request(method, path)
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == allowed


async def test_a_refused_request_with_a_body_does_not_hang_the_next_one_on_its_connection(
    served: Served,
) -> None:
    # Found by schemathesis: a 200, then a 405 whose body was never read, then anything on
    # the same kept-alive connection waited for ever. The refusal now closes it.
    path = "/v1/control/emergency-mode"
    assert (await served.control(path, b'{"enabled": null}')).status_code == 200
    refused = await served.client.request("TRACE", path, content=b'{"enabled": null}')
    assert (refused.status_code, refused.headers["connection"]) == (405, "close")
    with trio.fail_after(5):
        after = await served.client.request("QUERY", path, content=b'{"enabled": null}')
    assert after.status_code == 405
