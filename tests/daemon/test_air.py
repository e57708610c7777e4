"""The channel on air, in simulated time: never off air, emergency in and out, as-run log."""

from __future__ import annotations

from datetime import datetime, timedelta

import trio
import trio.testing

from actors.api import LivePort
from actors.buffer import Buffer
from tests.daemon.harness import looped_asset, make_settings, running_channel
from vvtv.air import status, timeline
from vvtv.core.clock import utc
from vvtv.core.convert import parse_datetime
from vvtv.core.messages import AssetReady, SetEmergencyOverride
from vvtv.core.model import AuditEvent
from vvtv.core.settings import Settings

EPOCH = utc(2026, 3, 2, 12)


async def queue_programmes(daemon, count: int, seconds: float, prefix: str) -> None:
    ch = daemon.ch
    buffer = daemon.runtime.ref("buffer")
    for i in range(count):
        asset = looped_asset(ch, f"{prefix}{i}", seconds)
        await buffer.cast(
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=None,
                title=f"{prefix} {i}",
                theme=f"theme{i % 3}",
                duration_sec=asset.duration_sec,
                planned_start=None,
            )
        )


def actor_failures(tree: dict, name: str) -> int:
    """How many incarnations of actor ``name`` ended with an exception (runtime snapshot)."""
    if tree["name"] == name:
        return tree["failures"]
    return sum(actor_failures(child, name) for child in tree.get("children", ()))


def audit_types(ch) -> list[str]:
    return [e.event_type for e in ch.store.query_audit(limit=None)]


