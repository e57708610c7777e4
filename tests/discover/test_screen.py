"""Screening a batch (SPEC §1.1): allowlist, keywords, dedupe against everything known and
within the batch, HD confirmation by really probing the media (ffprobe on files, and on the
heads of remote media fetched through the vetted client),
scoring; the result is CANDIDATE plans and audited rejections."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import pytest

from tests.support.loopback import Loopback, Reply
from vvtv.core.clock import utc
from vvtv.core.model import PlanItem, PlanState
from vvtv.discover.screening import (
    PROBE_REJECTIONS,
    RejectReason,
    ScreenResult,
    normalize_title,
    normalize_url,
    screen,
)
from vvtv.discover.sources import Candidate
from vvtv.discover.sources.folder import scan_folder
from vvtv.ownercard.card import (
    MusicPolicy,
    OwnerCard,
    QualityPolicy,
    SafetyPolicy,
    SearchPolicy,
    SourceSpec,
)

from .conftest import Clips

NOW = utc(2026, 3, 1, 10)


class Known:
    """What the store already holds, as the store's ``is_known`` sees it."""

    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.titles: set[str] = set()

    def __call__(self, url: str, title: str) -> bool:
        return url in self.urls or title in self.titles

    def add(self, plans: list[PlanItem]) -> None:
        self.urls.update(p.normalized_url for p in plans)
        self.titles.update(p.normalized_title for p in plans)


def make_card(*, hd: bool = False, folders: tuple[str, ...] = ()) -> OwnerCard:
    return OwnerCard(
        search_policy=SearchPolicy(
            allowlist_domains=("example.com", "127.0.0.1"),
            blacklist_domains=("spam.example.com",),
            blocked_keywords=("gore",),
            # The loopback servers stand for media hosts on the internet.
            allow_private_addresses=("127.0.0.0/8",),
        ),
        music_policy=MusicPolicy(preferred_moods=("calm",)),
        quality_policy=QualityPolicy(min_resolution_height=720),
        safety_policy=SafetyPolicy(require_hd_playback_confirmation=hd),
        sources=tuple(SourceSpec(f"f{i}", "folder", f) for i, f in enumerate(folders)),
    )


def cand(title: str, url: str, duration: float | None = 900.0, **kw) -> Candidate:
    return Candidate(title=title, media_url=url, source_name="feed", duration_sec=duration, **kw)


def reasons(result: ScreenResult) -> dict[str, RejectReason]:
    return {r.candidate.title: r.reason_code for r in result.rejected}


# Nothing listens here: if screening probed a URL it must not, the test sees the rejection.
UNREACHABLE = "http://127.0.0.1:9/"


async def test_hosts_keywords_and_duplicates_are_screened_before_any_probe():
    batch = [
        cand("Calm Sea", "https://a.example.com/sea.mp4", tags=("Calm", "ocean")),
        cand("Spam", "https://spam.example.com/x.mp4"),
        cand("Elsewhere", "https://notexample.com/x.mp4"),
        cand("Local", "file:///etc/passwd"),
        cand("GORE night", "https://example.com/g.mp4"),
        cand("Tagged", "https://example.com/t.mp4", tags=("gore",)),
        cand("Same URL", "https://A.example.com/sea.mp4?utm_source=x"),
        cand("calm   sea!", "https://example.com/other.mp4"),
        cand("Forest", "https://example.com/forest.mp4", theme="Woods", tags=("green",)),
    ]
    result = await screen(batch, make_card(), is_known=Known(), now=NOW)
    assert [p.title for p in result.accepted] == ["Calm Sea", "Forest"]
    assert reasons(result) == {
        "Spam": RejectReason.HOST_BLACKLISTED,
        "Elsewhere": RejectReason.HOST_NOT_ALLOWED,
        "Local": RejectReason.HOST_NOT_ALLOWED,
        "GORE night": RejectReason.BLOCKED_KEYWORD,
        "Tagged": RejectReason.BLOCKED_KEYWORD,
        "Same URL": RejectReason.DUPLICATE_IN_BATCH,
        "calm   sea!": RejectReason.DUPLICATE_IN_BATCH,
    }
    details = {r.candidate.title: r.detail for r in result.rejected}
    assert details["GORE night"] == "blocked keyword 'gore'"
    assert details["Spam"] == "host spam.example.com is blacklisted"


