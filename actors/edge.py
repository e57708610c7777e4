"""The edge: the HLS publisher and the command agent (cloud/worker, SPEC §10).

The channel machine only ever connects outwards to the edge (cloud/worker/PROTOCOL.md):
it uploads the live stream once, whatever the audience, and it fetches the operator's
relayed commands. Two actors under the ``edge`` supervisor (``one_for_one``: a failing
agent never stops the stream's upload, and neither touches the pipeline).

``EdgePublisher``
  Owns: what it believes the edge holds (``vvtv.edge.hls.EdgeHls``), the shared
  ``PublisherHealth`` behind EDGE_LAGGING.
  Wakes: when the Buffer publishes a new live window (``LiveView.watch``), and at least
  every ``IDLE_S``.
  Sends: every new segment of the window once (signed PUT), then the playlist that lists
  only stored segments, numbered as the origin numbers them; always the newest window, so
  after an outage it skips ahead instead of replaying what viewers missed. Failures back
  off by ``EDGE_RETRY`` (the one retry policy). Also ``PublishStatus`` to cloudsync when
  what is on air or next changes (the edge's status page is only as fresh as its
  ingests), and ``EvaluateAlerts`` to the Alerter when the lag crosses the limit.

``EdgeAgent``
  Long-polls ``GET /v1/agent/commands`` and applies each command through
  ``vvtv.web.control.apply_control``, the code behind the daemon's own signed control
  routes, at most once: the command's id is claimed in the state database before it is
  applied (``Store.claim_command``), so a command handed out again after a restart or a
  SIGKILL between apply and ack is never applied twice; its recorded result is posted
  instead. A command past its deadline (received time + the edge's ``expires_in_s``) is
  recorded and never applied. Every step is audited (``edge_command``), and the control
  call itself is audited as any local one, ``who`` naming the edge and the command.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import httpx
import trio

from actors.api import LivePort
from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError
from vvtv.air.live_playlist import LiveWindow, WindowSegment
from vvtv.core import tls
from vvtv.core.audit import AuditType
from vvtv.core.messages import EvaluateAlerts, Ping, PublishStatus
from vvtv.core.model import AuditEvent, new_id
from vvtv.core.retry import RetryPolicy
from vvtv.edge import hls
from vvtv.edge.client import EdgeAnswer, EdgeClient
from vvtv.edge.commands import (
    REMEMBER_COMMANDS,
    Command,
    Refused,
    read_commands,
    result_document,
)
from vvtv.store.commands import APPLIED, APPLYING, CLAIMED, EXPIRED, SEEN
from vvtv.web.control import ControlReply, apply_control, control_kinds

log = logging.getLogger(__name__)

#: Backoff between failed rounds (publisher) and failed polls (agent): 1, 2, 4 … 30 s, with
#: jitter so channels that lost the same edge do not come back in step.
EDGE_RETRY = RetryPolicy(retries=10, base_s=1.0, cap_s=30.0, jitter=0.2)
IDLE_S = 10.0  # the publisher looks at least this often, even with nothing new
POLL_WAIT_S = 20  # the agent's long poll (the edge answers at once when a command waits)
PRUNE_EVERY_S = 3600.0
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
# What changes the edge's public status: it shows the state, now playing and next.
STATUS_KEYS = ("state",)
ITEM_KEYS = ("title", "start_at", "duration_sec")


class EdgeTrouble(Exception):
    """A publishing round that did not complete; ``resync``: re-read the edge's state."""

    def __init__(self, message: str, *, resync: bool = False) -> None:
        super().__init__(message)
        self.resync = resync


def _client(ch: ChannelContext, http: httpx.AsyncClient) -> EdgeClient:
    settings = ch.settings
    assert settings.cloud_url and settings.cloudflare_token and settings.cloudflare_secret
    return EdgeClient(
        settings.cloud_url,
        settings.cloudflare_token,
        settings.cloudflare_secret,
        http,
        ch.clock,
    )


def _cast_quietly(ctx: ActorContext | None, name: str, msg: object) -> None:
    """Hand something to an optional actor without ever blocking on it."""
    if ctx is None:
        return
    with contextlib.suppress(ActorError, trio.WouldBlock):
        ctx.ref(name).cast_nowait(msg)