async def test_emergency_enters_below_critical_and_leaves_back_at_target(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        status = ch.topics["buffer"]
        # Nothing to air at boot: the slate covers the air and emergency mode is on.
        await trio.sleep(2)
        assert status.latest["state"] == "EMERGENCY"
        assert status.latest["now_playing"]["fallback_level"] == 3

        await queue_programmes(daemon, 7, 600, "first")  # 70 minutes, above the 60 target
        await trio.sleep(2)
        assert status.latest["state"] == "RUNNING"
        assert status.latest["buffer_minutes"] >= 60

        # The buffer drains with the wall clock; below 20 minutes, emergency again.
        await trio.sleep(49 * 60)
        assert status.latest["state"] == "RUNNING"
        await trio.sleep(3 * 60)
        assert status.latest["state"] == "EMERGENCY"
        assert status.latest["buffer_minutes"] < 20  # ready programming
        assert status.latest["air_covered_minutes"] >= 20  # the pool refilled the air

        await queue_programmes(daemon, 7, 600, "second")
        await trio.sleep(2)
        assert status.latest["state"] == "RUNNING"

        kinds = audit_types(ch)
        assert kinds.count("emergency_entered") == 2
        assert kinds.count("emergency_exited") == 2


async def test_an_asset_with_an_absurd_duration_is_refused_and_the_air_goes_on(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        buffer = daemon.runtime.ref("buffer")
        asset = looped_asset(ch, "bad", 600)
        for duration in (-600.0, 0.0, float("nan"), float("inf")):
            await buffer.cast(
                AssetReady(
                    asset_id=asset.asset_id,
                    plan_id=None,
                    title="bad",
                    theme="t",
                    duration_sec=duration,
                    planned_start=None,
                )
            )
        await trio.sleep(5)
        assert all(e.asset_id != asset.asset_id for e in ch.store.queue_after(EPOCH))
        assert actor_failures(daemon.runtime.snapshot(), "buffer") == 0

        await queue_programmes(daemon, 7, 600, "good")  # still taking content
        await trio.sleep(2)
        assert ch.topics["buffer"].latest["state"] == "RUNNING"


async def test_operator_override_holds_until_released(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        buffer = daemon.runtime.ref("buffer")
        await queue_programmes(daemon, 8, 600, "p")
        await trio.sleep(2)
        assert ch.topics["buffer"].latest["state"] == "RUNNING"

        reply = await buffer.call(SetEmergencyOverride(enabled=True))
        assert reply["state"] == "EMERGENCY" and reply["emergency_override"] is True
        await trio.sleep(600)  # a full buffer does not end an operator's emergency
        assert ch.topics["buffer"].latest["state"] == "EMERGENCY"

        reply = await buffer.call(SetEmergencyOverride(enabled=None))
        assert reply["emergency_override"] is None
        await trio.sleep(2)  # released: the buffer is above target, so it leaves
        assert ch.topics["buffer"].latest["state"] == "RUNNING"


async def test_the_air_is_always_covered_and_the_as_run_log_is_complete(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        await queue_programmes(daemon, 3, 300, "short")
        last_seq = -1
        await trio.sleep(20)  # the window is 3 segments once 3 have aired
        for _ in range(2 * 60 * 6):  # two hours, checked every 10 s of air
            await trio.sleep(10)
            playlist = ch.live.playlist
            assert playlist.startswith("#EXTM3U")
            lines = playlist.splitlines()
            seq = int(
                next(x for x in lines if x.startswith("#EXT-X-MEDIA-SEQUENCE:")).split(":")[1]
            )
            assert seq >= last_seq
            last_seq = seq
            assert sum(1 for x in lines if x.startswith("#EXTINF:")) >= 3
            assert ch.topics["buffer"].latest["now_playing"] is not None

        aired = [e for e in ch.store.query_audit(limit=None) if e.event_type.startswith("aired_")]
        started = [e for e in aired if e.event_type == "aired_started"]
        finished = [e for e in aired if e.event_type == "aired_finished"]
        assert {e.asset_id for e in started} >= {"short0", "short1", "short2", "slate"}
        assert len(finished) >= len(started) - 1  # all but the one on air when we stopped
        # Back to back: each item starts where the previous one finished.
        for before, after in zip(finished, started[1:], strict=False):
            gap = abs((_when(after) - _when(before)).total_seconds())
            assert gap < 1.5


def _when(event: AuditEvent) -> datetime:
    return parse_datetime(event.details["at"])


async def test_the_live_sequence_continues_across_a_restart(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        await queue_programmes(daemon, 2, 600, "r")
        await trio.sleep(300)
        before = _sequence(daemon.ch.live.playlist)
        entries_before = daemon.ch.store.queue_after(daemon.ch.clock.now())
    async with running_channel(settings, epoch=EPOCH + timedelta(seconds=310)) as daemon:
        await trio.sleep(2)
        after = _sequence(daemon.ch.live.playlist)
        entries_after = daemon.ch.store.queue_after(daemon.ch.clock.now())
    assert after >= before
    planned = {e.entry_id for e in entries_before if e.asset_id.startswith("r")}
    assert planned <= {e.entry_id for e in entries_after}


def _sequence(playlist: str) -> int:
    line = next(x for x in playlist.splitlines() if x.startswith("#EXT-X-MEDIA-SEQUENCE:"))
    return int(line.split(":")[1])


def _buffer_actor(daemon):
    node = daemon.runtime.node("buffer")
    assert node.cell is not None and node.cell.actor is not None
    return node.cell.actor


async def test_the_emergency_pool_is_reloaded_when_an_asset_is_saved_and_not_otherwise(
    settings: Settings, autojump_clock: trio.testing.MockClock, monkeypatch
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        loads = 0
        pool_query = ch.store.emergency_pool

        def counted(*args, **kwargs):
            nonlocal loads
            loads += 1
            return pool_query(*args, **kwargs)

        monkeypatch.setattr(ch.store, "emergency_pool", counted)
        await queue_programmes(daemon, 3, 600, "p")
        await trio.sleep(90)  # the saves above are picked up at the next minute
        assert {"p0", "p1", "p2"} <= {a.asset_id for a in _buffer_actor(daemon).pool}
        # Inside the first programme nothing writes an asset: five minutes, no reload.
        loads = 0
        await trio.sleep(300)
        assert loads == 0

        looped_asset(ch, "fresh", 300)
        await trio.sleep(61)
        assert loads == 1
        assert "fresh" in {a.asset_id for a in _buffer_actor(daemon).pool}
        # No plan and no source file name: "Rerun", never the internal asset id.
        assert _buffer_actor(daemon).pool_titles["fresh"] == "Rerun"


async def test_the_published_status_and_queue_view_are_never_stale(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    """After every tick, whatever changed (time passing, items ending, new content, an
    override), the buffer topic and the queue view say what a fresh computation says."""
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        buffer = _buffer_actor(daemon)
        await queue_programmes(daemon, 3, 200, "a")

        def check() -> None:
            buffer.tick()  # synchronous: the clock does not move until the next await
            now = ch.clock.now()
            published = ch.topics["buffer"].latest
            buffer._frame = None  # the status worked out from scratch, not moved on
            assert published == buffer.status()
            assert ch.queue_view == [
                status.ItemView.of(e).to_dict() for e in timeline.ahead(buffer.entries, now)
            ]

        await trio.sleep(1)
        check()
        first = ch.queue_view[0]["entry_id"]
        for step in range(60):  # 30 minutes in steps of 29-31 s: items start and end
            await trio.sleep(29 + step % 3)
            check()
            if step == 10:
                await queue_programmes(daemon, 2, 300, "b")
                await trio.sleep(0.01)
                check()
                assert {"b0", "b1"} <= {v["asset_id"] for v in ch.queue_view}
            if step == 20:
                await daemon.runtime.ref("buffer").call(SetEmergencyOverride(enabled=True))
                assert ch.topics["buffer"].latest["state"] == "EMERGENCY"
                check()
        assert first not in {v["entry_id"] for v in ch.queue_view}  # long over


async def test_status_read_between_ticks_is_exact_for_the_moment_it_is_read(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Unwatched, the Buffer publishes at segment boundaries only; /v1/status still says
    where the playhead is at the instant it is asked."""
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        await queue_programmes(daemon, 3, 600, "show")
        await trio.sleep(62.5)  # mid-segment: the last publish was at a boundary
        published = ch.topics["buffer"].latest
        assert parse_datetime(published["timestamp"]) < ch.clock.now()
        read = LivePort(ch, daemon.runtime).status()  # what GET /v1/status serves
        assert parse_datetime(read["timestamp"]) == ch.clock.now()
        playing = read["now_playing"]
        on_air = [e for e in ch.store.queue_after(ch.clock.now()) if e.title == playing["title"]]
        elapsed = (ch.clock.now() - on_air[0].start_at).total_seconds()
        assert abs(playing["elapsed_s"] - elapsed) < 0.01
        assert abs(playing["remaining_s"] - (600 - elapsed)) < 0.01
        assert read["buffer_minutes"] < published["buffer_minutes"]


async def _air_record(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    """Out of emergency, a drain into it mid-item, an override off and its release: the
    Buffer's audit trail
    (ids left out, they are random) and the published state every 20 s."""
    samples: list[tuple] = []
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        buffer = daemon.runtime.ref("buffer")

        async def sample(seconds: float) -> None:
            for _ in range(int(seconds // 20)):
                await trio.sleep(20)
                # A tick due at this instant runs first, whatever order Trio picks.
                await trio.testing.wait_all_tasks_blocked()
                s = ch.topics["buffer"].latest
                playing = (s["now_playing"] or {}).get("title")
                samples.append((s["state"], s["buffer_minutes"], s["air_covered_minutes"], playing))

        await queue_programmes(daemon, 5, 600, "first")
        await sample(40 * 60)  # from 50 minutes down through critical: emergency
        # 52.5 minutes more: back above target now, and down to critical mid-item later.
        await queue_programmes(daemon, 7, 450, "second")
        await sample(60 * 60)
        await buffer.call(SetEmergencyOverride(enabled=False))
        await sample(5 * 60)
        await buffer.call(SetEmergencyOverride(enabled=None))
        await sample(5 * 60)
        events = [
            (e.at, e.event_type, e.reason_code, e.asset_id, sorted(e.details.items()))
            for e in ch.store.query_audit(limit=None)
            if e.actor == "buffer"  # the other actors' order at an instant is Trio's choice
        ]
    clean = [
        (at, kind, reason, asset, [(k, v) for k, v in details if k != "entry_id"])
        for at, kind, reason, asset, details in events
    ]
    return clean, samples


async def test_skipping_the_calm_ticks_changes_nothing_on_air(
    tmp_path, slate_template, autojump_clock: trio.testing.MockClock, monkeypatch
) -> None:
    """The Buffer skips the dead-air check and the emergency step while they cannot act
    (``Buffer._calm``): the same channel with the shortcut off airs and audits the same."""
    with_shortcut = await _air_record(make_settings(tmp_path / "a", slate_template))
    monkeypatch.setattr(Buffer, "_calm", lambda self, now: False)
    without = await _air_record(make_settings(tmp_path / "b", slate_template))
    assert with_shortcut == without
    kinds = [kind for _, kind, *_ in with_shortcut[0]]
    assert kinds.count("emergency_entered") == 3 and kinds.count("emergency_exited") == 2
