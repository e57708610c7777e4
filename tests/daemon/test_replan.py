"""Re-planning follows the air: the grid continues where the queued content really ends."""

from __future__ import annotations

import math
from datetime import timedelta

import attrs
import pytest

import actors.discovery as discovery_module
from actors.daemon import LOCK_TTL_S, boot, take_leadership
from actors.discovery import Discovery
from vvtv.core.messages import RunDiscovery
from vvtv.core.model import FallbackLevel, PlanItem, PlanState, QueueEntry, SlotType, new_id
from vvtv.core.settings import Settings
from vvtv.store import FencingError


def candidate(i: int, discovered_at) -> PlanItem:
    return PlanItem(
        plan_id=f"plan-{i:02d}",
        source_url=f"https://videos.example.org/{i}.mp4",
        title=f"Programme {i}",
        duration_sec=600.0,
        discovered_at=discovered_at,
        score=1.0 - i / 100,
        theme=("calm", "city", "sea")[i % 3],
        hd_confirmed=True,
        resolution_height=720,
    )


def queued(start, seconds: float, *, theme: str, filler: bool = False) -> QueueEntry:
    return QueueEntry(
        entry_id=new_id("q"),
        asset_id=new_id("a"),
        start_at=start,
        duration_sec=seconds,
        title="on the timeline",
        plan_id=None if filler else new_id("plan"),
        theme=theme,
        slot_type=SlotType.EMERGENCY if filler else SlotType.MAIN,
        fallback_level=FallbackLevel.EMERGENCY_POOL if filler else FallbackLevel.MAIN,
    )


async def test_the_grid_continues_from_the_queued_content_not_from_nominal_slots(
    settings: Settings,
) -> None:
    ch = await boot(settings)
    now = ch.clock.now()
    # 95 minutes of content on the timeline (items aired earlier than their plans said,
    # because plans before them were dropped without a reserve), then a filler not yet
    # on air that the next committed item will replace.
    content = queued(now - timedelta(minutes=5), 100 * 60, theme="sea")
    filler = queued(content.end_at, 300, theme="", filler=True)
    ch.store.insert_queue_entries([content, filler])
    ch.store.insert_plans(candidate(i, now - timedelta(hours=1)) for i in range(12))

    grid = await Discovery(ch).replan(now)

    assert grid.scheduled[0].start_at == content.end_at
    # The guardrails continue across the seam from what really airs last.
    assert grid.scheduled[0].theme != "sea"
    ch.store.close()


async def test_a_leader_that_lost_the_lock_cannot_write_its_grid(settings: Settings) -> None:
    """A daemon that stalled past the lock's TTL while another took over is fenced off:
    its re-plan is refused inside the write's transaction and nothing changes."""
    ch = await boot(settings)
    await take_leadership(ch)
    now = ch.clock.now()
    ch.store.insert_plans(candidate(i, now - timedelta(hours=1)) for i in range(6))
    later = now + timedelta(seconds=LOCK_TTL_S + 1)
    assert ch.store.acquire_lock("scheduler", "other-host:1:x", later, ttl=LOCK_TTL_S)

    with pytest.raises(FencingError, match="stale"):
        await Discovery(ch).replan(now)
    assert ch.store.count_plans()[PlanState.SCHEDULED] == 0
    ch.store.close()


async def test_a_plan_committed_while_the_grid_is_planned_keeps_its_commit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow discovery window can overlap a commit window: the re-plan's stale copy of a
    plan the committer took in the meantime must not overwrite it (nor crash discovery)."""
    ch = await boot(settings)
    now = ch.clock.now()
    ch.store.insert_plans(candidate(i, now - timedelta(hours=1)) for i in range(6))
    discovery = Discovery(ch)
    first = await discovery.replan(now)
    taken = first.scheduled[0]

    real = discovery_module.plan_grid

    def commit_meanwhile(*args, **kwargs):
        grid = real(*args, **kwargs)
        ch.store.transition_plan(taken.plan_id, PlanState.COMMITTED, now, actor="committer")
        return grid

    monkeypatch.setattr(discovery_module, "plan_grid", commit_meanwhile)
    later = now + timedelta(minutes=90)  # the grid moves: every scheduled slot changes
    await discovery.replan(later)
    assert ch.store.require_plan(taken.plan_id).state is PlanState.COMMITTED
    ch.store.close()


async def test_a_stored_plan_with_a_nonsense_duration_is_refused_and_the_window_plans_the_rest(
    settings: Settings,
) -> None:
    """Before durations were checked a feed could store ``duration: 1e12``; from then on
    every discovery window crashed in the planner (datetime overflow), folder sources
    included. Such a row is refused on read, dropped with ``ITEM_REJECTED`` (field, source,
    reason), and the good candidates of the same window are planned."""
    ch = await boot(settings)
    now = ch.clock.now()
    good = [candidate(i, now - timedelta(hours=1)) for i in range(6)]
    bad = {
        "plan-huge": 1e12,  # overflows datetime arithmetic
        "plan-nan": math.nan,
        "plan-long": 13 * 3600.0,  # sane, but over the card's 12 h maximum
    }
    rows = [
        attrs.evolve(
            candidate(90 + i, now), plan_id=pid, duration_sec=d, score=1.0, source_name="old-feed"
        )
        for i, (pid, d) in enumerate(bad.items())
    ]
    ch.store.insert_plans([*good, *rows])

    outcome = await Discovery(ch).discover(RunDiscovery(now, "trace-bad-row"))

    assert outcome.scheduled >= 1
    planned = {p.plan_id for p in ch.store.plans_in_flight()}
    assert planned and planned <= {p.plan_id for p in good}
    for pid in bad:
        stored = ch.store.get_plan(pid)
        assert stored is not None and stored.state is PlanState.DROPPED, pid
    refusals = {
        e.plan_id: e
        for e in ch.store.query_audit(event_type="plan_transition", limit=None)
        if e.reason_code == "ITEM_REJECTED"
    }
    assert set(refusals) == set(bad)
    huge = refusals["plan-huge"].details
    assert huge["field"] == "duration_sec" and huge["source"] == "old-feed"
    assert "1e+12" in huge["reason"] and huge["to"] == "DROPPED"
    assert "outside the card's range" in refusals["plan-long"].details["reason"]
    # The next window runs too (nothing left to refuse, nothing crashes).
    await Discovery(ch).discover(RunDiscovery(ch.clock.now(), "trace-next"))
    ch.store.close()
