"""Disk full during a prepare: a clean failure, the slot falls back, nothing half-made.

The channel runs in this Trio run in real time (ffmpeg really prepares the clips) with
the real media layer, except that the device "fills up" under one prepare: once the
prepare's hidden work dir holds output, ``ENOSPC`` is raised from it, exactly as a
write would raise it, and the running ffmpeg is cancelled with the prepare.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from actors.daemon import boot
from tests.proof.chaos_inprocess import Hosted, channel_settings
from tests.support.media import make_clip
from tests.support.waiting import wait_until
from vvtv.core.audit import AuditType
from vvtv.media.port import FfmpegMedia
from vvtv.media.prepare import Prepared
from vvtv.ownercard.card import OwnerCard


class DiskFullMedia(FfmpegMedia):
    """The real media layer on a device that fills up during the first prepare."""

    def __init__(self) -> None:
        self.failed_asset: str | None = None
        self.partial_seen: list[Path] = []

    async def prepare(
        self, source: Path, hls_root: Path, asset_id: str, card: OwnerCard
    ) -> Prepared:
        if self.failed_asset is not None:
            return await super().prepare(source, hls_root, asset_id, card)
        self.failed_asset = asset_id
        finished = trio.Event()

        async def real_prepare() -> None:
            await super(DiskFullMedia, self).prepare(source, hls_root, asset_id, card)
            finished.set()

        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(real_prepare)
                # The work dir exists from the prepare's start; ffmpeg is writing into it.
                while not (work := list(hls_root.glob(f".tmp-{asset_id}*"))):
                    assert not finished.is_set(), "the prepare finished before the disk filled"
                    await trio.sleep(0.005)
                self.partial_seen = work
                scope.cancel()
        raise OSError(errno.ENOSPC, "No space left on device", str(work[0]))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("diskfull-library")
    for n, tone in enumerate((300, 400, 500, 600, 700, 800)):
        make_clip(folder / f"clip{n}.mp4", seconds=8.0, tone_hz=tone, gop=50)
    yield folder


async def test_disk_full_during_prepare_fails_cleanly_leaves_nothing_and_the_slot_falls_back(
    tmp_path: Path, slate: Path, library: Path
) -> None:
    media = DiskFullMedia()
    ch = await boot(channel_settings(tmp_path, slate, library=library), media=media)
    async with trio.open_nursery() as nursery:
        hosted = Hosted(ch).start(nursery)
        await wait_until(
            "the first commit window",
            lambda: ch.store.count_audit(event_type=AuditType.WINDOW_COMMIT),
            within=90,
            step=0.2,
            show=lambda: [
                (e.event_type, e.reason_code, e.details) for e in ch.store.query_audit(limit=None)
            ],
        )
        store = ch.store
        failed = media.failed_asset
        assert failed is not None, "no prepare of the chosen clip ran"
        hls = ch.settings.hls_dir
        assert media.partial_seen, "the device never filled up mid-prepare"

        # Clean failure, with its reason, on the plan it hit.
        (drop,) = store.query_audit(event_type="plan_transition", reason_code="PREPARE_FAILED")
        assert "No space left on device" in drop.details["why"]
        assert drop.details["to"] == "DROPPED"
        # Nothing half-made: no work dir, no published dir, no asset record.
        assert not any(p.exists() for p in media.partial_seen)
        assert not list(hls.glob(f"*{failed}*")), "a partial asset was left behind"
        assert store.get_asset(failed) is None
        # The slot is taken by a reserve when the hour has one, else it is audited as
        # unfilled and the air stays covered (emergency fillers, the slate).
        reserves = store.query_audit(event_type="plan_transition", plan_id=None)
        fell_back = [e for e in reserves if e.details.get("slot_type") == "RESERVE"]
        unfilled = store.query_audit(event_type="slot_unfilled", plan_id=drop.plan_id)
        assert fell_back or [e.reason_code for e in unfilled] == ["NO_RESERVE_LEFT"]
        assert "#EXTINF" in ch.live.playlist, "nothing on air"
        # The rest of the window went on: every other clip was committed.
        outcome = store.query_audit(event_type=AuditType.WINDOW_COMMIT)[0].details
        assert outcome["failed"] == 1 and outcome["queued"] == outcome["selected"] - 1
        await hosted.stop()
        nursery.cancel_scope.cancel()
