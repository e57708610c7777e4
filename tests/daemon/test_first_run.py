"""The first run, in simulated time: the card `vvtv run` uses when nothing is configured
(``Settings().owner_card_path``, the first-run card) and the demo library's real durations
reach RUNNING within three minutes and stay RUNNING, without an alert, for more than an hour.

Everything is the real channel (store, actors, discovery of the demo folder, planning,
commit windows, the Buffer, the Alerter) except the media work, which a model stands in for:
every programme costs ``WORK_PER_SECOND`` seconds of simulated time per second of programme
to fetch, prepare and check, one at a time. That is twice what preparing and checking a demo
programme costs on this 2-core machine (ops/PERFORMANCE.md, "First run"), so the model errs
on the slow side. Rendering the library itself is not modelled: the real run measures it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import trio
import trio.testing

from tests.daemon.harness import running_channel
from tests.proof.instant_media import Announced, InstantMedia
from tests.support.channel import channel_settings
from vvtv.core.clock import utc
from vvtv.core.model import QAReport
from vvtv.core.settings import Settings
from vvtv.media.demo import DEMO_CLIPS, media_files, programme_seconds, sidecar_of
from vvtv.media.prepare import Prepared
from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.load import load_owner_card

REPO = Path(__file__).resolve().parents[2]
EPOCH = utc(2026, 3, 2, 12)
WORK_PER_SECOND = 0.1  # a 15-minute programme: 90 s to fetch, prepare and check
BY_NAME = {c.name: c for c in DEMO_CLIPS}


class DemoLibraryMedia(InstantMedia):
    """Instant media that knows the demo programmes by file name and takes modelled time."""

    def announced(self, url: str) -> Announced:
        stem = Path(unquote(urlsplit(url).path)).stem
        if stem not in BY_NAME:
            raise ValueError(f"{url}: not a demo programme")
        return Announced(programme_seconds(BY_NAME[stem]), "")

    async def prepare(
        self, source: Path, hls_root: Path, asset_id: str, card: OwnerCard
    ) -> Prepared:
        seconds = float(json.loads(source.read_text())["duration_sec"])
        await trio.sleep(seconds * WORK_PER_SECOND * 0.6)  # the remux and the loudness pass
        return await super().prepare(source, hls_root, asset_id, card)

    async def qa(
        self, prepared: Prepared, card: OwnerCard, expected_duration: float | None
    ) -> QAReport:
        await trio.sleep(prepared.duration_sec * WORK_PER_SECOND * 0.4)  # decoding it all
        return await super().qa(prepared, card, expected_duration)


def demo_placeholders(folder: Path) -> None:
    """The demo library's files as the first start leaves them (sidecars, media files),
    with placeholder bytes: the model above knows each programme by its name."""
    folder.mkdir(parents=True, exist_ok=True)
    for clip in DEMO_CLIPS:
        (folder / f"{clip.name}.json").write_text(json.dumps(sidecar_of(clip)))
        (folder / f"{clip.name}.mp4").write_text(f"demo programme {clip.name}")


def first_run_settings(root: Path, slate_template: Path) -> Settings:
    default_card = REPO / Settings.from_env({}).owner_card_path
    assert default_card.name == "owner_card.demo.yaml"
    return channel_settings(root, slate_template, VVTV_OWNER_CARD_PATH=str(default_card))


async def test_the_default_card_and_the_demo_library_run_healthy_for_over_an_hour(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = first_run_settings(tmp_path, slate_template)
    card = load_owner_card(settings.owner_card_path).card
    [source] = card.sources
    assert source.demo
    demo_placeholders(settings.resolve(source.location))
    library_s = sum(programme_seconds(c) for c in DEMO_CLIPS)
    titles = {c.title for c in DEMO_CLIPS}

    start = trio.current_time()
    async with running_channel(settings, epoch=EPOCH, media=DemoLibraryMedia()) as daemon:
        ch = daemon.ch

        def state() -> str:
            return str((ch.topics["buffer"].latest or {}).get("state"))

        def alerts() -> list[dict]:
            return list((ch.topics["alerts"].latest or {}).get("alerts", []))

        while state() != "RUNNING":
            assert trio.current_time() - start < 180, f"not RUNNING 3 min after start: {state()}"
            await trio.sleep(1)
        running_at = trio.current_time() - start

        # RUNNING with no alert, checked every 10 s, for an hour and five minutes.
        seen: set[str] = set()
        while trio.current_time() - start < running_at + 65 * 60:
            assert state() == "RUNNING", f"left RUNNING at {trio.current_time() - start:.0f} s"
            assert alerts() == [], f"alert at {trio.current_time() - start:.0f} s: {alerts()}"
            for item in ch.queue_view:
                assert item["title"] and item["title"] != item["asset_id"], item
                seen.add(item["title"])
            await trio.sleep(10)
        buffer_left = ch.topics["buffer"].latest["buffer_minutes"]

    assert running_at < 180, running_at  # 91 s in this model
    assert seen <= titles | {"Slate"}  # every entry shows its programme's title
    assert titles <= seen  # all eight were on the timeline
    assert library_s == 2 * 3600
    # Still well above the card's critical 5 minutes: the demo lasts into its second hour.
    assert buffer_left > card.schedule_policy.buffer_critical_minutes + 30
    assert media_files(settings.resolve(source.location))  # the library was left alone


@pytest.mark.parametrize("critical", [20])
async def test_the_production_thresholds_would_not_leave_emergency_within_three_minutes(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock, critical: int
) -> None:
    """Why the first-run card exists: the same library against the sample card's 60/20."""
    sample = load_owner_card(REPO / "config" / "owner_card.sample.yaml").card
    assert sample.schedule_policy.buffer_critical_minutes == critical
    settings = channel_settings(
        tmp_path,
        slate_template,
        VVTV_OWNER_CARD_PATH=str(REPO / "config" / "owner_card.sample.yaml"),
    )
    [source] = sample.sources
    demo_placeholders(settings.resolve(source.location))
    async with running_channel(settings, epoch=EPOCH, media=DemoLibraryMedia()) as daemon:
        await trio.sleep(180)
        assert daemon.ch.topics["buffer"].latest["state"] == "EMERGENCY"
