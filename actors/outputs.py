"""The push outputs: one actor per target of the OwnerCard, each following the air.

```
outputs            one_for_one, auto_shutdown: built from the card's ``outputs``
├─ outputs.roster  ends (normally) when outputs are added or removed: ``outputs`` is rebuilt
│                  (at most REBUILD_BURST times a minute: the root supervisor counts them)
└─ output:<name>   one Pusher per output: ffmpeg fed the continuous air, reconnecting
```

A ``Pusher`` owns one long-lived ffmpeg at a time (``vvtv.outputs.command``): it hands it the
live playlist's segments as they air (the same segments ``/live`` serves, from one segment
behind the live edge), rewritten onto one continuous timeline (``vvtv.outputs.rebase``), and
ffmpeg copies them to the server at real time. When ffmpeg ends (the server dropped us,
refused us, stopped taking data for ``STALL_S``) the Pusher records why, waits by the
project's retry policy (capped, jittered exponential backoff; ``PUSH_RETRY``) and starts
again; a change of its card entry or of its switch starts it again at once.

It publishes its state to the shared ``OutputBoard`` (``/v1/outputs``, the dashboard, the
``runtime`` websocket), the ``vvtv_output_*`` metrics and the audit trail (connected, lost,
switched), and nudges the Alerter when it connects and once it has been down for
``VVTV_ALERT_OUTPUT_DOWN_SECS`` (``OUTPUT_DOWN``). Its stream key reaches ffmpeg only through
an inherited pipe, and everything it logs or shows goes through ``redact``.

Receives: ``SetOutputEnabled`` from the API (reply: the output's state). Sends:
``EvaluateAlerts`` to the alerter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

import attrs
import trio
from prometheus_client import Counter, Gauge

from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError, ChildSpec, Restart, Strategy, Supervisor
from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.messages import EvaluateAlerts, Ping, SetOutputEnabled
from vvtv.core.model import AuditEvent, new_id
from vvtv.core.retry import RetryPolicy
from vvtv.core.settings import tool_env
from vvtv.iptv.stream import live_segments, to_send
from vvtv.media.ffmpeg import FFMPEG
from vvtv.outputs.command import (
    OptionFileError,
    Progress,
    ProgressReader,
    option_file,
    push_args,
    redact,
)
from vvtv.outputs.pace import Pace
from vvtv.outputs.rebase import Rebaser
from vvtv.outputs.targets import (
    Target,
    TargetError,
    display_url,
    key_file_is_private,
    make_target,
)
from vvtv.ownercard.card import OutputSpec

log = logging.getLogger(__name__)

#: Reconnection waits: 0.5 s, 1 s, 2 s, 4 s, then 8 s, each up to a quarter longer at random
#: (a dozen channels behind one restarted restreamer do not come back in lockstep). Retried
#: for as long as the output is enabled; a connection that held ``STABLE_S`` starts over.
PUSH_RETRY = RetryPolicy(base_s=0.5, cap_s=8.0, jitter=0.25)
STABLE_S = 30.0
#: No byte written to the server for this long (a black-holed connection): start again.
STALL_S = 20.0
POLL_S = 0.25  # how often the live playlist is read for a new segment
WATCH_S = 1.0  # how often the card, the alert timer and the gauges are looked at
LEAD = 2  # segments behind the live edge a push starts (one aired, one airing)
BITRATE_WINDOW_S = 5.0
STDERR_KEEP = 5
STDERR_LOG_MAX = 20  # ffmpeg messages logged per connection; the rest are only counted
STOP_GRACE_S = 3.0
KEY_OVERRIDES = "output_overrides"  # live value: {name: bool} set by control calls
# A rebuild is a restart of ``outputs`` under the root supervisor, which gives up (and the
# daemon with it) past 10 restarts a minute: a card whose outputs change again and again (a
# script reloading it in a loop) is followed at most REBUILD_BURST times in any
# REBUILD_WINDOW_S; changes made meanwhile are applied together by the next rebuild.
REBUILD_BURST = 3
REBUILD_WINDOW_S = 60.0


def output_specs(ch: ChannelContext) -> dict[str, OutputSpec]:
    return {o.name: o for o in ch.card.outputs}


@attrs.define
class _Session:
    """One ffmpeg run: what it has done, and why it ended."""

    target: Target
    started_at: float
    connected_at: float | None = None
    last_bytes_at: float = 0.0
    total_size: int = 0
    samples: deque[tuple[float, int]] = attrs.field(factory=deque)
    stderr: deque[str] = attrs.field(factory=lambda: deque(maxlen=STDERR_KEEP))
    logged: int = 0
    error: str = ""
    changed: bool = False


class Pusher(Actor):
    """Pushes the air to one output of the card (see the module docstring)."""

    mailbox_size: ClassVar[int] = 8
    accepts: ClassVar[tuple[type, ...]] = (SetOutputEnabled,)

    def __init__(
        self,
        ch: ChannelContext,
        name: str,
        *,
        ffmpeg: str = FFMPEG,
        retry: RetryPolicy = PUSH_RETRY,
        stall_s: float | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.ch = ch
        self.name = name
        self.ffmpeg = ffmpeg
        self.retry = retry
        self.stall_s = STALL_S if stall_s is None else stall_s
        self.poll_s = poll_s
        self.state = ch.outputs.state(name)
        self.ctx: ActorContext | None = None
        self._changed = trio.Event()
        self._spec: OutputSpec | None = None
        self._alerted = False  # this down episode reached the OUTPUT_DOWN time
        self._ever_connected = False
        labels = ch.metrics
        self._m_connected = labels.output_connected.labels(name)
        self._m_bitrate = labels.output_bitrate.labels(name)
        self._m_uptime = labels.output_uptime.labels(name)

    # --- life ---------------------------------------------------------------------

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        overrides = self.ch.store.get_live_value(KEY_OVERRIDES) or {}
        value = overrides.get(self.name) if isinstance(overrides, dict) else None
        self.state.override = value if isinstance(value, bool) else None
        self._spec = output_specs(self.ch).get(self.name)
        # A new incarnation has no connection yet, whatever the last one left on the board.
        self._ever_connected = self.state.bytes_sent > 0
        if self.state.connected:
            self.state.status = "retrying"
            self._down(self.ch.clock.now())
        self._set_connected(False)
        ctx.start_soon(self._watch)
        ctx.start_soon(self._run)

    async def stopping(self) -> None:
        self._set_connected(False)
        self._m_bitrate.set(0)

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, SetOutputEnabled)
        store = self.ch.store
        with store.transaction():
            overrides = dict(store.get_live_value(KEY_OVERRIDES) or {})
            if msg.enabled is None:
                overrides.pop(self.name, None)
            else:
                overrides[self.name] = msg.enabled
            store.set_live_value(KEY_OVERRIDES, overrides)
            self._audit(
                AuditType.OUTPUT_SWITCHED, {"who": msg.who, "requested": msg.enabled}, reason=""
            )
        self.state.override = msg.enabled
        self._apply_enabled()
        self._wake()
        return self.state.view(self.ch.clock.now())

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # --- what the card and the switch say -------------------------------------------

    def _enabled(self) -> bool:
        if self._spec is None:
            return False
        if self.state.override is not None:
            return self.state.override
        return self._spec.enabled

    def _apply_enabled(self) -> None:
        """Bring the shown state in line with the card and the switch."""
        spec, state = self._spec, self.state
        enabled = self._enabled()
        if spec is not None:
            state.url = display_url(spec.url)
            state.protocol = spec.url.partition(":")[0]
        if enabled and not state.enabled and not state.connected:
            self._down(self.ch.clock.now())
        state.enabled = enabled
        if not enabled:
            state.down_since = None
            self._alerted = False

    async def _watch(self) -> None:
        """Follow the card, raise OUTPUT_DOWN on time, keep the uptime gauge current."""
        while True:
            spec = output_specs(self.ch).get(self.name)
            if spec != self._spec:
                self._spec = spec
                self._apply_enabled()
                self._wake()
            now = self.ch.clock.now()
            down = self.state.down_for(now)
            limit = self.ch.settings.alert_output_down_secs
            if down is not None and not self._alerted and down >= limit:
                self._alerted = True
                self._nudge_alerter("output down")
            state = self.state
            if state.connected and state.connected_since is not None:
                self._m_uptime.set((now - state.connected_since).total_seconds())
            await trio.sleep(WATCH_S)

    # --- the push loop --------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        warned_key_file = False
        while True:
            changed = self._changed
            spec = self._spec
            self._apply_enabled()
            if spec is None or not self.state.enabled:
                self._set_status("removed" if spec is None else "disabled")
                await changed.wait()
                attempt = 0
                continue
            root = self.ch.settings.project_root
            if not warned_key_file and not key_file_is_private(spec, root):
                warned_key_file = True
                log.warning(
                    "output %s: key_file %s can be read by other users of this machine "
                    "(chmod 600 it)",
                    self.name,
                    spec.key_file,
                )
            if not await self._air_ready(changed):
                attempt = 0
                continue
            try:
                target = await offload.run_sync(
                    make_target, spec, self.ch.settings.output_keys, root
                )
            except TargetError as exc:
                self._failed(str(exc), was_connected=False)
                outcome = "failed"
            else:
                outcome = await self._session(target, changed)
            if outcome == "changed":
                attempt = 0
                continue
            if outcome == "stable":
                attempt = 0
            self._set_status("retrying")
            with trio.move_on_after(self.retry.delay(attempt)):
                await changed.wait()
            attempt += 1

    async def _air_ready(self, changed: trio.Event) -> bool:
        """Wait until the live playlist has segments (at boot it may not yet); False if the
        card or the switch changed meanwhile."""
        while not live_segments(self.ch.live.playlist):
            self._set_status("connecting")
            with trio.move_on_after(self.poll_s * 4):
                await changed.wait()
            if changed.is_set():
                return False
        return True

    async def _session(self, target: Target, changed: trio.Event) -> str:
        """One ffmpeg run: ``changed`` (stopped on purpose), ``stable`` (failed after a long
        connection) or ``failed``."""
        self._set_status("connecting")
        session = _Session(target, started_at=trio.current_time())
        session.last_bytes_at = session.started_at
        secrets = target.secret_values()
        try:
            options = option_file(target.secrets)
        except OptionFileError as exc:
            self._failed(f"output {self.name}: {exc}", was_connected=False)
            return "failed"
        read_fd: int | None = None
        if options:
            # The key goes through a pipe ffmpeg inherits: never argv, never a file on disk.
            read_fd, write_fd = os.pipe()
            try:
                os.write(write_fd, options)
            finally:
                os.close(write_fd)
        try:
            proc = await trio.lowlevel.open_process(
                push_args(target, option_fd=read_fd, ffmpeg=self.ffmpeg),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=() if read_fd is None else (read_fd,),
                env=tool_env(),
            )
        except OSError as exc:
            self._failed(f"cannot start {self.ffmpeg}: {exc.strerror}", was_connected=False)
            return "failed"
        finally:
            if read_fd is not None:
                os.close(read_fd)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._feed, proc, session)
                nursery.start_soon(self._read_progress, proc, session)
                nursery.start_soon(self._read_errors, proc, session, secrets)
                nursery.start_soon(self._watchdog, proc, session)
                nursery.start_soon(self._until, changed, session, nursery.cancel_scope)
                await proc.wait()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await _stop(proc)
        was_connected = session.connected_at is not None
        if session.changed:
            if was_connected:
                log.info("output %s: stopped (%s)", self.name, self._why_stopped())
            self._set_connected(False)
            return "changed"
        tail = redact(session.stderr[-1] if session.stderr else "", secrets)
        why = session.error or f"ffmpeg exited with {proc.returncode}"
        self._failed(f"{why}: {tail}" if tail else why, was_connected=was_connected)
        if was_connected and session.connected_at is not None:
            held = trio.current_time() - session.connected_at
            return "stable" if held >= STABLE_S else "failed"
        return "failed"

    def _why_stopped(self) -> str:
        if self._spec is None:
            return "removed from the card"
        return "reconfigured" if self.state.enabled else "disabled"

    async def _until(self, changed: trio.Event, session: _Session, scope: trio.CancelScope) -> None:
        await changed.wait()
        session.changed = True
        scope.cancel()

    # --- feeding ffmpeg --------------------------------------------------------------

    async def _feed(self, proc: trio.Process, session: _Session) -> None:
        """Hand ffmpeg every new live segment, rebased onto one continuous timeline."""
        assert proc.stdin is not None
        rebaser = Rebaser()
        segment_s = self.ch.card.channel.segment_seconds
        pace = Pace(max_ahead_s=(LEAD + 1) * segment_s)
        metrics, state = self.ch.metrics.output_segments, self.state
        last: int | None = None
        while True:
            for seg in to_send(live_segments(self.ch.live.playlist), last, lead=LEAD):
                last = seg.sequence
                if not pace.admit(trio.current_time(), rebaser.end_s):
                    state.segments_skipped += 1
                    metrics.labels(self.name, "skipped").inc()
                    continue
                data = await self._read(seg.asset_id, seg.name)
                out = await offload.run_sync(rebaser.rebase, data) if data else b""
                if not out:
                    state.segments_dropped += 1
                    metrics.labels(self.name, "dropped").inc()
                    continue
                try:
                    await proc.stdin.send_all(out)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # ffmpeg is gone: the session ends with its exit
                state.segments_sent += 1
                metrics.labels(self.name, "sent").inc()
            await trio.sleep(self.poll_s)

    async def _read(self, asset_id: str, name: str) -> bytes:
        path = self.ch.live.segment_path(asset_id, name)
        if path is None:
            return b""
        try:
            return await trio.Path(path).read_bytes()
        except OSError as exc:  # pruned between the playlist and the read: skip it
            log.warning("output %s: segment %s/%s unreadable: %s", self.name, asset_id, name, exc)
            return b""

    async def _read_progress(self, proc: trio.Process, session: _Session) -> None:
        assert proc.stdout is not None
        reader = ProgressReader()
        async for line in _lines(proc.stdout):
            progress = reader.feed(line)
            if progress is not None:
                self._progress(progress, session)

    def _progress(self, progress: Progress, session: _Session) -> None:
        now = trio.current_time()
        grew = progress.total_size - session.total_size
        if grew <= 0:
            return
        self.state.bytes_sent += grew
        self.ch.metrics.output_bytes.labels(self.name).inc(grew)
        session.total_size = progress.total_size
        session.last_bytes_at = now
        session.samples.append((now, progress.total_size))
        while len(session.samples) > 2 and now - session.samples[0][0] > BITRATE_WINDOW_S:
            session.samples.popleft()
        (t0, b0), (t1, b1) = session.samples[0], session.samples[-1]
        if t1 > t0:
            self.state.bitrate_kbps = (b1 - b0) * 8 / (t1 - t0) / 1000
            self._m_bitrate.set(round(self.state.bitrate_kbps, 1))
        if session.connected_at is None:
            session.connected_at = now
            self._connected(session.target)

    async def _read_errors(
        self, proc: trio.Process, session: _Session, secrets: tuple[str, ...]
    ) -> None:
        assert proc.stderr is not None
        async for line in _lines(proc.stderr):
            text = redact(line.strip(), secrets)
            if not text:
                continue
            session.stderr.append(text)
            session.logged += 1
            if session.logged <= STDERR_LOG_MAX:
                log.warning("output %s: ffmpeg: %s", self.name, text)
            elif session.logged == STDERR_LOG_MAX + 1:
                log.warning("output %s: further ffmpeg messages not logged", self.name)

    async def _watchdog(self, proc: trio.Process, session: _Session) -> None:
        """End a run that writes nothing: a server that accepted and stopped reading, or a
        connection that never completes."""
        while True:
            await trio.sleep(1.0)
            idle = trio.current_time() - session.last_bytes_at
            if idle >= self.stall_s:
                session.error = f"no data written to the server for {idle:.0f} s"
                with contextlib.suppress(OSError):
                    proc.kill()
                return

    # --- state, metrics, audit, alerts -------------------------------------------------

    def _set_status(self, status: str) -> None:
        self.state.status = status
        if status != "connected":
            self._set_connected(False)

    def _set_connected(self, connected: bool) -> None:
        state = self.state
        if not connected:
            if state.status == "connected":
                state.status = "retrying"
            state.connected_since = None
            state.bitrate_kbps = 0.0
        self._m_connected.set(1 if connected else 0)
        if not connected:
            self._m_uptime.set(0)
            self._m_bitrate.set(0)

    def _down(self, now: datetime) -> None:
        if self.state.down_since is None:
            self.state.down_since = now
            self._alerted = False

    def _connected(self, target: Target) -> None:
        now = self.ch.clock.now()
        state = self.state
        state.status = "connected"
        state.connected_since = now
        state.down_since = None
        self._set_connected(True)
        if self._ever_connected:
            state.reconnects += 1
            self.ch.metrics.output_reconnects.labels(self.name).inc()
        self._ever_connected = True
        log.info("output %s: connected to %s", self.name, target.display)
        self._audit(AuditType.OUTPUT_CONNECTED, {"url": target.display}, reason="")
        if self._alerted:
            self._alerted = False
            self._nudge_alerter("output up")

    def _failed(self, message: str, *, was_connected: bool) -> None:
        now = self.ch.clock.now()
        state = self.state
        state.failures += 1
        state.last_error = message
        state.last_error_at = now
        self.ch.metrics.output_failures.labels(self.name).inc()
        self._set_connected(False)
        self._down(now)
        if was_connected:
            log.warning("output %s: connection lost: %s", self.name, message)
            self._audit(AuditType.OUTPUT_LOST, {"error": message}, reason="OUTPUT_LOST")
        else:
            log.warning("output %s: %s", self.name, message)

    def _audit(self, kind: AuditType, details: dict[str, Any], *, reason: str) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.ch.clock.now(),
                event_type=kind,
                reason_code=reason,
                actor=f"output:{self.name}",
                details={"output": self.name, **details},
            )
        )

    def _nudge_alerter(self, reason: str) -> None:
        if self.ctx is None:
            return
        # The Alerter also evaluates on its own every minute: a full mailbox loses nothing.
        with contextlib.suppress(ActorError, trio.WouldBlock):
            self.ctx.ref("alerter").cast_nowait(EvaluateAlerts(reason=f"{self.name}: {reason}"))


async def _lines(stream: trio.abc.ReceiveStream) -> AsyncIterator[str]:
    """Lines of a child's output (its last, unterminated one included)."""
    pending = b""
    async for chunk in stream:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
        if len(pending) > 65536:  # a line that never ends is not ffmpeg's
            pending = b""
    if pending:
        yield pending.decode("utf-8", "replace")


