"""Availability (SPEC §9, 99.5 %) measured from the air's heartbeat, in simulated time with
a real gap: a channel that runs, is stopped for half an hour and runs again says so in
today's report (``/v1/reports/daily``, the day so far), on ``/metrics`` and in
``/v1/status``; the gap is downtime, not dead air. Today's report exists from the first
minute of a fresh install."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from tests.daemon.harness import CARD, looped_asset, make_settings, running_channel
from vvtv.core.clock import utc
from vvtv.core.messages import AssetReady
from vvtv.core.settings import Settings

MIDNIGHT = utc(2026, 3, 2)  # a Monday, UTC


@pytest.fixture
def utc_settings(tmp_path: Path, slate_template: Path) -> Settings:
    return make_settings(tmp_path, slate_template, {**CARD, "schedule_policy": {"timezone": "UTC"}})


async def get(url: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.get(path, params=params)


async def air_programmes(daemon, prefix: str, count: int) -> None:
    for i in range(count):
        asset = looped_asset(daemon.ch, f"{prefix}{i}", 1800)
        await daemon.runtime.ref("buffer").cast(
            AssetReady(asset.asset_id, None, f"{prefix} {i}", "calm", asset.duration_sec, None)
        )


async def test_a_stopped_half_hour_is_downtime_in_the_report_the_metrics_and_the_status(
    utc_settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    async with running_channel(utc_settings, epoch=MIDNIGHT) as daemon:
        await air_programmes(daemon, "first", 3)
        await trio.sleep(3600)
    # Stopped cleanly at 01:00; down until 01:30.
    await trio.sleep(1800)
    restart = MIDNIGHT + timedelta(seconds=trio.current_time() - start)
    async with running_channel(utc_settings, epoch=restart) as daemon:
        await air_programmes(daemon, "second", 2)
        await trio.sleep(1800 - 1)  # 02:00
        url = daemon.ch.api_url
        r = await get(url, "/v1/reports/daily", date="2026-03-02")
        metrics = (await get(url, "/metrics")).text
        status = (await get(url, "/v1/status")).json()

    assert r.status_code == 200
    report = r.json()
    assert report["partial"] is True  # the day so far
    summary = report["summary"]
    # On air 00:00-01:00 and 01:30-02:00: 90 of 120 minutes since the first air.
    assert summary["availability_pct"] == pytest.approx(75.0, abs=0.1)
    assert summary["downtime_seconds"] == pytest.approx(1800, abs=10)
    assert summary["outages"] == 1
    assert summary["dead_air_seconds"] < 10  # the stopped half hour is not dead air
    assert summary["items_aired"] >= 4
    # The same figure, measured at the last minute's sample, on /metrics and the status.
    line = next(x for x in metrics.splitlines() if x.startswith("vvtv_availability_pct "))
    assert float(line.split()[1]) == pytest.approx(75.0, abs=1.0)
    assert status["availability_pct"] == pytest.approx(75.0, abs=1.0)


async def test_a_fresh_install_has_an_empty_valid_report_for_today_and_none_for_other_days(
    utc_settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(utc_settings, epoch=MIDNIGHT + timedelta(hours=9)) as daemon:
        await trio.sleep(5)
        url = daemon.ch.api_url
        today = await get(url, "/v1/reports/daily", date="2026-03-02")
        yesterday = await get(url, "/v1/reports/daily", date="2026-03-01")
        tomorrow = await get(url, "/v1/reports/daily", date="2026-03-03")
        bad = await get(url, "/v1/reports/daily", date="2026-3-2")
    assert today.status_code == 200
    body = today.json()
    assert body["date"] == "2026-03-02" and body["partial"] is True
    # Nothing but the slate has aired (no programme yet): an empty day, valid all the same.
    assert body["summary"]["minutes_by_fallback_level"]["0"] == 0
    assert body["summary"]["items_aired"] <= 1
    assert body["summary"]["qa_checked"] == 0 and body["metrics"]["samples"] <= 1
    # On air since it started five seconds ago: nothing else to count yet.
    assert body["summary"]["availability_pct"] == 100.0
    assert body["summary"]["outages"] == 0
    assert yesterday.status_code == tomorrow.status_code == 404
    assert "2026-03-01" in yesterday.json()["error"]
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid date format, use YYYY-MM-DD"}