class EdgePublisher(Actor):
    mailbox_size: ClassVar[int] = 4
    accepts: ClassVar[tuple[type, ...]] = (Ping,)

    def __init__(
        self,
        ch: ChannelContext,
        health: hls.PublisherHealth,
        *,
        client_factory: Callable[[], httpx.AsyncClient] = tls.client,
        retry: RetryPolicy = EDGE_RETRY,
    ) -> None:
        self.ch = ch
        self.health = health
        self.client_factory = client_factory
        self.retry = retry
        self.ctx: ActorContext | None = None
        self.held: hls.EdgeHls | None = None  # None: read the edge's state first
        self._wake = trio.Event()
        self._shown: tuple[Any, ...] | None = None  # the now/next last sent as status
        self._lagging = False
        self._master_sent = ""  # the master playlist the edge holds, as far as we know

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        ctx.start_soon(self._run)

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, Ping)
        return "pong"

    # --- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        stop_watching = self.ch.live.watch(self._changed)
        failures = 0
        try:
            async with self.client_factory() as http:
                client = _client(self.ch, http)
                while True:
                    self._follow_status()
                    window = self.ch.live.window
                    if window is not None and window.segments:
                        self.health.saw_origin(hls.end_sequence(window))
                    pause = IDLE_S
                    if self.ch.settings.edge_hls and window is not None and window.segments:
                        try:
                            await self.publish(client, window)
                            failures = 0
                        except EdgeTrouble as trouble:
                            failures += 1
                            self._failed(str(trouble), resync=trouble.resync)
                            pause = self.retry.delay(failures - 1)
                    self._check_lag()
                    await self._sleep(pause, wake_early=failures == 0)
        finally:
            stop_watching()

    def _changed(self) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float, *, wake_early: bool) -> None:
        """Until the next window (or ``seconds``); a backoff is never cut short."""
        if wake_early:
            with trio.move_on_after(seconds):
                await self._wake.wait()
        else:
            await trio.sleep(seconds)
        self._wake = trio.Event()

    def _failed(self, error: str, *, resync: bool) -> None:
        log.warning("edge publishing failed: %s", error)
        self.health.failed(error)
        self.ch.metrics.edge_failures.labels("hls").inc()
        if resync:
            self.held = None

    # --- publishing --------------------------------------------------------------------

    async def publish(self, client: EdgeClient, window: LiveWindow) -> None:
        """Bring the edge to ``window``: its missing segments, then its playlist."""
        if self.held is None:
            self.held = await self._read_edge(client)
        held = self.held
        if hls.behind_origin(window, held):
            await self._reset(client, window, held)
        if held.end_sequence is not None and hls.end_sequence(window) <= held.end_sequence:
            self.health.accepted(held.end_sequence, self.ch.clock.now())
            return
        if held.media_sequence is not None:
            trimmed = hls.from_sequence(window, held.media_sequence)
            if trimmed is None:
                return
            window = trimmed
        for attempt in (1, 2):
            for segment in hls.missing(window, held):
                await self._upload(client, held, segment)
            answer = await self._put_playlist(client, window, held)
            if answer.ok:
                self.health.accepted(hls.end_sequence(window), self.ch.clock.now())
                self.ch.metrics.edge_playlists.inc()
                # Believed held only once the rungs are too: a round that fails on a rung
                # puts the same main window again (the edge takes it) and retries them.
                rungs = await self._publish_rungs(client, window, held)
                held.accepted(window, *rungs)
                return
            missing = answer.field("missing")
            if answer.status == 409 and isinstance(missing, list) and attempt == 1:
                # Deleted at the edge since we stored them (a long pause): upload again.
                held.forget(str(m) for m in missing)
                continue
            if answer.status == 409:
                raise EdgeTrouble(f"playlist refused: {answer.error}", resync=True)
            if (
                answer.status is not None
                and 400 <= answer.status < 500
                and answer.status
                not in (
                    401,
                    408,
                    425,
                    429,
                )
            ):
                self._audit(
                    AuditType.EDGE_PLAYLIST_REFUSED,
                    {"status": answer.status, "error": answer.error},
                )
            raise EdgeTrouble(f"playlist upload: {answer.error}")

    async def _publish_rungs(
        self, client: EdgeClient, window: LiveWindow, held: hls.EdgeHls
    ) -> list[LiveWindow]:
        """The lower rungs (``channel.renditions``) of the window the edge just took: each
        one's missing segments, then its playlist; then the master playlist when it changed
        (with no rung: the main rendition alone).
        Numbered like the main window (the same media sequence, trimmed alike)."""
        live = self.ch.live
        done = []
        for name, rung in sorted(live.rungs.items()):
            rung_window = hls.from_sequence(rung.window, window.media_sequence)
            if rung_window is None:
                continue
            for attempt in (1, 2):
                for segment in hls.missing(rung_window, held):
                    await self._upload(client, held, segment)
                text = hls.playlist(rung_window, live.target_duration, held.names)
                answer = await client.call(
                    "PUT", f"/v1/ingest/hls/{name}.m3u8", text.encode(), content_type=PLAYLIST_TYPE
                )
                if answer.ok:
                    done.append(rung_window)
                    break
                missing = answer.field("missing")
                if answer.status == 409 and isinstance(missing, list) and attempt == 1:
                    held.forget(str(m) for m in missing)
                    continue
                raise EdgeTrouble(f"{name} playlist upload: {answer.error}")
        # Also with no rung (the main rendition alone): a rung the card dropped must leave
        # the edge's master too, or its viewers would stay on a playlist that stopped.
        if live.master and live.master != self._master_sent:
            body = live.master.encode()
            answer = await client.call(
                "PUT", "/v1/ingest/hls/master.m3u8", body, content_type=PLAYLIST_TYPE
            )
            if not answer.ok:
                raise EdgeTrouble(f"master playlist upload: {answer.error}")
            self._master_sent = live.master
        return done

    async def _read_edge(self, client: EdgeClient) -> hls.EdgeHls:
        answer = await client.call("GET", "/v1/ingest/hls")
        if not answer.ok:
            raise EdgeTrouble(f"reading the edge's HLS state: {answer.error}")
        try:
            return hls.EdgeHls.from_edge(answer.body)
        except ValueError as exc:
            raise EdgeTrouble(str(exc)) from None

    async def _reset(self, client: EdgeClient, window: LiveWindow, held: hls.EdgeHls) -> None:
        """The edge holds a later window than the origin has: the origin's numbering went
        back (its state was restored). Make the edge forget its playlist, then go on."""
        answer = await client.call("DELETE", "/v1/ingest/hls/index.m3u8")
        if not answer.ok:
            raise EdgeTrouble(f"resetting the edge's playlist: {answer.error}")
        self._audit(
            AuditType.EDGE_HLS_RESET,
            {
                "edge_end_sequence": held.end_sequence,
                "origin_end_sequence": hls.end_sequence(window),
            },
        )
        held.media_sequence = held.discontinuity_sequence = held.end_sequence = None
        self.health.edge_end = None
        self.health.since_end = hls.end_sequence(window)

    async def _upload(self, client: EdgeClient, held: hls.EdgeHls, segment: WindowSegment) -> None:
        path = self.ch.live.segment_path(segment.asset_id, segment.name)
        if path is None:
            raise EdgeTrouble(f"segment {segment.asset_id}/{segment.name} is not on disk")
        data = await trio.Path(path).read_bytes()
        name = held.edge_name(segment)
        if not hls.publishable(segment.asset_id):
            raise EdgeTrouble(f"asset id {segment.asset_id!r} is not one the edge accepts")
        if not hls.EDGE_SEGMENT_NAME.fullmatch(name):
            name = hls.content_name(segment.name, data)
            held.names[(segment.asset_id, segment.name)] = name
        answer = await self._put_segment(client, segment.asset_id, name, data)
        if answer.status == 409 and name == segment.name:
            # Stored under this name with other bytes (names are immutable at the edge).
            name = hls.content_name(segment.name, data)
            held.names[(segment.asset_id, segment.name)] = name
            answer = await self._put_segment(client, segment.asset_id, name, data)
        if not answer.ok:
            raise EdgeTrouble(f"segment {segment.asset_id}/{name}: {answer.error}")
        held.stored.add(hls.ref(segment.asset_id, name))

    async def _put_segment(
        self, client: EdgeClient, asset_id: str, name: str, data: bytes
    ) -> EdgeAnswer:
        answer = await client.call(
            "PUT", f"/v1/ingest/hls/seg/{asset_id}/{name}", data, content_type=SEGMENT_TYPE
        )
        if answer.status == 201:
            self.ch.metrics.edge_segments_uploaded.inc()
            self.ch.metrics.edge_bytes_uploaded.inc(len(data))
        return answer

    async def _put_playlist(
        self, client: EdgeClient, window: LiveWindow, held: hls.EdgeHls
    ) -> EdgeAnswer:
        text = hls.playlist(window, self.ch.live.target_duration, held.names).encode()
        answer = await client.call(
            "PUT", "/v1/ingest/hls/index.m3u8", text, content_type=PLAYLIST_TYPE
        )
        if answer.ok:
            self.ch.metrics.edge_bytes_uploaded.inc(len(text))
        return answer

    # --- lag and status ------------------------------------------------------------------

    def _check_lag(self) -> None:
        lag = self.health.lag()
        self.ch.metrics.edge_lag_segments.set(lag or 0)
        lagging = lag is not None and lag > self.ch.settings.edge_lag_segments
        if lagging != self._lagging:
            # The Alerter looks every minute; a lag that starts or ends is worth a look now.
            self._lagging = lagging
            _cast_quietly(self.ctx, "alerter", EvaluateAlerts(reason="edge lag"))

    def _follow_status(self) -> None:
        """Send the status to the edge when the state, now playing or next changed."""
        status = self.ch.topics["buffer"].latest
        if not isinstance(status, dict):
            return
        shown = _what_viewers_see(status)
        if shown == self._shown:
            return
        self._shown = shown
        snapshot = {
            "at": self.ch.clock.now().isoformat(),
            "status": status,
            "metrics": self.ch.pipeline_metrics(),
        }
        _cast_quietly(self.ctx, "cloudsync", PublishStatus(snapshot))

    def _audit(self, event_type: AuditType, details: dict[str, Any]) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.ch.clock.now(),
                event_type=event_type,
                actor="edge",
                details=details,
            )
        )


