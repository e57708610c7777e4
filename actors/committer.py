"""The Committer: only what will air is downloaded, four hours ahead, and only what
passed QA reaches the timeline.

Owns the commit window (SPEC §1.3–1.5). Each window selects the scheduled plans whose
planned start falls within ``commit_lead_hours`` of now, in air order, and for each one
fetches, prepares and QA-checks the media; a plan that fails at any step is dropped
with its reason audited and a reserve of the same hour window takes its slot. A window
that runs twice, or a restart in the middle of one, never fetches or queues an item
twice: a plan is committed exactly once, and assets are named by their checksum.

Items are made ready concurrently, at most ``Settings.prepare_concurrency`` at a time
(default: the cores; each runs its own ffmpeg, so disk holds at most that many
downloads at once), and committed strictly in air order: an item is committed, and
handed to the buffer, only once every item before it is committed or has failed. So
the queue's order is the selection's, and after a crash the committed plans are always
a prefix of the window: the next window picks up exactly the rest. Reserves are chosen
in air order too (a failed main's reserve is made ready ahead of any main still
waiting), and the same bytes under two URLs are prepared once (the second is a
``DUPLICATE_CHECKSUM``). Cancelling a window kills its ffmpeg children.

Receives: ``RunCommitWindow`` (reply ``CommitOutcome``).
Sends: ``AssetReady`` to buffer, ``PublishStatus`` to cloudsync.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import attrs
import trio

from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError
from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.logs import LogEvent, log_event
from vvtv.core.messages import AssetReady, CommitOutcome, PublishStatus, RunCommitWindow
from vvtv.core.model import (
    AssetItem,
    AuditEvent,
    FallbackLevel,
    PlanItem,
    PlanState,
    QAStatus,
    SlotType,
    new_id,
)
from vvtv.discover.screening import address_policy, url_allowed
from vvtv.media.fetch import FetchError, Pace
from vvtv.media.ffmpeg import MediaError
from vvtv.media.formats import REASON as FORMAT_REFUSED
from vvtv.media.formats import MediaFormatRefused
from vvtv.media.prepare import remove_source

log = logging.getLogger(__name__)

# Plans that were scheduled but missed their slot (the daemon was down) still air, at
# the end of the timeline, if they are not older than this.
STALE_AFTER = timedelta(hours=6)


class Failed(Exception):
    """A plan that could not be made ready; ``code`` is the audit reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class Ready:
    plan: PlanItem
    asset: AssetItem


@attrs.frozen
class _Produced:
    """A plan made ready (fetched, prepared, QA passed), waiting for its turn to commit."""

    plan: PlanItem  # the main plan, or the reserve that took its slot
    asset: AssetItem
    slot_type: SlotType
    level: FallbackLevel


@attrs.define
class _Slot:
    """One selected plan's place in the window."""

    plan: PlanItem
    ready: _Produced | None = None
    skipped: bool = False  # no longer SCHEDULED when its turn came
    # Set once its main's content is claimed, refused as a duplicate, or never fetched.
    claimed: trio.Event = attrs.Factory(trio.Event)
    settled: trio.Event = attrs.Factory(trio.Event)


@attrs.define
class _Claim:
    plan_id: str
    in_use: bool = True  # its fetched file is still being prepared


