"""A small ChannelPort over plain values, and the app served by real hypercorn on 127.0.0.1.

``StubChannel`` is not a mock of vvtv code: it is a second, minimal implementation
of the port (the daemon's API actor is the real one), backed by a real TopicHub and
real ChannelMetrics, recording what the control endpoints asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from quart_trio import QuartTrio

from vvtv.core.model import PlanItem, PlanState
from vvtv.core.signing import Verifier, signed_headers
from vvtv.iptv.channel import ChannelInfo
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.web import create_app, serve
from vvtv.web.hosts import HostPolicy
from vvtv.web.limits import WebLimits

# The names the test channel answers to besides localhost and IPs (VVTV_PUBLIC_HOSTS).
PUBLIC_HOSTS = ("tv.lan", "my_box.lan")
TOKEN = "test-token"
SECRET = "test-secret"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class StubChannel:
    """Values a test sets; control calls change them the way the real channel would."""

    def __init__(self, segments_dir: Path) -> None:
        self.topics = TopicHub()
        self.metrics = ChannelMetrics(process_metrics=False)
        self.clock = NOW
        self.buffer_minutes = 61.5
        self.emergency_override: bool | None = None
        self.curator = {"mode": "auto", "min_confidence": 0.75, "max_reorders_per_hour": 4}
        self.card_errors: list[str] = []
        self.audits: list[tuple[str, str, dict]] = []
        self.refusals: list[tuple[str, str, dict]] = []
        self.nightly_runs: list[bool] = []
        self.plan_calls: list[tuple[str | None, int, int]] = []
        self.ready = {"store": True, "tree": True, "slate": True}
        self.active_alerts: list[dict] = []
        self.grace_until: str | None = None
        self.segments_dir = segments_dir
        self.playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
        self.master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nindex.m3u8\n"
        self.rungs: dict[str, str] = {}
        self.daily = {date(2026, 2, 28): {"date": "2026-02-28", "summary": {"items_aired": 96}}}
        self.weekly = {"2026-W09": {"week": "2026-W09", "summary": {"items_aired": 600}}}
        self.channel = ChannelInfo(name="vvtv")
        self.plans_ahead: list[PlanItem] = []
        self.plan_windows: list[tuple[datetime, datetime]] = []
        self.output_states: dict[str, dict] = {}

    # -- reads --
    def now(self) -> datetime:
        return self.clock

    def status(self) -> dict:
        emergency = self.emergency_override is True
        return {
            "state": "EMERGENCY" if emergency else "RUNNING",
            "buffer_minutes": self.buffer_minutes,
            "buffer_target_minutes": 60,
            "buffer_critical_minutes": 20,
            "timestamp": self.clock.isoformat(),
            "now_playing": {
                "title": "Harbour at dawn",
                "asset_id": "asset-1",
                "start_at": (self.clock - timedelta(minutes=3)).isoformat(),
                "duration_sec": 600.0,
            },
            # What the Buffer publishes: the next entries, in air order.
            "next": [
                {"title": "City lights", "asset_id": "asset-2"},
                {"title": "Night train", "asset_id": "asset-3"},
            ],
            "emergency_override": self.emergency_override,
            "last_segment_age_s": 1.5,
            "availability_pct": 99.871,
        }

    def queue(self) -> list[dict]:
        start = self.clock
        return [
            {
                "start_at": (start + timedelta(minutes=10 * i)).isoformat(),
                "duration_sec": 600.0,
                "title": f"Programme {i}",
                "asset_id": f"asset-{i}",
                "slot_type": "MAIN" if i % 3 else "RESERVE",
                "fallback_level": 0 if i % 3 else 1,
            }
            for i in range(6)
        ]

    def channel_info(self) -> ChannelInfo:
        return self.channel

    async def upcoming_plans(self, start: datetime, end: datetime) -> list[PlanItem]:
        self.plan_windows.append((start, end))
        states = (PlanState.COMMITTED, PlanState.SCHEDULED)
        return [
            p
            for p in self.plans_ahead
            if p.state in states and p.start_at is not None and start <= p.start_at < end
        ]

    async def plans(self, state: str | None, limit: int, offset: int) -> dict:
        self.plan_calls.append((state, limit, offset))
        items = [{"plan_id": f"plan-{i}", "state": state or "SCHEDULED"} for i in range(120)]
        return {"total": len(items), "items": items[offset : offset + limit]}

    async def daily_report(self, day: date) -> dict | None:
        return self.daily.get(day)

    async def weekly_report(self, week: str) -> dict | None:
        return self.weekly.get(week)

    def alerts(self) -> list[dict]:
        return self.active_alerts

    def alerts_grace_until(self) -> str | None:
        return self.grace_until

    def runtime_snapshot(self) -> dict:
        return {"name": "root", "kind": "supervisor", "state": "running", "restarts": 0}

    def readiness(self) -> dict[str, bool]:
        return dict(self.ready)

    def live_playlist(self) -> str:
        return self.playlist

    def live_master(self) -> str:
        return self.master

    def live_rung(self, name: str) -> str | None:
        return self.rungs.get(name)

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        path = self.segments_dir / asset_id / name
        return path if path.exists() else None

    # -- control --
    async def reload_owner_card(self) -> tuple[bool, list[str], dict]:
        if self.card_errors:
            return False, list(self.card_errors), {}
        return True, [], {"schedule_policy.buffer_target_minutes": [60, 75]}

    async def set_emergency(self, command: bool | str | None) -> dict:
        self.emergency_override = (
            self.emergency_override is not True if command == "toggle" else command
        )
        status = self.status()
        self.topics.publish("buffer", status)
        return status

    async def set_curator_mode(self, mode: str, limits: dict) -> dict:
        if limits.get("min_confidence", 0.75) < 0.75:
            raise ValueError("min_confidence 0.5 is below the OwnerCard's 0.75")
        if limits.get("max_reorders_per_hour", 4) > 4:
            raise ValueError("max_reorders_per_hour above the OwnerCard's 4")
        self.curator = {**self.curator, "mode": mode, **limits}
        return dict(self.curator)

    async def run_nightly(self, force: bool) -> dict:
        self.nightly_runs.append(force)
        if len(self.nightly_runs) > 1 and not force:
            return {"ran": False, "local_date": "2026-03-01", "reason": "already ran"}
        return {"ran": True, "local_date": "2026-03-01", "report_day": "2026-02-28"}

    def outputs(self) -> list[dict]:
        return list(self.output_states.values())

    async def set_output(self, name: str, enabled: bool | None) -> dict | None:
        state = self.output_states.get(name)
        if state is None:
            return None
        state.update(override=enabled, enabled=enabled if enabled is not None else True)
        state["status"] = "connecting" if state["enabled"] else "disabled"
        return dict(state)

    async def audit_control(self, who: str, action: str, details: dict) -> None:
        self.audits.append((who, action, details))

    async def audit_refusal(self, who: str, action: str, details: dict) -> None:
        self.refusals.append((who, action, details))


@pytest.fixture
def channel(tmp_path: Path) -> StubChannel:
    return StubChannel(tmp_path / "segments")


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(TOKEN, SECRET)


class Served:
    """A running app: its base URL, a client, and a way to stop it."""

    def __init__(
        self, app: QuartTrio, url: str, client: httpx.AsyncClient, shutdown: trio.Event
    ) -> None:
        self.app = app
        self.url = url
        self.client = client
        self.shutdown = shutdown
        self._calls = 0

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def signed(self, path: str, body: bytes, now: datetime = NOW, **over: Any) -> dict:
        headers = signed_headers(TOKEN, SECRET, "POST", path, body, now.timestamp())
        headers["Content-Type"] = "application/json"
        headers.update(over)
        return headers

    async def control(self, path: str, body: bytes = b"") -> httpx.Response:
        # Each call signs with a later second, so two identical calls are not a replay.
        self._calls += 1
        headers = self.signed(path, body, NOW + timedelta(seconds=self._calls))
        return await self.client.post(path, content=body, headers=headers)


@asynccontextmanager
async def serving(app: QuartTrio) -> AsyncIterator[Served]:
    """``app`` served by real hypercorn on 127.0.0.1 (ephemeral port) until the block ends."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown))
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Served(app, url, client, shutdown)
        shutdown.set()


def limits(**over: Any) -> WebLimits:
    """The test app's limits: the defaults, the names in ``PUBLIC_HOSTS``, and ``over``."""
    return WebLimits(**{"hosts": HostPolicy.build(public_hosts=PUBLIC_HOSTS), **over})


@pytest.fixture
async def served(channel: StubChannel, verifier: Verifier) -> AsyncIterator[Served]:
    app = create_app(channel, verifier=verifier, max_body_bytes=4096, limits=limits())
    async with serving(app) as running:
        yield running