async def _stop(proc: trio.Process) -> None:
    """Let ffmpeg finish the stream (SIGTERM: it writes its trailer), then make sure."""
    if proc.returncode is None:
        with contextlib.suppress(OSError):
            proc.terminate()
        with trio.move_on_after(STOP_GRACE_S):
            await proc.wait()
        if proc.returncode is None:
            with contextlib.suppress(OSError):
                proc.kill()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            await pipe.aclose()
    await proc.wait()


class Roster(Actor):
    """Ends (normally) when the card's outputs are no longer those ``outputs`` was built with:
    it is ``outputs``' significant child, so the subtree is built again from the card."""

    mailbox_size: ClassVar[int] = 1
    accepts: ClassVar[tuple[type, ...]] = (Ping,)

    def __init__(self, ch: ChannelContext, names: tuple[str, ...]) -> None:
        self.ch = ch
        self.names = names

    async def started(self, ctx: ActorContext) -> None:
        ctx.start_soon(self._watch, ctx)

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, Ping)
        return "pong"

    async def _watch(self, ctx: ActorContext) -> None:
        while True:
            # Looked at first too: a card applied between the subtree's build and this start.
            names = tuple(output_specs(self.ch))
            if names != self.names:
                wait = self._rebuild_wait()
                if wait > 0:
                    log.info(
                        "push outputs changed (%s -> %s): rebuilding in %.0f s (at most %d "
                        "rebuilds in %.0f s)", self.names, names, wait, REBUILD_BURST,
                        REBUILD_WINDOW_S,
                    )  # fmt: skip
                    await trio.sleep(wait)
                    continue  # the card may have changed again (or back) meanwhile
                log.info("push outputs changed (%s -> %s): rebuilding", self.names, names)
                self.ch.outputs.rebuilt_at.append(trio.current_time())
                ctx.stop()
                return
            await self.ch.card_applied()

    def _rebuild_wait(self) -> float:
        """Seconds until one more rebuild keeps within REBUILD_BURST per REBUILD_WINDOW_S."""
        done = self.ch.outputs.rebuilt_at
        now = trio.current_time()
        while done and done[0] <= now - REBUILD_WINDOW_S:
            done.popleft()
        if len(done) < REBUILD_BURST:
            return 0.0
        return done[0] + REBUILD_WINDOW_S - now


