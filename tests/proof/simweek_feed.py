"""The simulated week's feed: a real JSON Feed server on 127.0.0.1 that publishes over time.

It runs in the test's own Trio run, so it reads the same (mock) clock as the daemon.
Item ``k`` is published at ``epoch + k * interval`` (negative ``k``: the back catalogue
that exists at boot) and stays listed for ``window``. Some items are broken on purpose:
every ``fetch_fail_every``-th download fails, every ``qa_fail_every``-th fails QA. For
the outage the server answers 503 to every request, as a real feed host does when down.

Durations and themes vary deterministically (no randomness: a failing run replays).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import attrs

from tests.support.loopback import Loopback, Reply, Request
from vvtv.core.clock import Clock

THEMES = ("ocean", "forest", "city", "desert", "mountain", "river", "sky")


@attrs.frozen
class FeedPlan:
    """What the feed publishes, when, and when it is down."""

    epoch: datetime
    interval: timedelta = timedelta(seconds=510)  # ~1.4x air time gross at ~12 min an item
    backlog: int = 21  # items already published at boot (~3 h of air)
    window: timedelta = timedelta(hours=8)
    outage_start: timedelta = timedelta(hours=4)
    outage_length: timedelta = timedelta(hours=6)
    fetch_fail_every: int = 10
    qa_fail_every: int = 23

    def duration_of(self, k: int) -> float:
        return float(480 + (k * 137) % 481)  # 8 to 16 minutes

    def fail_of(self, k: int) -> str:
        if k % self.fetch_fail_every == 3:
            return "fetch"
        if k % self.qa_fail_every == 7:
            return "qa"
        return ""

    def down_at(self, now: datetime) -> bool:
        start = self.epoch + self.outage_start
        return start <= now < start + self.outage_length

    @property
    def outage(self) -> tuple[datetime, datetime]:
        start = self.epoch + self.outage_start
        return start, start + self.outage_length

    def published(self, now: datetime) -> list[int]:
        """The item numbers listed at ``now``, newest first."""
        newest = int((now - self.epoch) / self.interval)
        oldest = max(-self.backlog, int((now - self.window - self.epoch) / self.interval) + 1)
        return list(range(newest, oldest - 1, -1))

    def document(self, now: datetime, base_url: str) -> dict:
        items = []
        for k in self.published(now):
            query = f"dur={self.duration_of(k):.1f}"
            fail = self.fail_of(k)
            if fail:
                query += f"&fail={fail}"
            items.append(
                {
                    "id": f"item{k}",
                    "title": f"Programme {k + 100_000}",  # normalised titles must differ
                    "date_published": (self.epoch + k * self.interval).isoformat(),
                    "tags": [THEMES[k % len(THEMES)]],
                    "attachments": [
                        {"url": f"{base_url}/media/item{k}.mp4?{query}", "mime_type": "video/mp4"}
                    ],
                    "_vvtv": {"theme": THEMES[k % len(THEMES)], "height": 1080},
                }
            )
        return {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "simulated week",
            "items": items,
        }


@attrs.define
class FeedServer:
    """Answers ``/feed.json`` from a ``FeedPlan`` (a loopback server); counts what it answered.

    While the plan says the host is down, every request gets a 503.
    """

    plan: FeedPlan
    clock: Clock
    server: Loopback = attrs.Factory(Loopback)
    served: int = 0
    refused: int = 0

    def __attrs_post_init__(self) -> None:
        self.server.default = self._answer

    @property
    def url(self) -> str:
        return self.server.url_for("/feed.json")

    def _answer(self, request: Request) -> Reply:
        now = self.clock.now()
        if self.plan.down_at(now):
            self.refused += 1
            return Reply(503, b"down for maintenance\n", "text/plain")
        if request.path == "/feed.json":
            self.served += 1
            body = json.dumps(self.plan.document(now, self.server.base)).encode()
            return Reply(200, body, "application/feed+json")
        return Reply(404, b"no such path\n", "text/plain")