async def test_accepted_candidates_become_scored_candidate_plans():
    batch = [
        cand("Calm Sea", "https://A.example.com/sea.mp4#t=3", tags=("Calm", "ocean")),
        cand(
            "Forest",
            "https://example.com/forest.mp4",
            450.0,
            theme="Woods",
            tags=("green",),
            quality=("1080p", "Stereo", "mono"),
        ),
        cand("Untagged", "https://example.com/u.mp4", 30.0),
    ]
    result = await screen(batch, make_card(), is_known=Known(), now=NOW)
    sea, forest, untagged = result.accepted
    assert attrs.asdict(sea) | {"plan_id": "", "trace_id": ""} == attrs.asdict(
        PlanItem(
            plan_id="",
            source_url="https://A.example.com/sea.mp4#t=3",
            title="Calm Sea",
            duration_sec=900.0,
            discovered_at=NOW,
            state=PlanState.CANDIDATE,
            score=pytest.approx(0.78),  # 0.5 + 0.2 (on target) + 0.08 (calm)
            theme="calm",  # no theme: the first tag
            tags=("Calm", "ocean"),
            source_name="feed",
            normalized_url="https://a.example.com/sea.mp4",
            normalized_title="calm sea",
            resolution_height=None,
            hd_confirmed=False,
            updated_at=NOW,
            trace_id="",
            quality_signals=0,  # kept, so the planner can score it again (autotune)
        )
    )
    assert sea.plan_id.startswith("plan-") and sea.trace_id.startswith("trace-")
    assert forest.theme == "woods"
    assert forest.quality_signals == 2
    assert forest.score == pytest.approx(0.7)  # 0.5 + 0.2 × 0.5 + 2 × 0.05
    assert (untagged.theme, untagged.score) == ("", 0.5)
    assert len({p.plan_id for p in result.accepted}) == 3


async def test_duplicates_are_refused_across_batches_not_only_within_one():
    known = Known()
    card = make_card()
    first = await screen(
        [cand("Deep Blue", "https://example.com/deep.mp4")], card, is_known=known, now=NOW
    )
    known.add(first.accepted)
    later = utc(2026, 3, 1, 11)
    second = await screen(
        [
            cand("Deep Blue", "https://cdn.example.com/mirror/deep.mp4"),  # same title
            cand("Deep Blue (again)", "HTTPS://EXAMPLE.COM/deep.mp4/?utm_medium=rss"),  # same URL
            cand("Reef", "https://example.com/reef.mp4"),
        ],
        card,
        is_known=known,
        now=later,
    )
    assert [p.title for p in second.accepted] == ["Reef"]
    assert reasons(second) == {
        "Deep Blue": RejectReason.DUPLICATE_KNOWN,
        "Deep Blue (again)": RejectReason.DUPLICATE_KNOWN,
    }
    assert normalize_url("HTTPS://EXAMPLE.COM/deep.mp4/?utm_medium=rss") in known.urls
    assert normalize_title("Deep  BLUE") in known.titles


async def test_with_hd_confirmation_only_media_that_decodes_at_720p_is_kept(
    tmp_path: Path, clips: Clips
):
    library = tmp_path / "lib"
    library.mkdir()
    for name, clip in [
        ("hd.mp4", clips.hd720),
        ("hd_again.mp4", clips.hd720),
        ("sd.mp4", clips.sd480),
        ("corrupt.mp4", clips.corrupt),
        ("garbage.mp4", clips.garbage),
    ]:
        shutil.copy(clip, library / name)
    found, _ = await scan_folder(library, source_name="lib")
    result = await screen(
        found, make_card(hd=True, folders=(str(library),)), is_known=Known(), now=NOW
    )
    (hd,) = result.accepted
    assert hd.title == "Ocean Waves"
    assert (hd.hd_confirmed, hd.resolution_height) == (True, 720)
    # 0.5 + 0.08 (calm, from the genre tag) + 0.05 (stereo); 2 s earns no duration bonus.
    assert hd.score == pytest.approx(0.63)
    rejected = {Path(r.candidate.media_url).name: r for r in result.rejected}
    # corrupt.mp4 carries the same title and comes first, but fails its probe: it does not
    # shadow hd.mp4. hd_again.mp4 passes too, and is a duplicate of hd.mp4 by title.
    assert rejected["hd_again.mp4"].reason_code is RejectReason.DUPLICATE_IN_BATCH
    assert rejected["hd_again.mp4"].detail == "same title earlier: 'ocean waves'"
    assert rejected["sd.mp4"].reason_code is RejectReason.HD_NOT_CONFIRMED
    assert "height 480p is below the minimum 720p" in rejected["sd.mp4"].detail
    assert rejected["corrupt.mp4"].reason_code is RejectReason.HD_NOT_CONFIRMED
    assert "decode" in rejected["corrupt.mp4"].detail
    # Not media at all: refused before ffprobe opens it, saying what it looks like.
    assert rejected["garbage.mp4"].reason_code is RejectReason.MEDIA_FORMAT_REFUSED
    assert "garbage.mp4 is text, not a media file" in rejected["garbage.mp4"].detail