class _Turns:
    """At most ``limit`` places held at once, granted lowest turn first.

    A ticket is taken synchronously (``ticket``), so the window can queue every main in air
    order before any of them runs; a reserve's ticket, taken later with its slot's turn,
    goes ahead of every main still waiting (Trio's ``CapacityLimiter`` is first come, first
    served, and its waiters queue in whatever order their tasks happen to run).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"concurrency must be at least 1, got {limit}")
        self.limit = limit
        self.holders = 0
        self._pending: list[tuple[int, int, _Ticket]] = []
        self._seq = itertools.count()

    def ticket(self, turn: int) -> _Ticket:
        ticket = _Ticket(self)
        heapq.heappush(self._pending, (turn, next(self._seq), ticket))
        self._grant()
        return ticket

    def _grant(self) -> None:
        while self.holders < self.limit and self._pending:
            _, _, ticket = heapq.heappop(self._pending)
            if not ticket.abandoned:
                self.holders += 1
                ticket.granted.set()

    def _release(self) -> None:
        self.holders -= 1
        self._grant()


class _Ticket:
    """One place in ``_Turns``: ``async with`` waits until it is granted, holds it inside."""

    def __init__(self, turns: _Turns) -> None:
        self.turns = turns
        self.granted = trio.Event()
        self.abandoned = False

    async def __aenter__(self) -> None:
        try:
            await self.granted.wait()
        except BaseException:
            self.abandoned = True
            if self.granted.is_set():  # granted, then cancelled before it ran: pass it on
                self.turns._release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.turns._release()


@attrs.define
class _Window:
    """What the slots of one window share."""

    turns: _Turns
    slots: list[_Slot] = attrs.Factory(list)  # in air order
    checksums: dict[str, _Claim] = attrs.Factory(dict)  # content made ready in this window


class Committer(Actor):
    mailbox_size: ClassVar[int] = 8
    accepts: ClassVar[tuple[type, ...]] = (RunCommitWindow,)

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.ctx: ActorContext | None = None

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, RunCommitWindow)
        outcome = await self.run_window(msg.trace_id)
        self._cast("cloudsync", PublishStatus(self._status_snapshot(outcome)))
        return outcome

    # --- the window ------------------------------------------------------------------

    def select(self, now: datetime) -> list[PlanItem]:
        """Scheduled plans starting within the commit lead, in air order (SPEC §1.3)."""
        lead = timedelta(hours=self.ch.card.schedule_policy.commit_lead_hours)
        return self.ch.store.plans_starting_between(
            now - STALE_AFTER, now + lead, states=(PlanState.SCHEDULED,)
        )

    async def run_window(self, trace_id: str) -> CommitOutcome:
        ch = self.ch
        selected = self.select(ch.clock.now())
        slots = [_Slot(plan) for plan in selected]
        window = _Window(_Turns(ch.settings.prepare_concurrency), slots)
        queued = fell_back = failed = 0
        async with trio.open_nursery() as nursery:
            for turn, slot in enumerate(slots):
                ticket = window.turns.ticket(turn)  # places go in air order
                nursery.start_soon(self._make_main_ready, turn, slot, ticket, window, trace_id)
            # In air order: a failed main's reserve is chosen (reserves go to the earliest
            # slots first, as they always did), then the slot is committed, each as soon as
            # everything before it is settled.
            for turn, slot in enumerate(slots):
                await slot.settled.wait()
                if slot.skipped:
                    continue
                if slot.ready is None:
                    slot.ready = await self._reserve_ready(turn, slot.plan, window, trace_id)
                if slot.ready is None:
                    failed += 1
                    continue
                ready = self._commit(slot.ready, slot.plan, trace_id)
                queued += 1
                if ready.plan.plan_id != slot.plan.plan_id:
                    fell_back += 1
        # The window's record is the Scheduler's ``window_commit`` audit, which carries
        # this outcome with the slot and whether the window succeeded.
        return CommitOutcome(
            selected=len(selected), queued=queued, fell_back=fell_back, failed=failed
        )

    async def _make_main_ready(
        self, turn: int, slot: _Slot, ticket: _Ticket, window: _Window, trace_id: str
    ) -> None:
        """Fetch, prepare and QA the slot's own plan (concurrently with the other slots,
        within the window's limit); a failure is dropped here, the reserve and the commit
        are run_window's, in order."""
        try:
            async with ticket:
                # A re-plan may have moved this plan since selection; take the stored one.
                current = self.ch.store.get_plan(slot.plan.plan_id)
                if current is None or current.state is not PlanState.SCHEDULED:
                    slot.skipped = True
                    return
                slot.plan = current
                try:
                    asset = await self._produce(current, window, trace_id, main_turn=turn)
                except Failed as failure:
                    self._drop(current, failure, trace_id)
                    return
                slot.ready = _Produced(current, asset, SlotType.MAIN, FallbackLevel.MAIN)
        finally:
            slot.claimed.set()
            slot.settled.set()

    async def _reserve_ready(
        self, turn: int, plan: PlanItem, window: _Window, trace_id: str
    ) -> _Produced | None:
        """A reserve made ready for ``plan``'s slot, or None (audited) when none is left."""
        ch = self.ch
        hour = plan.hour_window
        if hour is None:
            assert plan.start_at is not None, "a plan in the window has a start or an hour"
            hour = plan.start_at.replace(minute=0, second=0, microsecond=0)
        # The hour's own reserves first; when none is left, the nearest hour's: the slot is
        # never left to the emergency pool while any reserve exists.
        for reserve in ch.store.reserves_nearest(hour):
            try:
                # Ahead of every main still waiting: the commits behind it wait for it.
                async with window.turns.ticket(turn):
                    asset = await self._produce(reserve, window, trace_id)
            except Failed as failure:
                self._drop(reserve, failure, trace_id)
                continue
            return _Produced(reserve, asset, SlotType.RESERVE, FallbackLevel.RESERVE)
        self._audit(
            AuditType.SLOT_UNFILLED,
            "NO_RESERVE_LEFT",
            plan.plan_id,
            None,
            trace_id,
            {"hour_window": hour.isoformat(), "title": plan.title},
        )
        return None

    def _commit(self, produced: _Produced, slot_of: PlanItem, trace_id: str) -> Ready:
        """Persist a made-ready plan as COMMITTED and hand it to the buffer."""
        ch = self.ch
        plan, asset, slot_type = produced.plan, produced.asset, produced.slot_type
        now = ch.clock.now()
        with ch.store.transaction():
            ch.fence()
            ch.store.save_asset(asset)
            committed = ch.store.transition_plan(
                plan.plan_id,
                PlanState.COMMITTED,
                now,
                actor="committer",
                audit_details={"asset_id": asset.asset_id, "slot_type": slot_type.value},
                start_at=slot_of.start_at,
                slot_type=slot_type,
                hour_window=slot_of.hour_window,
            )
        self._cast(
            "buffer",
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=committed.plan_id,
                title=committed.title,
                theme=committed.theme,
                duration_sec=asset.duration_sec,
                planned_start=committed.start_at,
                slot_type=slot_type,
                fallback_level=produced.level,
                trace_id=committed.trace_id or trace_id,
            ),
        )
        return Ready(committed, asset)

    async def _produce(
        self, plan: PlanItem, window: _Window, trace_id: str, *, main_turn: int | None = None
    ) -> AssetItem:
        """Fetch, prepare and QA ``plan``'s media; the passed asset, or ``Failed``.

        The same bytes twice in a window are made ready once, by the slot first in air
        order: a main (``main_turn``) decides only once every main before it has claimed
        its content (or failed to fetch any); a reserve comes after every main before it.
        """
        ch = self.ch
        card = ch.card
        media = ch.media
        incoming = ch.settings.media_dir / "incoming"
        item_trace = plan.trace_id or trace_id
        try:
            fetched = await media.fetch(
                plan.source_url,
                incoming,
                max_bytes=ch.settings.max_download_bytes,
                # The card may have changed since planning, and a host may redirect.
                allowed=lambda url: url_allowed(url, card),
                # Media hosts are untrusted: only the addresses the card allows, and a
                # total deadline from the size cap and the minimum rate, so one slow
                # host never holds the commit window for longer than that.
                addresses=address_policy(card),
                pace=Pace.from_settings(ch.settings),
            )
        except FetchError as exc:
            ch.metrics.fetches.labels(outcome="failed").inc()
            # A playlist is refused as what it is, whichever step saw it first.
            code = exc.reason_code if exc.reason_code == FORMAT_REFUSED else None
            log_event(log, LogEvent.FETCH_FAILED, str(exc), trace_id=item_trace,
                      level=logging.WARNING, plan_id=plan.plan_id,
                      reason_code=code or f"FETCH_{exc.reason_code}")  # fmt: skip
            raise Failed(code or f"FETCH_{exc.reason_code}", str(exc)) from exc
        ch.metrics.fetches.labels(outcome="ok").inc()
        log_event(log, LogEvent.FETCH_DONE, trace_id=item_trace, plan_id=plan.plan_id,
                  size_bytes=fetched.size_bytes, sha256=fetched.sha256)  # fmt: skip
        asset_id = f"a{fetched.sha256[:20]}"
        if main_turn is not None:
            for earlier in window.slots[:main_turn]:
                await earlier.claimed.wait()
        holder = window.checksums.get(fetched.sha256)
        existing = ch.store.asset_by_checksum(fetched.sha256)
        if holder is not None and holder.plan_id != plan.plan_id:
            # The same bytes, fetched to the same file, by another slot of this window: the
            # file is that slot's to remove, unless it is done with it.
            if not holder.in_use:
                remove_source(fetched.path)
            raise Failed(
                "DUPLICATE_CHECKSUM",
                f"same bytes as plan {holder.plan_id}, made ready in this window",
            )
        if existing is not None and existing.plan_id != plan.plan_id:
            remove_source(fetched.path)
            raise Failed(
                "DUPLICATE_CHECKSUM",
                f"same bytes as asset {existing.asset_id} of plan {existing.plan_id}",
            )
        claim = window.checksums[fetched.sha256] = _Claim(plan.plan_id)
        if main_turn is not None:
            window.slots[main_turn].claimed.set()
        try:
            started = trio.current_time()
            prepared, report = await media.make_ready(
                fetched.path, ch.hls_root, asset_id, card, plan.duration_sec or None
            )
            took = trio.current_time() - started
            ch.metrics.prepares.labels(outcome="ok").inc()
            ch.metrics.prepare_seconds.labels(outcome="ok").observe(took)
            log_event(log, LogEvent.PREPARE_DONE, trace_id=item_trace, plan_id=plan.plan_id,
                      asset_id=asset_id, seconds=round(took, 3), remuxed=prepared.remuxed,
                      qa_passed=report.passed)  # fmt: skip
            for error in prepared.rung_errors:
                # The asset airs without that rung (its main segments stand in): say why.
                log.warning("asset %s has no lower rung: %s", asset_id, error)
        except MediaFormatRefused as exc:
            # Not a media container (a playlist naming other files, text…): refused
            # before ffmpeg opened it; a reserve takes the slot.
            ch.metrics.prepares.labels(outcome="failed").inc()
            log_event(log, LogEvent.PREPARE_FAILED, exc.reason, trace_id=item_trace,
                      level=logging.WARNING, plan_id=plan.plan_id,
                      reason_code=FORMAT_REFUSED)  # fmt: skip
            raise Failed(FORMAT_REFUSED, exc.reason) from exc
        except (MediaError, OSError) as exc:
            ch.metrics.prepares.labels(outcome="failed").inc()
            log_event(log, LogEvent.PREPARE_FAILED, str(exc), trace_id=item_trace,
                      level=logging.WARNING, plan_id=plan.plan_id,
                      reason_code="PREPARE_FAILED")  # fmt: skip
            raise Failed("PREPARE_FAILED", str(exc)) from exc
        finally:
            # Synchronous: runs even when the window is being cancelled.
            remove_source(fetched.path)
            claim.in_use = False
        asset = AssetItem(
            asset_id=asset_id,
            plan_id=plan.plan_id,
            source_url=plan.source_url,
            checksum=fetched.sha256,
            local_path=str(prepared.dir),
            created_at=ch.clock.now(),
            duration_sec=prepared.duration_sec,
            qa_status=QAStatus.PASSED if report.passed else QAStatus.REJECTED,
            qa=report,
            segments_dir=str(prepared.dir),
            segment_count=len(prepared.segments),
            remuxed=prepared.remuxed,
            size_bytes=fetched.size_bytes,
            emergency_eligible=report.passed,
            trace_id=item_trace,
        )
        ch.metrics.qa_outcomes.labels(outcome="passed" if report.passed else "rejected").inc()
        self._audit(
            AuditType.QA_RESULT,
            "" if report.passed else "QA_REJECTED",
            plan.plan_id,
            asset_id,
            item_trace,
            {"passed": report.passed, "window_trace_id": trace_id, **attrs.asdict(report)},
        )
        if not report.passed:
            ch.store.save_asset(asset)  # the measurements stay on record
            await offload.run_sync(_rmtree, prepared.dir)
            raise Failed("QA_REJECTED", "; ".join(report.reasons))
        return asset

    def _drop(self, plan: PlanItem, failure: Failed, trace_id: str) -> None:
        self.ch.store.transition_plan(
            plan.plan_id,
            PlanState.DROPPED,
            self.ch.clock.now(),
            actor="committer",
            reason_code=failure.code,
            audit_details={"why": failure.message, "trace_id": trace_id},
        )

    # --- helpers ---------------------------------------------------------------------

    def _audit(
        self,
        event_type: AuditType,
        reason_code: str,
        plan_id: str | None,
        asset_id: str | None,
        trace_id: str,
        details: dict,
    ) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.ch.clock.now(),
                event_type=event_type,
                reason_code=reason_code,
                actor="committer",
                plan_id=plan_id,
                asset_id=asset_id,
                trace_id=trace_id,
                details=details,
            )
        )

    def _status_snapshot(self, outcome: CommitOutcome) -> dict:
        buffer = self.ch.topics["buffer"].latest
        return {
            "at": self.ch.clock.now().isoformat(),
            "commit": attrs.asdict(outcome),
            "status": buffer,
            "metrics": self.ch.pipeline_metrics(),
        }

    def _cast(self, name: str, msg: object) -> None:
        if self.ctx is None:
            return
        try:
            self.ctx.ref(name).cast_nowait(msg)
        except (ActorError, trio.WouldBlock) as exc:
            # The buffer reconciles committed plans with the queue when it (re)starts,
            # so a hand-off lost here is recovered, not lost.
            log.warning("could not hand %s to %s: %s", type(msg).__name__, name, exc)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
