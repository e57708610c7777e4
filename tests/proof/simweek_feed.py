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
import trio

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
    """Serves ``/feed.json`` from a ``FeedPlan``; counts what it answered."""

    plan: FeedPlan
    clock: Clock
    port: int = 0
    served: int = 0
    refused: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/feed.json"

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            now = self.clock.now()
            if self.plan.down_at(now):
                self.refused += 1
                await _respond(stream, 503, "Service Unavailable", b"down for maintenance\n")
            elif path.split("?", 1)[0] == "/feed.json":
                self.served += 1
                base = f"http://127.0.0.1:{self.port}"
                body = json.dumps(self.plan.document(now, base)).encode()
                await _respond(stream, 200, "OK", body, "application/feed+json")
            else:
                await _respond(stream, 404, "Not Found", b"no such path\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError, IndexError):
            return
        finally:
            await stream.aclose()


async def _respond(
    stream: trio.SocketStream,
    status: int,
    phrase: str,
    body: bytes,
    content_type: str = "text/plain",
) -> None:
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    await stream.send_all(head.encode() + body)
