"""What every channel actor is built with: the shared, long-lived parts of the daemon.

Actors are rebuilt from this on every restart, so nothing here may hold per-incarnation
state; it holds the store, the clock, the OwnerCard holder, live topics and metrics,
the live stream view, the push outputs' board, and the media port (which the proof swaps
for instant media).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import trio

from vvtv.air.live import LiveView
from vvtv.air.status import ItemDict
from vvtv.core.clock import Clock
from vvtv.core.settings import Settings
from vvtv.media.port import MediaPort
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.stats import pipeline_metrics
from vvtv.observe.topics import TopicHub
from vvtv.outputs.state import OutputBoard
from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.holder import OwnerCardHolder, ReloadResult
from vvtv.ownercard.load import resolve_source_locations
from vvtv.store import Store


@attrs.define
class Leadership:
    """The scheduler lock this daemon holds (SPEC §7): its fencing token, once acquired."""

    owner: str
    token: int | None = None
    name: str = "scheduler"


@attrs.define
class ChannelContext:
    settings: Settings
    clock: Clock
    store: Store
    cards: OwnerCardHolder
    topics: TopicHub
    metrics: ChannelMetrics
    tz: ZoneInfo
    leadership: Leadership
    media: MediaPort
    slate_id: str
    live: LiveView = attrs.field(factory=LiveView)
    outputs: OutputBoard = attrs.field(factory=OutputBoard)
    queue_view: list[ItemDict] = attrs.field(factory=list)
    run_once: bool = False
    force_nightly: bool = False
    exit_code: int = 0  # set by the scheduler after a --once cycle
    api_url: str = ""
    # When this daemon booted (the channel clock): the alerts' start-up grace counts from it.
    booted_at: datetime | None = None

    _resolved: tuple[OwnerCard, OwnerCard] | None = attrs.field(default=None, init=False)
    # Set when a reload applies a card, then replaced: who follows the card waits on it
    # instead of polling (a poll a second was a third of a simulated week's wake-ups).
    _card_applied: trio.Event = attrs.field(factory=trio.Event, init=False)

    @property
    def card(self) -> OwnerCard:
        """The OwnerCard in force, relative folder sources resolved to absolute paths."""
        # Read several times a second by the Buffer: resolving the project root is a few
        # realpath syscalls, so the resolved card is kept until the card in force changes.
        card = self.cards.card
        if self._resolved is None or self._resolved[0] is not card:
            self._resolved = (card, resolve_source_locations(card, self.settings.project_root))
        return self._resolved[1]

    @property
    def hls_root(self) -> Path:
        return self.settings.hls_dir

    def fence(self) -> None:
        """Refuse a pipeline write once another daemon has taken the lead (``FencingError``).

        Call it inside the write's transaction, so the check and the write are atomic: a
        leader that stalled past the lock's TTL cannot write after a takeover. A context
        that never led (actors driven directly, in tests) has no token to check.
        """
        token = self.leadership.token
        if token is not None:
            self.store.require_fence(self.leadership.name, token)

    def reload_card(self, who: str) -> ReloadResult:
        """Validate and apply the OwnerCard file; the previous card stays on error."""
        result = self.cards.reload(self.settings.owner_card_path, now=self.clock.now(), who=who)
        if result.ok:
            self._card_applied.set()
            self._card_applied = trio.Event()
        return result

    async def card_applied(self) -> None:
        """Return once a reload has applied a card (it may be the same card again)."""
        await self._card_applied.wait()

    def alert_grace_until(self) -> datetime | None:
        """The end of the alerts' start-up grace (None: no grace)."""
        grace = self.settings.alert_startup_grace_secs
        if self.booted_at is None or grace <= 0:
            return None
        return self.booted_at + timedelta(seconds=grace)

    def slate_ready(self) -> bool:
        slate = self.store.get_asset(self.slate_id)
        return slate is not None and (Path(slate.segments_dir) / "index.m3u8").is_file()

    def pipeline_metrics(self) -> dict[str, Any]:
        """The original's seven figures, now (for status snapshots and metric samples)."""
        status = self.topics["buffer"].latest or {}
        sample = pipeline_metrics(
            self.store, self.clock.now(), buffer_minutes=float(status.get("buffer_minutes", 0.0))
        )
        return attrs.asdict(sample, filter=lambda a, _: a.name != "at")