def _what_viewers_see(status: dict[str, Any]) -> tuple[Any, ...]:
    def item(value: Any) -> tuple[Any, ...] | None:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        return tuple(value.get(k) for k in ITEM_KEYS)

    return (
        *(status.get(k) for k in STATUS_KEYS),
        item(status.get("now_playing")),
        item(status.get("next")),
    )


class EdgeAgent(Actor):
    mailbox_size: ClassVar[int] = 4
    accepts: ClassVar[tuple[type, ...]] = (Ping,)

    def __init__(
        self,
        ch: ChannelContext,
        *,
        client_factory: Callable[[], httpx.AsyncClient] = tls.client,
        retry: RetryPolicy = EDGE_RETRY,
        wait_s: int = POLL_WAIT_S,
    ) -> None:
        self.ch = ch
        self.client_factory = client_factory
        self.retry = retry
        self.wait_s = wait_s
        self.port: LivePort | None = None
        self._next_prune = 0.0

    async def started(self, ctx: ActorContext) -> None:
        self.port = LivePort(self.ch, ctx.runtime)
        ctx.start_soon(self._run)

    async def handle(self, msg: object) -> object:
        assert isinstance(msg, Ping)
        return "pong"

    async def _run(self) -> None:
        failures = 0  # polls in a row that failed or answered in a shape we cannot read
        unreadable = 0  # of which answers in a shape we cannot read
        async with self.client_factory() as http:
            client = _client(self.ch, http)
            while True:
                self._prune()
                answer = await client.call(
                    "GET",
                    "/v1/agent/commands",
                    query={"wait": self.wait_s},
                    timeout=self.wait_s + 15.0,
                )
                received = self.ch.clock.now()
                if not answer.ok:
                    failures += 1
                    self.ch.metrics.edge_failures.labels("agent").inc()
                    log.warning("edge agent: polling for commands failed: %s", answer.error)
                    await trio.sleep(self.retry.delay(failures - 1))
                    continue
                try:
                    commands, refused = read_commands(answer.body, control_kinds())
                except ValueError as exc:
                    # A broken edge (or something answering in its place) answers at once:
                    # back off as from a failure, and audit the first answer of a streak only,
                    # not one a second into the audit trail.
                    failures += 1
                    unreadable += 1
                    self.ch.metrics.edge_failures.labels("agent").inc()
                    log.warning("edge agent: unreadable answer to a poll: %s", exc)
                    if unreadable == 1:
                        self._audit(
                            AuditType.EDGE_ANSWER_REFUSED,
                            "EDGE_ANSWER_INVALID",
                            {"error": str(exc)},
                        )
                    await trio.sleep(self.retry.delay(failures - 1))
                    continue
                failures = unreadable = 0
                reported = True
                for bad in refused:
                    reported &= await self._refuse(client, bad)
                for command in commands:
                    reported &= await self.handle_command(client, command, received)
                if not reported:
                    # The edge hands out a command until its result is recorded: without a
                    # pause the next poll would answer at once, again and again.
                    failures += 1
                    await trio.sleep(self.retry.delay(failures - 1))

    async def _refuse(self, client: EdgeClient, bad: Refused) -> bool:
        """A command this channel cannot read: audited, and answered when it has an id (so
        the edge stops handing it out). False when the answer could not be posted."""
        self.ch.metrics.edge_commands.labels("refused").inc()
        self._audit(
            AuditType.EDGE_COMMAND,
            "EDGE_COMMAND_INVALID",
            {"command_id": bad.id, "outcome": "refused", "error": bad.reason},
        )
        if bad.id is None:
            return True
        reply = ControlReply(422, {"error": f"the channel refused this command: {bad.reason}"})
        return await self._report(client, bad.id, reply)

    async def handle_command(
        self, client: EdgeClient, command: Command, received: datetime
    ) -> bool:
        """Apply ``command`` unless it was handled before or its deadline passed; then post
        its result (again, if it was handled before). False when the result could not be
        posted (the edge hands the command out again, and it is reported then)."""
        store = self.ch.store
        outcome, record = store.claim_command(
            command.id, command.kind, self.ch.clock.now(), command.deadline(received)
        )
        base = {"command_id": command.id, "kind": command.kind, "deliveries": command.deliveries}
        if outcome == EXPIRED:
            self.ch.metrics.edge_commands.labels("expired").inc()
            self._audit(
                AuditType.EDGE_COMMAND, "EDGE_COMMAND_EXPIRED", {**base, "outcome": "expired"}
            )
            return True
        if outcome == CLAIMED:
            reply = await self._apply(command)
            store.finish_command(command.id, reply.status, reply.body, self.ch.clock.now())
            self.ch.metrics.edge_commands.labels("applied").inc()
            self._audit(
                AuditType.EDGE_COMMAND, "", {**base, "outcome": "applied", "status": reply.status}
            )
        else:
            assert outcome == SEEN
            self.ch.metrics.edge_commands.labels("repeated").inc()
            if record.state == EXPIRED:
                return True
            if record.state == APPLIED and record.status is not None:
                reply = ControlReply(record.status, record.result or {})
            else:
                assert record.state == APPLYING
                # Claimed, never finished: the daemon stopped while applying it. Whether it
                # took effect is unknown; applying it again could do it twice. Say so.
                reply = ControlReply(
                    500,
                    {
                        "error": "the channel stopped while applying this command; whether it "
                        "took effect is unknown (it is never applied twice): read the "
                        "channel's status, and send a new command if needed"
                    },
                )
                store.finish_command(command.id, reply.status, reply.body, self.ch.clock.now())
            self._audit(
                AuditType.EDGE_COMMAND, "", {**base, "outcome": "repeated", "status": reply.status}
            )
        return await self._report(client, command.id, reply)

    async def _apply(self, command: Command) -> ControlReply:
        assert self.port is not None
        who = f"edge:{command.id}"
        try:
            return await apply_control(self.port, command.kind, command.body, who)
        except Exception as exc:  # the channel could not act (the Buffer down): say so
            log.warning("edge command %s (%s) failed: %r", command.id, command.kind, exc)
            return ControlReply(503, {"error": f"the channel could not apply it: {exc}"})

    async def _report(self, client: EdgeClient, command_id: str, reply: ControlReply) -> bool:
        answer = await client.call(
            "POST",
            f"/v1/agent/commands/{command_id}/result",
            result_document(reply.status, reply.body),
            idempotent=True,  # the same result again is a no-op at the edge
        )
        if answer.ok or answer.status in (404, 409):
            # 409: the edge has a result already; 404: it forgot the command. Either way
            # there is nothing more to tell it.
            self.ch.store.mark_command_reported(command_id, self.ch.clock.now())
            return True
        # Not recorded: the edge hands the command out again, and it is reported again then.
        self.ch.metrics.edge_failures.labels("agent").inc()
        log.warning("edge agent: posting the result of %s failed: %s", command_id, answer.error)
        return False

    def _prune(self) -> None:
        now_s = trio.current_time()
        if now_s < self._next_prune:
            return
        self._next_prune = now_s + PRUNE_EVERY_S
        self.ch.store.prune_commands(self.ch.clock.now() - REMEMBER_COMMANDS)

    def _audit(self, event_type: AuditType, reason: str, details: dict[str, Any]) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.ch.clock.now(),
                event_type=event_type,
                reason_code=reason,
                actor="edge",
                details=details,
            )
        )
