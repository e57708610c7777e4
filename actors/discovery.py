"""Discovery: what could air.

Owns the candidate pool and the planning grid. On ``RunDiscovery`` it pulls every
source named in the OwnerCard, screens the candidates (allowlist, keywords, HD probe,
score, dedupe against everything already known), stores the accepted ones, audits the
rejected ones and the failing sources, and re-plans the grid over the planning horizon
without moving anything already committed.

Receives: ``RunDiscovery`` (reply ``DiscoveryOutcome``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from typing import ClassVar

import attrs

from actors.context import ChannelContext
from supervisors import Actor, ActorContext
from vvtv.air import timeline
from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.messages import DiscoveryOutcome, RunDiscovery
from vvtv.core.model import AuditEvent, PlanItem, new_id
from vvtv.discover.screening import (
    PROBE_REJECTIONS,
    RejectReason,
    address_policy,
    duration_outside,
    normalize_url,
    plan_scorer,
    screen,
    url_allowed,
)
from vvtv.discover.sources.candidate import SourceError
from vvtv.discover.sources.collect import fetch_all
from vvtv.discover.sources.http import FEED_MAX_REDIRECTS
from vvtv.guard import http as guarded
from vvtv.media.fetch import Pace
from vvtv.nightly.autotune import TuneWeights
from vvtv.nightly.job import KEY_WEIGHTS
from vvtv.ownercard.card import OwnerCard
from vvtv.plan.grid import MAX_POOL, PLANNABLE, Grid, plan_grid
from vvtv.store.plans import ITEM_REJECTED

# Rejections that recur every hour for the same item are counted, not audited one by one.
# Counted in the discovery summary, not audited one by one: they recur every hour.
QUIET_REJECTIONS = frozenset(
    {
        RejectReason.DUPLICATE_KNOWN,
        RejectReason.PROBE_REJECTED_RECENTLY,
        # Over a cap: looked at in a later window, so counted, not audited one by one.
        RejectReason.CANDIDATE_CAP,
        RejectReason.PROBE_BUDGET_SPENT,
    }
)
# Media that failed its probes is probed again after this long (it may have been replaced).
REPROBE_AFTER = timedelta(days=7)


class Discovery(Actor):
    mailbox_size: ClassVar[int] = 8
    accepts: ClassVar[tuple[type, ...]] = (RunDiscovery,)

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, RunDiscovery)
        return await self.discover(msg)

    async def discover(self, msg: RunDiscovery) -> DiscoveryOutcome:
        ch = self.ch
        card = ch.card
        media = ch.media
        # Feed hosts are untrusted: every connection (each redirect hop too) goes only to
        # an address the card allows (vvtv.guard).
        async with guarded.client(
            address_policy(card), follow_redirects=True, max_redirects=FEED_MAX_REDIRECTS
        ) as client:
            candidates, errors = await fetch_all(card.sources, client, prober=media.probe)
        now = ch.clock.now()
        events = [self._source_failed(err, now, msg.trace_id) for err in errors]
        result = await screen(
            candidates,
            card,
            is_known=ch.store.is_known,
            now=now,
            recently_rejected=lambda url: ch.store.probe_rejected_since(url, now - REPROBE_AFTER),
            hd_check=media.confirm_hd,
            prober=media.probe,
            # Remote media is probed on its head, fetched as a download would be: within
            # the allowlist and the address policy, bounded in size and time.
            head_fetcher=partial(
                media.fetch_head,
                max_bytes=ch.settings.max_download_bytes,
                allowed=lambda url: url_allowed(url, card),
                addresses=address_policy(card),
                pace=Pace.from_settings(ch.settings),
            ),
            probe_dir=ch.settings.media_dir,
            weights=self._weights(),
        )
        quiet = Counter(
            r.reason_code.value for r in result.rejected if r.reason_code in QUIET_REJECTIONS
        )
        events += [
            AuditEvent(
                event_id=new_id("evt"),
                at=now,
                event_type=AuditType.DISCOVERY_REJECTED,
                reason_code=r.reason_code.value,
                actor="discovery",
                trace_id=msg.trace_id,
                details={"title": r.candidate.title, "url": r.candidate.media_url, "why": r.detail},
            )
            for r in result.rejected
            if r.reason_code not in QUIET_REJECTIONS
        ]
        probed_out = [
            (normalize_url(r.candidate.media_url), r.reason_code.value, r.detail)
            for r in result.rejected
            if r.reason_code in PROBE_REJECTIONS
        ]
        with ch.store.transaction():
            ch.fence()
            ch.store.insert_plans(result.accepted)
            ch.store.append_audit_many(events)
            ch.store.remember_probe_rejections(probed_out, now)
        grid = await self.replan(ch.clock.now())
        failed_sources = tuple(sorted({e.source_name for e in errors if e.item is None}))
        ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=ch.clock.now(),
                event_type=AuditType.DISCOVERY_SUMMARY,
                actor="discovery",
                trace_id=msg.trace_id,
                details={"candidates": len(candidates), "accepted": len(result.accepted), **quiet},
            )
        )
        return DiscoveryOutcome(
            candidates=len(candidates),
            accepted=len(result.accepted),
            rejected=len(result.rejected),
            failed_sources=failed_sources,
            scheduled=len(grid.scheduled),
            reserves=len(grid.reserves),
        )

    def _source_failed(self, err: SourceError, now: datetime, trace_id: str) -> AuditEvent:
        whole = err.item is None
        details: dict[str, object] = {
            "source": err.source_name,
            "domain": err.domain,
            "reason": err.reason,
            "item": err.item,
        }
        if not whole:
            details["field"] = err.field
        return AuditEvent(
            event_id=new_id("evt"),
            at=now,
            event_type=(
                AuditType.DISCOVERY_SOURCE_FAILED if whole else AuditType.DISCOVERY_ITEM_REJECTED
            ),
            # Only a whole source failing counts toward DISCOVERY_DOMAIN_FAILURE; a bad
            # item (a malformed sidecar, a nonsense duration, a URL that does not parse)
            # loses only itself.
            reason_code="DISCOVERY_FAILED_DOMAIN" if whole else ITEM_REJECTED,
            actor="discovery",
            trace_id=trace_id,
            details=details,
        )

    async def replan(self, now: datetime) -> Grid:
        """Extend the grid to the planning horizon; committed slots never move."""
        ch = self.ch
        store = ch.store
        card = ch.card
        # The grid continues where the air timeline really ends, not where the committed
        # plans' nominal slots end: a plan dropped without a reserve pulls the timeline
        # earlier, emergency fillers push it later, and a grid that kept its nominal times
        # would be committed (by planned start) ever further from the playhead.
        queued = store.queue_after(now)
        tail_end = timeline.programming_end(queued, now)
        programme = [e.theme for e in queued if e.plan_id is not None]
        tail_themes = programme[-card.editorial_profile.min_unique_themes_per_block :]
        page = store.list_plans(PLANNABLE, limit=MAX_POOL * 4)
        refused = list(page.refused)
        usable = []
        for plan in page.items:
            why = duration_outside(plan.duration_sec, card)
            if why is None:
                usable.append(plan)
            else:
                refused.append((plan.plan_id, why))
        for plan_id, why in refused:
            # A row stored before its value was checked (a duration of 1e12 s): it would
            # crash the grid, so it leaves the pool for good, audited.
            with store.transaction():
                ch.fence()
                store.refuse_plan(plan_id, why, now, actor="discovery")
        weights = self._weights()
        horizon_end = now + timedelta(hours=card.schedule_policy.planning_horizon_hours)

        def score_and_plan() -> Grid:
            # Scores under the card and the autotuned weights in force now, not those of
            # the day each plan was found: tonight's autotune changes tomorrow's grid.
            pool = _best(_rescored(usable, card, weights), MAX_POOL)
            return plan_grid(
                pool,
                now=now,
                horizon_end=horizon_end,
                committed_tail_end=tail_end,
                card=card,
                committed_tail_themes=tail_themes,
                reserve_ratio=weights.reserve_ratio,
            )

        # Scoring and planning a few thousand candidates take a noticeable fraction of a
        # second: keep them off the event loop.
        grid = await offload.run_sync(score_and_plan)
        self._persist(grid, {p.plan_id: p for p in usable}, now)
        return grid

    def _weights(self) -> TuneWeights:
        """The fine weights the nightly autotune settled on (defaults until it has run)."""
        stored = self.ch.store.get_live_value(KEY_WEIGHTS)
        return TuneWeights.from_dict(stored) if stored else TuneWeights()

    def _persist(self, grid: Grid, before: dict[str, PlanItem], now: datetime) -> None:
        """Write the plans whose slot or score changed; ``before``: as stored."""
        store = self.ch.store
        with store.transaction():
            self.ch.fence()
            for plan in [*grid.scheduled, *grid.reserves, *grid.unplanned]:
                old = before.get(plan.plan_id)
                if old is not None and _same_slot(old, plan) and old.score == plan.score:
                    continue
                if old is not None and _changed_since(store.get_plan(plan.plan_id), old):
                    # Committed or dropped while the grid was being planned (a slow window
                    # overlapping a commit): the newer state wins, this slot is left empty.
                    continue
                store.upsert_plan(attrs.evolve(plan, updated_at=now))


def _rescored(plans: list[PlanItem], card: OwnerCard, weights: TuneWeights) -> list[PlanItem]:
    """The plans scored under today's card and weights (the same objects when unchanged)."""
    scored = plan_scorer(card, weights)
    out = []
    for plan in plans:
        worth = scored(plan)
        out.append(plan if worth == plan.score else attrs.evolve(plan, score=worth))
    return out


def _best(plans: list[PlanItem], n: int) -> list[PlanItem]:
    return sorted(plans, key=lambda p: (-p.score, p.discovered_at, p.plan_id))[:n]


def _changed_since(current: PlanItem | None, planned_from: PlanItem) -> bool:
    return current is None or (current.state, current.updated_at) != (
        planned_from.state,
        planned_from.updated_at,
    )


def _same_slot(a: PlanItem, b: PlanItem) -> bool:
    return (a.state, a.start_at, a.slot_type, a.hour_window) == (
        b.state,
        b.start_at,
        b.slot_type,
        b.hour_window,
    )
