"""Read endpoints (SPEC §3, issue 7): live values from the port, 400 JSON on bad queries."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import Metric

from tests.web.conftest import Served, StubChannel


async def test_status_reflects_live_state(served: Served, channel: StubChannel) -> None:
    channel.buffer_minutes = 42.25
    r = await served.client.get("/v1/status")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["state"] == "RUNNING"
    assert body["buffer_minutes"] == 42.25
    assert body["timestamp"] == channel.clock.isoformat()


async def test_queue_lists_the_timeline_from_now(served: Served) -> None:
    body = (await served.client.get("/v1/queue")).json()
    assert body["count"] == 6
    first = body["items"][0]
    assert set(first) >= {"start_at", "duration_sec", "title", "asset_id", "slot_type"}
    assert "fallback_level" in first


async def test_alerts_are_counted(served: Served, channel: StubChannel) -> None:
    assert (await served.client.get("/v1/alerts")).json() == {
        "count": 0,
        "alerts": [],
        "inhibited": 0,
        "startup_grace_until": None,
    }
    channel.active_alerts = [
        {"code": "BUFFER_CRITICAL", "severity": "critical", "message": "low", "since": "x"}
    ]
    body = (await served.client.get("/v1/alerts")).json()
    assert body["count"] == 1
    assert body["alerts"][0]["code"] == "BUFFER_CRITICAL"


async def test_alerts_say_which_are_inhibited_and_until_when_nothing_is_sent(
    served: Served, channel: StubChannel
) -> None:
    channel.active_alerts = [
        {"code": "BUFFER_CRITICAL", "severity": "critical", "message": "low", "since": "x",
         "inhibited_by": "EMERGENCY_ACTIVE"},
        {"code": "EMERGENCY_ACTIVE", "severity": "high", "message": "on", "since": "x",
         "inhibited_by": None},
    ]  # fmt: skip
    channel.grace_until = "2026-03-01T12:05:00Z"
    body = (await served.client.get("/v1/alerts")).json()
    assert (body["count"], body["inhibited"]) == (2, 1)
    assert body["startup_grace_until"] == "2026-03-01T12:05:00Z"


async def test_daily_report_by_date(served: Served) -> None:
    r = await served.client.get("/v1/reports/daily", params={"date": "2026-02-28"})
    assert r.status_code == 200
    assert r.json()["summary"]["items_aired"] == 96
    missing = await served.client.get("/v1/reports/daily", params={"date": "2026-02-27"})
    assert missing.status_code == 404
    assert "2026-02-27" in missing.json()["error"]


@pytest.mark.parametrize("value", [None, "", "2026-2-28", "28/02/2026", "2026-02-30", "2026-13-01"])
async def test_daily_report_bad_date_gives_the_original_message(
    served: Served, value: str | None
) -> None:
    params = {} if value is None else {"date": value}
    r = await served.client.get("/v1/reports/daily", params=params)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid date format, use YYYY-MM-DD"}


async def test_weekly_report_by_iso_week(served: Served) -> None:
    r = await served.client.get("/v1/reports/weekly", params={"week": "2026-W09"})
    assert r.status_code == 200
    assert r.json()["week"] == "2026-W09"
    assert (await served.client.get("/v1/reports/weekly?week=2026-W10")).status_code == 404


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "invalid week format, use YYYY-Www"),
        ("2026-9", "invalid week format, use YYYY-Www"),
        ("2026-w09", "invalid week format, use YYYY-Www"),
        ("2026-W9", "invalid week format, use YYYY-Www"),
        ("2026-W00", "invalid iso week"),
        ("2026-W54", "invalid iso week"),
        ("2025-W53", "invalid iso week"),  # 2025 has 52 ISO weeks
    ],
)
async def test_weekly_report_bad_week_gives_the_original_messages(
    served: Served, value: str | None, message: str
) -> None:
    params = {} if value is None else {"week": value}
    r = await served.client.get("/v1/reports/weekly", params=params)
    assert r.status_code == 400
    assert r.json() == {"error": message}


async def test_plans_are_paginated_and_filtered(served: Served, channel: StubChannel) -> None:
    r = await served.client.get(
        "/v1/plans", params={"state": "committed", "limit": 10, "offset": 5}
    )
    body = r.json()
    assert r.status_code == 200
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (120, 10, 5, 10)
    assert channel.plan_calls[-1] == ("COMMITTED", 10, 5)
    await served.client.get("/v1/plans")
    assert channel.plan_calls[-1] == (None, 50, 0)


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("state=PLAYING", "state"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("offset=-5", "offset"),
        ("offset=1.5", "offset"),
        ("offset=99999999999", "offset"),
    ],
)
async def test_plans_bad_query_is_400_naming_the_parameter(
    served: Served, query: str, word: str
) -> None:
    r = await served.client.get(f"/v1/plans?{query}")
    assert r.status_code == 400
    assert word in r.json()["error"]


async def test_runtime_snapshot(served: Served) -> None:
    assert (await served.client.get("/v1/runtime")).json()["name"] == "root"


async def test_healthz_is_up(served: Served) -> None:
    r = await served.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


async def test_readyz_is_503_until_store_tree_and_slate_are_ready(
    served: Served, channel: StubChannel
) -> None:
    assert (await served.client.get("/readyz")).status_code == 200
    channel.ready["slate"] = False
    r = await served.client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"ready": False, "checks": {"store": True, "tree": True, "slate": False}}


async def test_metrics_are_prometheus_text_with_http_counts(served: Served) -> None:
    await served.client.get("/v1/status")
    await served.client.get("/nope")
    r = await served.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert "vvtv_buffer_minutes" in text
    assert 'vvtv_http_requests_total{method="GET",route="/v1/status",status="200"} 1.0' in text
    assert 'vvtv_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'vvtv_http_request_duration_seconds_count{route="/v1/status"} 1.0' in text


async def test_metrics_are_rendered_off_the_event_loop(
    served: Served, channel: StubChannel
) -> None:
    # Rendering costs ~12 us a sample: a scrape must not stall airing and dashboards.
    threads: list[str] = []

    class Witness:
        def collect(self) -> Iterator[Metric]:
            threads.append(threading.current_thread().name)
            yield from ()

    channel.metrics.registry.register(Witness())
    threads.clear()  # register() collects once, here, to learn the names
    assert (await served.client.get("/metrics")).status_code == 200
    assert threads and threading.main_thread().name not in threads


async def test_unknown_path_and_wrong_method_are_json_errors(served: Served) -> None:
    r = await served.client.get("/v1/nothing")
    assert (r.status_code, r.json()) == (404, {"error": "not found"})
    r = await served.client.post("/v1/status")
    assert (r.status_code, r.json()) == (405, {"error": "method not allowed"})
    r = await served.client.get("/v1/control/emergency-mode")
    assert r.status_code == 405


async def test_head_answers_headers_without_a_body(served: Served) -> None:
    r = await served.client.head("/v1/status")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) > 0
    assert r.content == b""


async def test_write_methods_on_read_endpoints_are_405_with_allow(served: Served) -> None:
    for method in ("POST", "PUT", "DELETE", "BREW"):
        r = await served.client.request(method, "/v1/alerts")
        assert (r.status_code, r.json()) == (405, {"error": "method not allowed"})
        assert r.headers["allow"] == "GET, HEAD"
    text = (await served.client.get("/metrics")).text
    assert 'vvtv_http_requests_total{method="OTHER",route="/v1/alerts",status="405"} 1.0' in text


async def test_a_failing_channel_is_a_json_500_without_details(
    served: Served, channel: StubChannel
) -> None:
    def broken() -> dict:
        raise RuntimeError("database is locked")

    channel.status = broken  # type: ignore[method-assign]
    r = await served.client.get("/v1/status")
    assert (r.status_code, r.json()) == (500, {"error": "internal error"})
    assert (await served.client.get("/healthz")).status_code == 200


async def test_repeated_query_parameters_use_the_first(
    served: Served, channel: StubChannel
) -> None:
    r = await served.client.get("/v1/plans?limit=5&limit=oops&offset=2")
    assert r.status_code == 200
    assert channel.plan_calls[-1] == (None, 5, 2)