def outputs_supervisor(ch: ChannelContext) -> Supervisor:
    """``outputs``: a Pusher per output of the card in force, and the roster that has the
    subtree built again when the card's outputs change."""
    names = tuple(output_specs(ch))
    for gone in set(ch.outputs.names()) - set(names):
        _forget_metrics(ch, gone)
    for name in names:
        ch.outputs.state(name)  # listed on /v1/outputs before its actor is up
    ch.outputs.keep(list(names))
    children = [
        ChildSpec(
            "outputs.roster",
            lambda: Roster(ch, names),
            restart=Restart.TRANSIENT,
            significant=True,
        )
    ]
    children += [ChildSpec(f"output:{name}", _pusher(ch, name)) for name in names]
    return Supervisor(
        "outputs",
        children,
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=5,
        within_seconds=60.0,
        auto_shutdown=True,
    )


def _forget_metrics(ch: ChannelContext, name: str) -> None:
    """An output removed from the card leaves ``/metrics`` too."""
    m = ch.metrics
    labelled: list[tuple[Gauge | Counter, tuple[str, ...]]] = [
        (metric, (name,))
        for metric in (
            m.output_connected, m.output_bitrate, m.output_uptime, m.output_reconnects,
            m.output_failures, m.output_bytes,
        )
    ]  # fmt: skip
    labelled += [(m.output_segments, (name, o)) for o in ("sent", "skipped", "dropped")]
    for metric, labels in labelled:
        with contextlib.suppress(KeyError):
            metric.remove(*labels)


def _pusher(ch: ChannelContext, name: str) -> Any:
    return lambda: Pusher(ch, name)
