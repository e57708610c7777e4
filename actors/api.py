"""The API actor: the channel's HTTP face, under supervision.

Serves the quart-trio app (``vvtv.web``) with hypercorn inside its own incarnation, so
a crash of the web layer restarts only the API, and a failing pipeline never takes the
API down: everything it shows comes from live topics and the store, and what it steers
goes to the Buffer as messages.

Receives nothing; its background tasks serve HTTP and publish the runtime tree.
Sends: ``SetEmergencyOverride`` and ``SetCuratorMode`` to buffer.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import trio

from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError, Host
from vvtv.air.curator import CuratorMode
from vvtv.air.live import aged_status
from vvtv.air.status import starting_status
from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.convert import converter
from vvtv.core.messages import (
    Ping,
    RunNightlyNow,
    SetCuratorMode,
    SetEmergencyOverride,
    SetOutputEnabled,
)
from vvtv.core.model import AuditEvent, PlanItem, PlanState, new_id
from vvtv.core.signing import Verifier
from vvtv.iptv.channel import ChannelInfo
from vvtv.nightly import job
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.ownercard.card import OwnerCard, logo_is_url
from vvtv.store import StoreError
from vvtv.web.app import create_app
from vvtv.web.limits import WebLimits
from vvtv.web.params import TOGGLE, EmergencyCommand
from vvtv.web.port import PortUnavailable
from vvtv.web.server import serve

log = logging.getLogger(__name__)

RUNTIME_PUBLISH_S = 1.0
# Nobody subscribed to the runtime topic: refresh its latest snapshot (what a new
# dashboard gets first) this often; the tree only changes when something restarts.
RUNTIME_IDLE_S = 10.0
CONTROL_TIMEOUT_S = 5.0
NIGHTLY_TIMEOUT_S = 600.0  # the nightly job exports and reports a day: give it time


class ControlUnavailable(RuntimeError):
    """The actor a control call needs is not running (the API answers 503)."""


class LivePort:
    """``vvtv.web.port.ChannelPort`` over the running channel."""

    def __init__(self, ch: ChannelContext, runtime: Host) -> None:
        self.ch = ch
        self.runtime = runtime
        self.topics: TopicHub = ch.topics
        self.metrics: ChannelMetrics = ch.metrics
        self._channel: tuple[OwnerCard, ChannelInfo] | None = None

    def now(self) -> datetime:
        return self.ch.clock.now()

    def status(self) -> dict:
        status = self.topics["buffer"].latest
        if status is None:
            policy = self.ch.card.schedule_policy
            starting = starting_status(
                self.now(),
                target_minutes=policy.buffer_target_minutes,
                critical_minutes=policy.buffer_critical_minutes,
            )
            starting["card_warnings"] = list(self.ch.cards.loaded.warnings)
            return dict(starting)
        return aged_status(status, self.now())

    def queue(self) -> list[dict]:
        return [dict(item) for item in self.ch.queue_view]

    def channel_info(self) -> ChannelInfo:
        # Viewers poll it: built again only when the card in force changes.
        card = self.ch.cards.card
        if self._channel is None or self._channel[0] is not card:
            name, logo = card.channel.name, card.channel.logo
            info = ChannelInfo(
                name=name,
                logo_url=logo if logo_is_url(logo) else "",
                logo_file=self.ch.settings.resolve(logo)
                if logo and not logo_is_url(logo)
                else None,
                tz=self.ch.tz,
                renditions=tuple(r.name for r in card.channel.renditions),
            )
            self._channel = (card, info)
        return self._channel[1]

    async def upcoming_plans(self, start: datetime, end: datetime) -> list[PlanItem]:
        states = (PlanState.COMMITTED, PlanState.SCHEDULED)
        return await offload.run_sync(self.ch.store.plans_starting_between, start, end, states)

    async def plans(self, state: str | None, limit: int, offset: int) -> dict:
        states = [PlanState(state)] if state else None
        page = await offload.run_sync(
            lambda: self.ch.store.list_plans(states, limit=limit, offset=offset)
        )
        return {
            "total": page.total,
            "limit": limit,
            "offset": offset,
            "items": [converter.unstructure(p) for p in page.items],
        }

    async def daily_report(self, day: date) -> dict | None:
        """The stored report of ``day``; for today (the channel's local date), the day so
        far, marked ``partial``; None for a past day the nightly job has not reported."""
        ch = self.ch
        report = await offload.run_sync(ch.store.get_daily_report, day)
        now = ch.clock.now()
        if report is None and day == now.astimezone(ch.tz).date():
            report = await offload.run_sync(job.day_so_far, ch.store, ch.tz, now)
        return None if report is None else converter.unstructure(report)

    async def weekly_report(self, week: str) -> dict | None:
        report = await offload.run_sync(self.ch.store.get_weekly_report, week)
        return None if report is None else converter.unstructure(report)

    def alerts(self) -> list[dict]:
        latest = self.topics["alerts"].latest
        if isinstance(latest, dict):
            return list(latest.get("alerts", []))
        return list(latest or [])

    def alerts_grace_until(self) -> str | None:
        latest = self.topics["alerts"].latest
        return latest.get("startup_grace_until") if isinstance(latest, dict) else None

    def runtime_snapshot(self) -> dict:
        # The push outputs ride along: the dashboard's runtime view shows them by the tree.
        return {**self.runtime.snapshot(), "outputs": self.outputs()}

    def outputs(self) -> list[dict]:
        return self.ch.outputs.view(self.now())

    async def set_output(self, name: str, enabled: bool | None) -> dict | None:
        if name not in {o.name for o in self.ch.card.outputs}:
            return None
        msg = SetOutputEnabled(enabled=enabled, who="api")
        try:
            reply = await self.runtime.ref(f"output:{name}").call(msg, timeout=CONTROL_TIMEOUT_S)
        except ActorError as exc:
            raise PortUnavailable(f"output {name} is not running now ({exc}); try again") from exc
        assert isinstance(reply, dict)
        return reply

    def readiness(self) -> dict[str, bool]:
        return {
            "store": self._store_answers(),
            "tree": self.topics["buffer"].latest is not None,
            "slate": self.ch.slate_ready(),
        }

    def _store_answers(self) -> bool:
        try:
            self.ch.store.schema_version()
        except (sqlite3.Error, StoreError):
            return False
        return True

    def live_playlist(self) -> str:
        return self.ch.live.playlist

    def live_master(self) -> str:
        return self.ch.live.master

    def live_rung(self, name: str) -> str | None:
        rung = self.ch.live.rungs.get(name)
        return None if rung is None else rung.playlist

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        return self.ch.live.segment_path(asset_id, name)

    async def reload_owner_card(self) -> tuple[bool, list[str], dict]:
        result = self.ch.reload_card(who="api")
        return result.ok, list(result.errors), _jsonable(result.diff)

    async def set_emergency(self, command: EmergencyCommand) -> dict:
        toggle = command == TOGGLE
        enabled = None if toggle else command
        assert enabled is None or isinstance(enabled, bool)
        msg = SetEmergencyOverride(enabled=enabled, toggle=toggle, who="api")
        return await self._call_buffer(msg)

    async def set_curator_mode(self, mode: str, limits: dict) -> dict:
        # Validate here (ValueError -> 422) so a bad request never reaches the Buffer.
        CuratorMode.from_request(mode, limits, self.ch.card.curator_policy)
        return await self._call_buffer(SetCuratorMode(mode=mode, limits=dict(limits), who="api"))

    async def run_nightly(self, force: bool) -> dict:
        try:
            reply = await self.runtime.ref("scheduler").call(
                RunNightlyNow(force=force, who="api"), timeout=NIGHTLY_TIMEOUT_S
            )
        except ActorError as exc:
            raise ControlUnavailable(f"scheduler unavailable: {exc}") from exc
        assert isinstance(reply, dict)
        return reply

    async def audit_control(self, who: str, action: str, details: dict) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.now(),
                event_type=AuditType.CONTROL_CALL,
                actor="api",
                details={"who": who, "action": action, **_jsonable(details)},
            )
        )

    async def audit_refusal(self, who: str, action: str, details: dict) -> None:
        # Rate-limited by the web layer (vvtv/web/refusals.py): a flood writes a few rows.
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.now(),
                event_type=AuditType.CONTROL_REFUSED,
                reason_code=str(details.get("kind", "")),
                actor="api",
                details={"who": who, "action": action, **_jsonable(details)},
            )
        )

    async def _call_buffer(self, msg: object) -> dict:
        try:
            reply = await self.runtime.ref("buffer").call(msg, timeout=CONTROL_TIMEOUT_S)
        except ActorError as exc:
            raise ControlUnavailable(f"buffer unavailable: {exc}") from exc
        assert isinstance(reply, dict)
        return reply


class Api(Actor):
    mailbox_size: ClassVar[int] = 4
    accepts: ClassVar[tuple[type, ...]] = (Ping,)

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.shutdown = trio.Event()

    async def started(self, ctx: ActorContext) -> None:
        port = LivePort(self.ch, ctx.runtime)
        settings = self.ch.settings
        # Accepted signatures live in the store: a replay stays refused across restarts.
        verifier = Verifier(settings.control_token, settings.control_secret, memory=self.ch.store)
        app = create_app(
            port,
            verifier=verifier,
            public_base_url=settings.public_base_url,
            limits=WebLimits.from_settings(settings),
        )
        self.url = await _start(ctx, serve, app, settings.api_bind, self.shutdown)
        self.ch.api_url = self.url
        log.info("vvtv API on %s", self.url)
        ctx.start_soon(self._publish_runtime, port)

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, Ping)
        return "pong"

    async def stopping(self) -> None:
        self.shutdown.set()

    async def _publish_runtime(self, port: LivePort) -> None:
        last: dict | None = None
        while True:
            snapshot = port.runtime_snapshot()
            # Plain data: comparing it costs far less than serialising it to compare.
            if snapshot != last:
                self.ch.topics["runtime"].publish(snapshot)
                last = snapshot
            watched = self.ch.topics["runtime"].subscriber_count > 0
            await trio.sleep(RUNTIME_PUBLISH_S if watched else RUNTIME_IDLE_S)


async def _start(
    ctx: ActorContext, serve_fn: Any, app: Any, bind: str, shutdown: trio.Event
) -> str:
    """Start the server as a task of this incarnation and return its URL once bound."""
    bound: list[str] = []
    ready = trio.Event()

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                lambda task_status: serve_fn(app, bind, shutdown=shutdown, task_status=task_status)
            )
            bound.append(url)
            ready.set()

    ctx.start_soon(run)
    await ready.wait()
    return bound[0]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
