"""The one door between the HTTP face and the live channel.

The web layer (routes, websockets, HLS origin, dashboard) reads and steers the
channel only through a ``ChannelPort``; the daemon's API actor implements it over
the running actors, tests implement it over plain values. Nothing in
``vvtv.web`` imports an actor.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from vvtv.core.model import PlanItem
from vvtv.iptv.channel import ChannelInfo
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.web.params import EmergencyCommand


class PortUnavailable(RuntimeError):
    """The part of the channel a call needs is not running right now (answered 503)."""


class ChannelPort(Protocol):
    topics: TopicHub  # vvtv.observe.topics: hub with topics "buffer", "alerts", "runtime"
    metrics: ChannelMetrics  # render() -> Prometheus text, plus the HTTP metrics we record

    def now(self) -> datetime:
        """The channel clock (UTC); signing windows use ``now().timestamp()``."""
        ...

    def status(self) -> dict:
        """/v1/status body: state RUNNING|EMERGENCY, buffer_minutes, timestamp, now_playing,
        next, emergency_override, last_segment_age_s ...

        The dashboard also reads, when present: ``buffer_target_minutes`` and
        ``buffer_critical_minutes`` (gauge marks; default 60/20), and in ``now_playing`` /
        ``next``: title, asset_id, start_at (ISO), duration_sec, slot_type, fallback_level.
        The "buffer" topic should carry this same dict.
        """
        ...

    def queue(self) -> list[dict]:
        """Timeline from now (the entry on air first): start_at, duration_sec, title, theme,
        asset_id, slot_type, fallback_level, plan_id."""
        ...

    def channel_info(self) -> ChannelInfo:
        """The channel as its audience sees it (OwnerCard ``channel.name``/``logo``, zone)."""
        ...

    async def upcoming_plans(self, start: datetime, end: datetime) -> list[PlanItem]:
        """Committed and scheduled plans with a planned start in ``[start, end)``, for the
        guide (it leaves out those already on the timeline)."""
        ...

    async def plans(self, state: str | None, limit: int, offset: int) -> dict:
        """``{total, items: [...]}``; ``state`` already validated (a PlanState value or None)."""
        ...

    async def daily_report(self, day: date) -> dict | None: ...

    async def weekly_report(self, week: str) -> dict | None:
        """``week`` is "YYYY-Www", already validated."""
        ...

    def alerts(self) -> list[dict]:
        """Active alerts ``[{code, severity, message, since, inhibited_by}]``."""
        ...

    def alerts_grace_until(self) -> str | None:
        """When the alerts' start-up grace ends (RFC 3339), while it lasts; else None."""
        ...

    def runtime_snapshot(self) -> dict: ...

    def readiness(self) -> dict[str, bool]:
        """``{"store": bool, "tree": bool, "slate": bool}``."""
        ...

    def live_playlist(self) -> str:
        """The current live m3u8 text."""
        ...

    def live_master(self) -> str:
        """The master playlist (``vvtv.air.master``): the main rendition and its lower rungs;
        empty before the first live window."""
        ...

    def live_rung(self, name: str) -> str | None:
        """A lower rung's live playlist (``480p``), or None when the card has no such rung."""
        ...

    def segment_path(self, asset_id: str, name: str) -> Path | None:
        """The segment file, or ``None`` if unknown (names already validated)."""
        ...

    async def reload_owner_card(self) -> tuple[bool, list[str], dict]:
        """``(ok, errors, diff)``: reload from disk; when invalid the previous card stays."""
        ...

    async def set_emergency(self, command: EmergencyCommand) -> dict:
        """Force emergency on (True) or off (False), release the override (None) or
        toggle ("toggle"); returns the new status dict."""
        ...

    async def set_curator_mode(self, mode: str, limits: dict) -> dict:
        """Raises ``ValueError(msg)`` for out-of-range limits (-> 422)."""
        ...

    async def run_nightly(self, force: bool) -> dict:
        """Run the nightly job now, once per local date unless ``force``: what ran
        (``ran``, ``local_date``, the job's summary) or why nothing did (``reason``)."""
        ...

    def outputs(self) -> list[dict]:
        """The push outputs, in the card's order (``vvtv.outputs.state.OutputState.view``)."""
        ...

    async def set_output(self, name: str, enabled: bool | None) -> dict | None:
        """Switch output ``name`` on, off, or back to the card (None); its new state, or
        None when there is no such output. ``PortUnavailable`` if its pusher is not running."""
        ...

    async def audit_control(self, who: str, action: str, details: dict) -> None: ...

    async def audit_refusal(self, who: str, action: str, details: dict) -> None:
        """A refused control call (``who`` is the client address; ``details``: method, kind,
        reason, suppressed). Called at most a few times a minute per kind."""
        ...
