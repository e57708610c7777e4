"""The Buffer bounds disk use (``Buffer._prune``, every 10 minutes): prepared assets that
aired and left the live window are deleted from disk and leave the emergency pool, while
what is on the timeline, the slate and the newest 40 pool assets stay. Simulated time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import trio
import trio.testing

from actors.buffer import POOL_KEEP
from tests.daemon.harness import looped_asset, running_channel
from vvtv.core.clock import utc
from vvtv.core.messages import AssetReady
from vvtv.core.settings import Settings

EPOCH = utc(2026, 3, 2, 12)


async def test_aired_assets_outside_the_kept_pool_are_removed_and_the_rest_stays(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        two_days_ago = EPOCH - timedelta(days=2)

        def prepared(asset_id: str, seconds: float, *, old: bool):
            asset = looped_asset(ch, asset_id, seconds)
            if old:
                asset = attrs.evolve(asset, created_at=two_days_ago)
                ch.store.save_asset(asset)
            return asset

        # Three short old programmes that air first, then an old hour-long one that is
        # still on the timeline when the pruner runs; 40 newer assets form the pool.
        aired = [prepared(f"aired{i}", 60, old=True) for i in range(3)]
        on_air = prepared("longrun", 3600, old=True)
        fresh = [prepared(f"fresh{i:02d}", 60, old=False) for i in range(POOL_KEEP)]
        for asset in [*aired, on_air]:
            await daemon.runtime.ref("buffer").cast(
                AssetReady(asset.asset_id, None, asset.asset_id, "", asset.duration_sec, None)
            )
        for asset in [*aired, on_air, *fresh]:
            assert Path(asset.segments_dir).is_dir()

        await trio.sleep(11 * 60)  # all three aired and left the window; a prune ran

        finished = {
            e.asset_id for e in ch.store.query_audit(event_type="aired_finished", limit=None)
        }
        assert {a.asset_id for a in aired} <= finished
        assert ch.topics["buffer"].latest["now_playing"]["asset_id"] == "longrun"

        for asset in aired:
            assert not Path(asset.segments_dir).exists(), asset.asset_id
            stored = ch.store.get_asset(asset.asset_id)
            assert stored is not None and stored.emergency_eligible is False
        pool = {a.asset_id for a in ch.store.emergency_pool()}
        assert not pool & {a.asset_id for a in aired}

        # Kept: the programme on the timeline, the newest pool, the slate's own segments.
        assert (Path(on_air.segments_dir) / "index.m3u8").is_file()
        for asset in fresh:
            assert (Path(asset.segments_dir) / "index.m3u8").is_file(), asset.asset_id
        assert {a.asset_id for a in fresh} <= pool
        slate = ch.store.get_asset(ch.slate_id)
        assert slate is not None
        assert (Path(slate.segments_dir) / "index.m3u8").is_file()
        assert list(Path(slate.segments_dir).glob("seg_*.ts"))

        # And the stream went on from the kept files.
        await trio.sleep(30)
        assert "longrun" in ch.live.playlist
