"""The Committer: only what will air is downloaded, four hours ahead, and only what
passed QA reaches the timeline.

Owns the commit window (SPEC §1.3–1.5). Each window selects the scheduled plans whose
planned start falls within ``commit_lead_hours`` of now, in air order, and for each one
fetches, prepares and QA-checks the media; a plan that fails at any step is dropped
with its reason audited and a reserve of the same hour window takes its slot. A window
that runs twice, or a restart in the middle of one, never fetches or queues an item
twice: a plan is committed exactly once, and assets are named by their checksum.

Receives: ``RunCommitWindow`` (reply ``CommitOutcome``).
Sends: ``AssetReady`` to buffer, ``PublishStatus`` to cloudsync.
"""

from __future__ import annotations

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
        queued = fell_back = failed = 0
        for plan in selected:
            # A re-plan may have moved this plan since selection; take the stored one.
            current = ch.store.get_plan(plan.plan_id)
            if current is None or current.state is not PlanState.SCHEDULED:
                continue
            ready = await self._main_or_reserve(current, trace_id)
            if ready is None:
                failed += 1
                continue
            queued += 1
            if ready.plan.plan_id != current.plan_id:
                fell_back += 1
        # The window's record is the Scheduler's ``window_commit`` audit, which carries
        # this outcome with the slot and whether the window succeeded.
        return CommitOutcome(
            selected=len(selected), queued=queued, fell_back=fell_back, failed=failed
        )

    async def _main_or_reserve(self, plan: PlanItem, trace_id: str) -> Ready | None:
        ch = self.ch
        try:
            return await self._commit(plan, SlotType.MAIN, FallbackLevel.MAIN, plan, trace_id)
        except Failed as failure:
            self._drop(plan, failure, trace_id)
        hour = plan.hour_window
        if hour is None:
            assert plan.start_at is not None, "a plan in the window has a start or an hour"
            hour = plan.start_at.replace(minute=0, second=0, microsecond=0)
        # The hour's own reserves first; when none is left, the nearest hour's: the slot is
        # never left to the emergency pool while any reserve exists.
        for reserve in ch.store.reserves_nearest(hour):
            try:
                ready = await self._commit(
                    reserve, SlotType.RESERVE, FallbackLevel.RESERVE, plan, trace_id
                )
            except Failed as failure:
                self._drop(reserve, failure, trace_id)
                continue
            return ready
        self._audit(
            AuditType.SLOT_UNFILLED,
            "NO_RESERVE_LEFT",
            plan.plan_id,
            None,
            trace_id,
            {"hour_window": hour.isoformat(), "title": plan.title},
        )
        return None

    async def _commit(
        self,
        plan: PlanItem,
        slot_type: SlotType,
        level: FallbackLevel,
        slot_of: PlanItem,
        trace_id: str,
    ) -> Ready:
        """Fetch, prepare, QA, persist, and hand to the buffer; ``Failed`` on any step."""
        ch = self.ch
        asset = await self._produce(plan, trace_id)
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
                fallback_level=level,
                trace_id=committed.trace_id or trace_id,
            ),
        )
        return Ready(committed, asset)

    async def _produce(self, plan: PlanItem, trace_id: str) -> AssetItem:
        ch = self.ch
        card = ch.card
        media = ch.media
        incoming = ch.settings.media_dir / "incoming"
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
            raise Failed(code or f"FETCH_{exc.reason_code}", str(exc)) from exc
        ch.metrics.fetches.labels(outcome="ok").inc()
        asset_id = f"a{fetched.sha256[:20]}"
        existing = ch.store.asset_by_checksum(fetched.sha256)
        if existing is not None and existing.plan_id != plan.plan_id:
            await _remove(fetched.path)
            raise Failed(
                "DUPLICATE_CHECKSUM",
                f"same bytes as asset {existing.asset_id} of plan {existing.plan_id}",
            )
        try:
            started = trio.current_time()
            prepared, report = await media.make_ready(
                fetched.path, ch.hls_root, asset_id, card, plan.duration_sec or None
            )
            ch.metrics.prepares.labels(outcome="ok").inc()
            ch.metrics.prepare_seconds.labels(outcome="ok").observe(trio.current_time() - started)
        except MediaFormatRefused as exc:
            # Not a media container (a playlist naming other files, text…): refused
            # before ffmpeg opened it; a reserve takes the slot.
            ch.metrics.prepares.labels(outcome="failed").inc()
            raise Failed(FORMAT_REFUSED, exc.reason) from exc
        except (MediaError, OSError) as exc:
            ch.metrics.prepares.labels(outcome="failed").inc()
            raise Failed("PREPARE_FAILED", str(exc)) from exc
        finally:
            await _remove(fetched.path)
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
            trace_id=plan.trace_id or trace_id,
        )
        ch.metrics.qa_outcomes.labels(outcome="passed" if report.passed else "rejected").inc()
        self._audit(
            AuditType.QA_RESULT,
            "" if report.passed else "QA_REJECTED",
            plan.plan_id,
            asset_id,
            trace_id,
            {"passed": report.passed, **attrs.asdict(report)},
        )
        if not report.passed:
            ch.store.save_asset(asset)  # the measurements stay on record
            await offload.run_sync(_rmtree, prepared.dir)
            raise Failed("QA_REJECTED", "; ".join(report.reasons))
        return asset

    def _drop(self, plan: PlanItem, failure: Failed, trace_id: str) -> None:
        log.info("plan %s dropped: %s %s", plan.plan_id, failure.code, failure.message)
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


async def _remove(path: Path) -> None:
    await offload.run_sync(remove_source, path)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
