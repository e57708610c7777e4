"""Starting and stopping a channel: the daemon's life from boot to exit.

Boot, in order, failing fast with a message that says what to do:
1. settings checked (outside dev, SPEC §4's rules);
2. the state database opened and checked (never a silent fresh one over a bad file);
3. the OwnerCard loaded (a bad file falls back to the last applied version);
4. the slate made (it must exist before anything airs) and, for a demo source,
   the demo library generated;
5. the scheduler lock taken: a second daemon on the same database waits as standby
   and takes over within the lock's TTL when the first one dies;
6. the supervision tree started; SIGTERM/SIGINT stop it gracefully, SIGHUP reloads
   the OwnerCard.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import trio

from actors.context import ChannelContext, Leadership
from actors.tree import build_tree
from supervisors import Runtime
from vvtv.core import offload, tls
from vvtv.core.clock import Clock, TrioClock
from vvtv.core.model import AssetItem, QAReport, QAStatus
from vvtv.core.settings import Settings
from vvtv.media.demo import ensure_demo_library
from vvtv.media.port import FfmpegMedia, MediaPort
from vvtv.media.prepare import Prepared, sweep_partials
from vvtv.media.slate import ensure_slate
from vvtv.observe.metrics import ChannelMetrics, measure_loop_lag
from vvtv.observe.topics import TopicHub
from vvtv.ownercard.holder import OwnerCardHolder
from vvtv.ownercard.load import resolve_source_locations
from vvtv.store import Store, open_store

log = logging.getLogger("vvtv")

LOCK_TTL_S = 30.0
LOCK_RENEW_S = 10.0
STANDBY_POLL_S = 5.0
SLATE_ID = "slate"


class LeadershipLost(RuntimeError):
    """Another daemon took the scheduler lock: this one must stop writing at once."""


class ChannelBusy(RuntimeError):
    """A one-shot run (``--once``) found another vvtv holding the state."""


@attrs.define
class Daemon:
    """A booted channel, ready to run (tests use it to reach into the live parts)."""

    ch: ChannelContext
    runtime: Runtime


def local_zone(name: str, tz: str | None = None) -> ZoneInfo:
    """The card's zone ``name``; else ``tz`` (the TZ variable); else the system's; else UTC."""
    if name:
        return ZoneInfo(name)
    if tz:
        return ZoneInfo(tz)
    try:
        link = Path("/etc/localtime").resolve()
        return ZoneInfo(str(link).split("zoneinfo/", 1)[1])
    except (OSError, IndexError, KeyError, ValueError):
        return ZoneInfo("UTC")


async def boot(
    settings: Settings,
    *,
    clock: Clock | None = None,
    media: MediaPort | None = None,
    run_once: bool = False,
    force_nightly: bool = False,
) -> ChannelContext:
    settings.validate_for_startup()
    clock = clock or TrioClock()
    store: Store = await offload.run_sync(lambda: open_store(settings.state_db, clock=clock))
    await offload.run_sync(tls.client_context)  # built once, off the loop (vvtv/core/tls.py)
    cards, errors = OwnerCardHolder.boot(settings.owner_card_path, store, clock.now())
    for error in errors:
        log.error(
            "OwnerCard %s refused, running the last applied version: %s",
            settings.owner_card_path,
            error,
        )
    card = cards.card
    media = media or FfmpegMedia()
    slate = await ensure_slate(settings.hls_dir, card.channel, card.quality_policy)
    store.save_asset(_slate_asset(slate, clock))
    for source in resolve_source_locations(card, settings.project_root).sources:
        if source.demo:
            await ensure_demo_library(Path(source.location), card.channel)
    return ChannelContext(
        settings=settings,
        clock=clock,
        store=store,
        cards=cards,
        topics=TopicHub(),
        metrics=ChannelMetrics(),
        tz=local_zone(card.schedule_policy.timezone, settings.tz),
        leadership=Leadership(owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"),
        media=media,
        slate_id=SLATE_ID,
        run_once=run_once,
        force_nightly=force_nightly,
        booted_at=clock.now(),
    )


def _slate_asset(slate: Prepared, clock: Clock) -> AssetItem:
    directory = Path(slate.dir)
    return AssetItem(
        asset_id=SLATE_ID,
        plan_id="",
        source_url="generated:slate",
        checksum="",
        local_path=str(directory),
        created_at=clock.now(),
        duration_sec=float(slate.duration_sec),
        qa_status=QAStatus.PASSED,
        qa=QAReport(passed=True),
        segments_dir=str(directory),
        segment_count=len(slate.segments),
        emergency_eligible=False,
    )


async def take_leadership(ch: ChannelContext, *, wait: bool = True) -> None:
    """Wait (standby) until this daemon holds the scheduler lock.

    ``wait=False`` (one-shot runs): raise ``ChannelBusy`` instead of waiting, since a
    running channel only lets go of the lock when it stops.
    """
    lead = ch.leadership
    announced = False
    while True:
        token = ch.store.acquire_lock(lead.name, lead.owner, ch.clock.now(), ttl=LOCK_TTL_S)
        if token is not None:
            lead.token = token
            log.info("scheduler lock taken (fencing token %s)", token)
            return
        info = ch.store.lock_info(lead.name)
        if info is not None and info.owner is not None and _holder_died_here(info.owner):
            # A restart after a crash (SIGKILL, OOM) on this machine: the holder is gone, so
            # waiting out the TTL would only keep the channel off air for up to 30 s.
            log.warning("scheduler lock holder %s is no longer running; taking over", info.owner)
            ch.store.release_lock(lead.name, info.owner, info.token)
            continue
        if not wait:
            holder = info.owner if info is not None else "another process"
            raise ChannelBusy(
                f"another vvtv ({holder}) is running on this state database; a one-shot run "
                "cannot take over a running channel. Its own windows run on time (the nightly "
                "job at 03:00): stop it first (systemctl stop vvtv) if this must run now"
            )
        if not announced:
            log.warning("standby: another vvtv holds the state (%s); waiting to take over", info)
            announced = True
        await trio.sleep(STANDBY_POLL_S)


def _holder_died_here(owner: str) -> bool:
    """Whether a lock owner (``host:pid:nonce``) ran on this machine and its process is gone.

    A pid reused by another process reads as alive: then the TTL decides, as for a holder
    on another machine.
    """
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


async def keep_leadership(ch: ChannelContext) -> None:
    lead = ch.leadership
    assert lead.token is not None
    while True:
        await trio.sleep(LOCK_RENEW_S)
        if not ch.store.renew_lock(
            lead.name, lead.owner, lead.token, ch.clock.now(), ttl=LOCK_TTL_S
        ):
            raise LeadershipLost(
                f"the scheduler lock was taken over by another daemon; {lead.owner} stops"
            )


async def _reload_on_sighup(ch: ChannelContext) -> None:
    with trio.open_signal_receiver(signal.SIGHUP) as signals:
        async for _ in signals:
            result = ch.reload_card(who="SIGHUP")
            if result.ok:
                log.info("OwnerCard reloaded (%d changes)", len(result.diff))
            else:
                log.error("OwnerCard reload refused: %s", "; ".join(result.errors))


CARD_POLL_S = 5.0


async def watch_card_file(ch: ChannelContext, interval: float = CARD_POLL_S) -> None:
    """Apply the OwnerCard when its file changes (SPEC §2: API, SIGHUP or file change).

    Polls the file's mtime and size: cheap, and it works on every filesystem and editor
    (atomic renames included). A change is validated like any reload; an invalid file is
    refused, audited once, and the card in force stays until the file changes again.
    """
    path = Path(ch.settings.owner_card_path)
    seen = _file_stamp(path)
    while True:
        await trio.sleep(interval)
        stamp = _file_stamp(path)
        if stamp == seen or stamp is None:
            continue
        seen = stamp
        result = ch.reload_card(who="file-change")
        if result.ok:
            log.info("OwnerCard file changed: reloaded (%d changes)", len(result.diff))
        else:
            log.error("OwnerCard file changed but was refused: %s", "; ".join(result.errors))


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:  # being replaced, or removed: keep the card in force
        return None
    return info.st_mtime_ns, info.st_size


async def run(
    ch: ChannelContext,
    *,
    signals: bool = True,
    loop_lag_interval: float = 0.5,
    task_status: trio.TaskStatus[Daemon] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run a booted channel until it is stopped; the exit code.

    ``signals``: handle SIGTERM/SIGINT/SIGHUP and watch the OwnerCard file, what an
    operator does to a running daemon (in-process tests and simulations run without).

    ``loop_lag_interval``: how often the event-loop lag is sampled. Under a mock clock
    the lag is meaningless and each sample is a wake-up: simulations sample rarely."""
    await take_leadership(ch, wait=not ch.run_once)
    # Only the leader may sweep: a standby would pull a running prepare's work dir away.
    swept = await offload.run_sync(sweep_partials, ch.settings.hls_dir)
    if swept:
        log.warning("removed %d partial asset dirs a crash left behind", len(swept))
    runtime = Runtime(
        build_tree(ch),
        metrics_registry=ch.metrics.registry,
        wall_clock=lambda: ch.clock.now().timestamp(),
    )
    pid_file = ch.settings.pid_file
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_leadership, ch)
            nursery.start_soon(measure_loop_lag, ch.metrics, loop_lag_interval)
            if signals:
                await nursery.start(runtime.serve_signals)
                nursery.start_soon(_reload_on_sighup, ch)
                nursery.start_soon(watch_card_file, ch)

            async def supervise(task_status: trio.TaskStatus[None]) -> None:
                try:
                    await runtime.run(task_status=task_status)
                finally:
                    nursery.cancel_scope.cancel()

            await nursery.start(supervise)
            task_status.started(Daemon(ch, runtime))
    finally:
        pid_file.unlink(missing_ok=True)
        lead = ch.leadership
        if lead.token is not None:
            ch.store.release_lock(lead.name, lead.owner, lead.token)
        ch.store.close()
    return ch.exit_code


async def run_channel(
    settings: Settings, *, run_once: bool = False, force_nightly: bool = False
) -> int:
    ch = await boot(settings, run_once=run_once, force_nightly=force_nightly)
    return await run(ch)


__all__ = ["Daemon", "LeadershipLost", "boot", "run", "run_channel"]
