"""A real channel in the test's own Trio run, for chaos that needs to reach inside.

``channel_settings`` lays out a throwaway runtime (a copy of the pre-made slate, an
OwnerCard whose folder source is ``library``). ``Hosted`` runs ``actors.daemon.run``
in its own cancel scope so a test can stop it gracefully or "kill" it: a kill cancels
the run after forgetting the fencing token, so, as after a SIGKILL, the scheduler lock
is left held until its TTL runs out (``run`` releases only a lock it knows it holds).

What the chaos tests look at: ``api_ok`` (``/v1/status`` over real HTTP), ``on_air`` (the
live playlist's media sequence as the Buffer published it), ``single`` (the exception a
stopped daemon ended with, as ``vvtv run`` reports it).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import httpx
import trio
import trio.testing

from actors.context import ChannelContext
from actors.daemon import Daemon, run
from tests.support.cards import folder_source
from tests.support.channel import channel_settings as support_channel_settings
from vvtv.core.settings import Settings

STEP_S = 0.25  # polling step in simulated seconds: bounds each autojump (see wait_until)


def channel_settings(root: Path, slate: Path, library: Path | None = None, **env: str) -> Settings:
    """A channel whose only source is the folder ``library`` (default ``root/library``)."""
    return support_channel_settings(
        root,
        slate,
        card={
            "search_policy": {"allowlist_domains": ["localhost"]},
            "schedule_policy": {"timezone": "UTC"},
            "sources": [folder_source("library", library or root / "library")],
        },
        **env,
    )


class Hosted:
    """One daemon run inside a nursery; ``daemon`` is set once it leads (None as standby)."""

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.daemon: Daemon | None = None
        self.exit: int | BaseException | None = None
        self.scope = trio.CancelScope()
        self.leading = trio.Event()
        self.done = trio.Event()

    async def _main(self) -> None:
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    try:
                        self.daemon = await nursery.start(self._run)
                    except RuntimeError:  # the run ended before it was up: see ``exit``
                        if self.exit is None:
                            raise
                        return
                    self.leading.set()
        finally:
            self.done.set()

    async def _run(self, task_status: trio.TaskStatus[Daemon]) -> None:
        try:
            self.exit = await run(self.ch, signals=False, task_status=task_status)
        except Exception as exc:  # the test inspects how it ended
            self.exit = exc

    def start(self, nursery: trio.Nursery) -> Hosted:
        nursery.start_soon(self._main)
        return self

    def kill(self) -> None:
        """Die without releasing the scheduler lock, as a SIGKILL would."""
        self.ch.leadership.token = None
        self.scope.cancel()

    async def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.runtime.shutdown()
        else:
            self.scope.cancel()
        await self.done.wait()


async def get(url: str) -> httpx.Response | str:
    """A real request from a worker thread (the server is in this Trio run); or the error.

    Simulated time stands still meanwhile: the autojump clock would otherwise leap while
    the server waits for the request's bytes, and fire its read timeouts in no real time.
    """

    def fetch() -> httpx.Response | str:
        try:
            return httpx.get(url, timeout=10)
        except httpx.HTTPError as exc:
            return repr(exc)

    clock = trio.lowlevel.current_clock()
    assert isinstance(clock, trio.testing.MockClock)
    threshold, clock.autojump_threshold = clock.autojump_threshold, math.inf
    try:
        return await trio.to_thread.run_sync(fetch)
    finally:
        clock.autojump_threshold = threshold


async def api_ok(ch: ChannelContext) -> str:
    """ "" when ``/v1/status`` answers 200, else what went wrong."""
    if not ch.api_url:
        return "the API has no address"
    reply = await get(f"{ch.api_url}/v1/status")
    if isinstance(reply, str):
        return reply
    return "" if reply.status_code == 200 else f"{reply.status_code} {reply.text[:300]}"


def media_sequence(playlist: str) -> int | None:
    found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    return int(found.group(1)) if found else None


def on_air(ch: ChannelContext) -> int | None:
    """The sequence of the playlist the Buffer last published (what the API serves)."""
    return media_sequence(ch.live.playlist or "")


def single(exc: BaseException | int | None) -> BaseException | int | None:
    """The one exception inside nested single-member groups (as ``vvtv run`` reports it)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
