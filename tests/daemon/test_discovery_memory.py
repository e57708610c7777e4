"""Discovery remembers media that failed its probes: the hourly run does not probe (and
audit) the same 480p video again, and probes it anew once the memory has expired."""

from __future__ import annotations

import shutil
from pathlib import Path

import trio.testing

from actors.daemon import boot
from actors.discovery import REPROBE_AFTER, Discovery
from tests.discover.conftest import SD480
from tests.support.media import ClipCache
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import RunDiscovery
from vvtv.core.settings import Settings

EPOCH = utc(2026, 3, 2, 9)


def rejections(ch, reason: str) -> int:
    return sum(
        1
        for e in ch.store.query_audit(event_type="discovery_rejected", limit=None)
        if e.reason_code == reason
    )


async def test_a_480p_video_is_probed_once_then_remembered_until_the_memory_expires(
    settings: Settings, clip_cache: ClipCache, mock_clock: trio.testing.MockClock
) -> None:
    # Time stands still unless jumped (no autojump: the probes are real subprocesses).
    library = Path(settings.owner_card_path).parent / "library"
    shutil.copy(clip_cache.clip(**SD480), library / "small.mp4")
    ch = await boot(settings, clock=TrioClock(EPOCH))
    discovery = Discovery(ch)

    first = await discovery.discover(RunDiscovery(ch.clock.now(), trace_id="t1"))
    assert (first.candidates, first.accepted) == (1, 0)
    assert rejections(ch, "HD_NOT_CONFIRMED") == 1

    mock_clock.jump(3600)
    second = await discovery.discover(RunDiscovery(ch.clock.now(), trace_id="t2"))
    assert second.accepted == 0
    assert rejections(ch, "HD_NOT_CONFIRMED") == 1  # not probed, not audited again
    (summary,) = [
        e
        for e in ch.store.query_audit(event_type="discovery_summary", limit=None)
        if e.trace_id == "t2"
    ]
    assert summary.details["PROBE_REJECTED_RECENTLY"] == 1

    mock_clock.jump(REPROBE_AFTER.total_seconds())
    await discovery.discover(RunDiscovery(ch.clock.now(), trace_id="t3"))
    assert rejections(ch, "HD_NOT_CONFIRMED") == 2  # a week on, it is looked at again
    ch.store.close()
