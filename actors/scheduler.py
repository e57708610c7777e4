"""The Scheduler: when things happen.

Owns the three windows (hourly discovery, the commit cadence, nightly at 03:00 local)
and their persisted cursors, so a restart neither repeats nor skips a window. It runs
each due window by asking the actor that does the work, records the outcome in the
audit trail, and only then moves the cursor: a window that fails is retried next time
and never kills the daemon. It also runs the nightly job.

Receives: ``Ping`` (its work is driven by time), ``RunNightlyNow`` (the ``nightly`` control
call: the job now, once per local date unless forced).
Sends: ``RunDiscovery`` to discovery, ``RunCommitWindow`` to committer, reports and
status snapshots to cloudsync.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, cast

import attrs
import trio

from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError
from vvtv.core.audit import AuditType
from vvtv.core.messages import (
    DrainOutbox,
    Ping,
    PublishDaily,
    PublishWeekly,
    RunCommitWindow,
    RunDiscovery,
    RunNightlyNow,
)
from vvtv.core.model import AuditEvent, new_id
from vvtv.nightly import job
from vvtv.plan.windows import (
    Cursors,
    Window,
    WindowKind,
    advance,
    due_windows,
    first_nightly_cursor,
    next_wakeup,
    nightly_time,
)

log = logging.getLogger(__name__)

CURSOR_DISCOVERY = "window.discovery"
CURSOR_COMMIT = "window.commit"
CURSOR_NIGHTLY = "window.nightly"  # stored as the local date's midnight UTC instant

# --once drains these actors' outboxes before exiting (actor name: its outbox topic).
OUTBOX_TOPICS = {"cloudsync": "cloud", "alerter": "webhook"}
DRAIN_REPLY_S = 10.0  # beyond the drain's own wait, for the reply to come back

# A commit window fetches and prepares media: give it time, but not forever.
DISCOVERY_TIMEOUT_S = 15 * 60
COMMIT_TIMEOUT_S = 60 * 60
# One audit row per window run, whatever its outcome.
WINDOW_AUDIT = {
    WindowKind.DISCOVERY: AuditType.WINDOW_DISCOVERY,
    WindowKind.COMMIT: AuditType.WINDOW_COMMIT,
    WindowKind.NIGHTLY: AuditType.WINDOW_NIGHTLY,
}


class Scheduler(Actor):
    mailbox_size: ClassVar[int] = 16
    accepts: ClassVar[tuple[type, ...]] = (Ping, RunNightlyNow)

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.ctx: ActorContext | None = None
        # The 03:00 run and one asked for by an operator never overlap.
        self._nightly_lock = trio.Lock()

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        ctx.start_soon(self._run_windows)

    async def handle(self, msg: object) -> object:
        if isinstance(msg, RunNightlyNow):
            return await self.nightly_now(msg)
        assert isinstance(msg, Ping)
        return "pong"

    async def nightly_now(self, msg: RunNightlyNow) -> dict[str, Any]:
        """The nightly job now, for today's local date: once per date unless forced.

        Like ``VVTV_FORCE_NIGHTLY``, it does not move the nightly cursor: tonight's
        scheduled run still happens. The reply says what ran, or why nothing did.
        """
        ch = self.ch
        now = ch.clock.now()
        local = now.astimezone(ch.tz).date()
        earlier = self._nightly_ran_at(local, now)
        if earlier is not None and not msg.force:
            return {
                "ran": False,
                "local_date": local.isoformat(),
                "reason": f"the nightly job already ran for {local.isoformat()} (at "
                f'{earlier.isoformat()}); send {{"force": true}} to run it again',
            }
        # On demand, like --force-nightly: the last complete week's report is rebuilt too.
        ok = await self._run(Window(WindowKind.NIGHTLY, now, local), forced=True)
        runs = ch.store.query_audit(event_type=AuditType.WINDOW_NIGHTLY, since=now, limit=None)
        details = dict(runs[-1].details) if runs else {}
        for key in ("slot", "started_at", "ok"):
            details.pop(key, None)
        return {"ran": ok, **details, "local_date": local.isoformat(), "forced": msg.force}

    def _nightly_ran_at(self, local: date, now: datetime) -> datetime | None:
        """When the nightly job last succeeded for ``local`` (a local date), if it did."""
        runs = self.ch.store.query_audit(
            event_type=AuditType.WINDOW_NIGHTLY, since=now - timedelta(days=3), limit=None
        )
        for event in reversed(runs):
            if event.details.get("ok") and event.details.get("local_date") == local.isoformat():
                return event.at
        return None

    # --- windows ---------------------------------------------------------------------

    def _cursors(self) -> Cursors:
        store = self.ch.store
        nightly_at = store.get_cursor(CURSOR_NIGHTLY)
        return Cursors(
            discovery=store.get_cursor(CURSOR_DISCOVERY),
            commit=store.get_cursor(CURSOR_COMMIT),
            nightly=nightly_at.date() if nightly_at is not None else None,
        )

    def _seed_nightly_cursor(self) -> None:
        # Without a cursor, "when is the nightly due" would be "the next 03:00 from now",
        # which moves past a first run that failed (next_nightly). Seeded once, the
        # first night is retried like every other.
        ch = self.ch
        if ch.store.get_cursor(CURSOR_NIGHTLY) is None:
            first = first_nightly_cursor(ch.clock.now(), ch.tz, nightly_time(ch.card))
            ch.store.set_cursor(CURSOR_NIGHTLY, _date_instant(first))

    def _save(self, cursors: Cursors) -> None:
        store = self.ch.store
        with store.transaction():
            if cursors.discovery is not None:
                store.set_cursor(CURSOR_DISCOVERY, cursors.discovery)
            if cursors.commit is not None:
                store.set_cursor(CURSOR_COMMIT, cursors.commit)
            if cursors.nightly is not None:
                store.set_cursor(CURSOR_NIGHTLY, _date_instant(cursors.nightly))

    async def _run_windows(self) -> None:
        ch = self.ch
        if ch.run_once:
            await self._one_cycle()
            return
        if ch.force_nightly:
            # Forced runs do not move the nightly cursor: tonight's 03:00 still runs. Once
            # per process: a restarted scheduler must not run it again.
            ch.force_nightly = False
            now = ch.clock.now()
            await self._run(
                Window(WindowKind.NIGHTLY, now, now.astimezone(ch.tz).date()), forced=True
            )
        self._seed_nightly_cursor()
        while True:
            now = ch.clock.now()
            cursors = self._cursors()
            for window in due_windows(cursors, now, ch.card, ch.tz):
                if await self._run(window):
                    cursors = advance(cursors, window)
                    self._save(cursors)
            wake = next_wakeup(cursors, ch.clock.now(), ch.card, ch.tz)
            if wake > ch.clock.now():
                await ch.clock.sleep_until(wake)
            else:
                # Something failed and is still due: retry after a pause, not in a hot loop.
                await trio.sleep(60)

    async def _one_cycle(self) -> None:
        """``--once``: discovery, a commit window, the nightly job when forced, then what
        they produced delivered (the outboxes drained, a bounded wait); then stop.

        Exit code 1 when a window failed or documents are still undelivered."""
        ch = self.ch
        now = ch.clock.now()
        cursors = self._cursors()
        windows = [Window(WindowKind.DISCOVERY, now), Window(WindowKind.COMMIT, now)]
        if ch.force_nightly:
            windows.append(Window(WindowKind.NIGHTLY, now, now.astimezone(ch.tz).date()))
        ok = True
        for window in windows:
            if await self._run(window, forced=window.kind is WindowKind.NIGHTLY):
                cursors = advance(cursors, window)
                self._save(cursors)
            else:
                ok = False
        undelivered = await self._drain_outboxes(ch.settings.once_drain_secs)
        if undelivered:
            ok = False
            log.error(
                "--once: %d document(s) still undelivered after %g s (%s); they stay in the "
                "outbox and the next run delivers them",
                sum(undelivered.values()),
                ch.settings.once_drain_secs,
                ", ".join(f"{name}: {n}" for name, n in undelivered.items()),
            )
        ch.exit_code = 0 if ok else 1
        assert self.ctx is not None
        self.ctx.runtime.shutdown()

    async def _drain_outboxes(self, timeout_s: float) -> dict[str, int]:
        """Ask each actor with an outbox to deliver it within ``timeout_s`` (together);
        what each still holds, for those that hold anything."""
        assert self.ctx is not None
        left: dict[str, int] = {}

        ctx = self.ctx

        async def one(name: str) -> None:
            try:
                reply = await ctx.ref(name).call(
                    DrainOutbox(timeout_s), timeout=timeout_s + DRAIN_REPLY_S
                )
                n = reply if isinstance(reply, int) else 0
            except ActorError as exc:
                log.error("--once: could not drain the %s outbox: %s", name, exc)
                n = self.ch.store.pending_count(OUTBOX_TOPICS[name])
            if n:
                left[name] = n

        async with trio.open_nursery() as nursery:
            for name in OUTBOX_TOPICS:
                nursery.start_soon(one, name)
        return dict(sorted(left.items()))

    async def _run(self, window: Window, *, forced: bool = False) -> bool:
        """Run one window; True when it succeeded (and its cursor may move). ``forced``: a
        nightly run on demand (it also rebuilds the last complete week's report)."""
        ch = self.ch
        assert self.ctx is not None
        trace = new_id("win")
        started = ch.clock.now()
        try:
            ch.store.require_fence(ch.leadership.name, _token(ch))
            if window.kind is WindowKind.DISCOVERY:
                outcome = await self.ctx.ref("discovery").call(
                    RunDiscovery(window.slot, trace), timeout=DISCOVERY_TIMEOUT_S
                )
                details = _plain(outcome)
            elif window.kind is WindowKind.COMMIT:
                outcome = await self.ctx.ref("committer").call(
                    RunCommitWindow(window.slot, trace), timeout=COMMIT_TIMEOUT_S
                )
                details = _plain(outcome)
            else:
                assert window.local_date is not None
                details = await self._nightly(window.local_date, forced=forced)
        except Exception as exc:
            # Any failure of a window (an actor down or timing out, a store error such as a
            # full disk, a lost lock, a bug in the nightly job) is audited and retried next
            # time: a crash here would restart the scheduler into the same failure until
            # the supervisors gave up and the channel went off air.
            expected = isinstance(exc, ActorError | OSError | ValueError | RuntimeError)
            log.log(
                logging.WARNING if expected else logging.ERROR,
                "window %s failed: %r",
                window.kind,
                exc,
                exc_info=not expected,
            )
            ch.metrics.windows.labels(window=window.kind.value, outcome="failed").inc()
            try:
                self._audit(window, trace, started, ok=False, details={"error": repr(exc)})
            except Exception:  # the store itself may be what fails; keep the loop alive
                log.exception("could not audit the failed %s window", window.kind)
            return False
        ch.metrics.windows.labels(window=window.kind.value, outcome="ok").inc()
        self._audit(window, trace, started, ok=True, details=details)
        return True

    def _audit(
        self, window: Window, trace: str, started: datetime, *, ok: bool, details: dict
    ) -> None:
        ch = self.ch
        ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=ch.clock.now(),
                event_type=WINDOW_AUDIT[window.kind],
                reason_code="" if ok else "WINDOW_FAILED",
                actor="scheduler",
                trace_id=trace,
                details={
                    "slot": window.slot.isoformat(),
                    "ok": ok,
                    "started_at": started.isoformat(),
                    **details,
                },
            )
        )

    async def _nightly(self, local_date: date, *, forced: bool = False) -> dict:
        ch = self.ch
        async with self._nightly_lock:
            result = await job.run_nightly(
                ch.store,
                ch.cards,
                ch.clock,
                ch.tz,
                local_date,
                ch.settings.exports_dir,
                forced=forced,
            )
        daily = result.daily
        _cast_quietly(self.ctx, "cloudsync", PublishDaily(daily.date, daily.summary, daily.metrics))
        if result.weekly is not None:
            weekly = result.weekly
            _cast_quietly(
                self.ctx,
                "cloudsync",
                PublishWeekly(weekly.week, weekly.summary, weekly.metrics),
            )
        return {"local_date": local_date.isoformat(), **result.summary()}


def _token(ch: ChannelContext) -> int:
    if ch.leadership.token is None:
        raise RuntimeError("scheduler lock not held")
    return ch.leadership.token


def _date_instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _plain(outcome: object) -> dict[str, Any]:
    """An actor's reply as audit details: its fields when it is an attrs value."""
    if attrs.has(type(outcome)):  # attrs.has narrows the class, not the instance
        return attrs.asdict(cast("attrs.AttrsInstance", outcome))
    return {"outcome": repr(outcome)}


def _cast_quietly(ctx: ActorContext | None, name: str, msg: object) -> None:
    """Hand something to an optional, non-critical actor without ever blocking on it."""
    if ctx is None:
        return
    try:
        ctx.ref(name).cast_nowait(msg)
    except (ActorError, trio.WouldBlock) as exc:
        log.warning("could not hand %s to %s: %s", type(msg).__name__, name, exc)