async def test_hd_confirmation_probes_remote_media_over_http(web: Loopback, clips: Clips):
    hd_url = web.serve("/hd.mp4", Reply(body=clips.hd720.read_bytes(), content_type="video/mp4"))
    sd_url = web.serve("/sd.mp4", Reply(body=clips.sd480.read_bytes(), content_type="video/mp4"))
    gone_url = web.url_for("/gone.mp4")
    batch = [
        cand("HD", hd_url, duration=None),  # duration unknown: probed too
        cand("SD", sd_url),
        cand("Gone", gone_url),
    ]
    result = await screen(batch, make_card(hd=True), is_known=Known(), now=NOW)
    (hd,) = result.accepted
    assert (hd.title, hd.hd_confirmed, hd.resolution_height) == ("HD", True, 720)
    assert hd.duration_sec == pytest.approx(2.0, abs=0.1)
    assert reasons(result) == {
        "SD": RejectReason.HD_NOT_CONFIRMED,
        "Gone": RejectReason.HD_NOT_CONFIRMED,
    }
    assert web.hits("/sd.mp4") and web.hits("/gone.mp4")


async def test_without_hd_confirmation_nothing_is_probed_when_the_duration_is_known():
    batch = [cand("Remote", UNREACHABLE + "v.mp4"), cand("Unknown", UNREACHABLE + "u.mp4", None)]
    result = await screen(batch, make_card(hd=False), is_known=Known(), now=NOW)
    assert [(p.title, p.hd_confirmed, p.resolution_height) for p in result.accepted] == [
        ("Remote", False, None)
    ]
    # Only the one without a duration was probed, and the dead host says why it failed.
    assert reasons(result) == {"Unknown": RejectReason.DURATION_UNKNOWN}


async def test_media_that_recently_failed_its_probes_is_not_probed_again(
    web: Loopback, clips: Clips
):
    sd_url = web.serve("/sd.mp4", Reply(body=clips.sd480.read_bytes(), content_type="video/mp4"))
    failed = {normalize_url(sd_url)}
    result = await screen(
        [cand("SD", sd_url)],
        make_card(hd=True),
        is_known=Known(),
        now=NOW,
        recently_rejected=lambda url: url in failed,
    )
    assert result.accepted == []
    assert reasons(result) == {"SD": RejectReason.PROBE_REJECTED_RECENTLY}
    assert web.hits("/sd.mp4") == 0


async def test_a_duration_outside_the_cards_range_loses_only_its_item(web: Loopback, clips: Clips):
    """Declared or probed, a duration outside ``search_policy.min/max_duration_sec`` is
    refused as DURATION_OUT_OF_RANGE (and remembered like a failed probe); the good item
    next to it is kept."""
    card = make_card()
    card = attrs.evolve(card, search_policy=attrs.evolve(card.search_policy, min_duration_sec=10.0))
    short_url = web.serve(
        "/short.mp4", Reply(body=clips.hd720.read_bytes(), content_type="video/mp4")
    )
    batch = [
        cand("Good", "https://example.com/good.mp4", 900.0),
        cand("Tiny", "https://example.com/tiny.mp4", 0.5),
        cand("Too long", "https://example.com/long.mp4", 13 * 3600.0),
        cand("Absurd", "https://example.com/absurd.mp4", 1e12),
        cand("Probed short", short_url, None),  # ffprobe says 2 s
    ]
    result = await screen(batch, card, is_known=Known(), now=NOW)
    assert [p.title for p in result.accepted] == ["Good"]
    assert reasons(result) == dict.fromkeys(
        ["Tiny", "Too long", "Absurd", "Probed short"], RejectReason.DURATION_OUT_OF_RANGE
    )
    details = {r.candidate.title: r.detail for r in result.rejected}
    assert details["Too long"] == "duration 46800 s is outside the card's range 10..43200 s"
    assert "ceiling" in details["Absurd"]
    assert RejectReason.DURATION_OUT_OF_RANGE in PROBE_REJECTIONS
