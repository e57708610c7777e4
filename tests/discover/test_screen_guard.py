"""Screening never lets a feed item reach past what the card allows (issue 16's reproductions).

The media host is a real server on 127.0.0.2, the only address the card allows; an
internal host on 127.0.0.1 (the metadata service) must see zero requests. Each hostile item
sits next to a good one that is still planned, probed by real ffprobe on the head fetched
through the vetted client.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from tests.support.hostile import hls_playlist, internal_host, make_secret_ts, second_host
from tests.support.loopback import Loopback, redirect
from vvtv.core.clock import utc
from vvtv.discover.screening import PROBE_REJECTIONS, RejectReason, ScreenResult, screen
from vvtv.discover.sources import Candidate
from vvtv.ownercard.card import OwnerCard, QualityPolicy, SafetyPolicy, SearchPolicy

from .conftest import Clips

NOW = utc(2026, 3, 1, 10)


def card(**search: object) -> OwnerCard:
    return OwnerCard(
        search_policy=SearchPolicy(
            # 127.0.0.1 is allowlisted by name, as the old sample card did: the address
            # policy refuses it all the same (only 127.0.0.2 is allowed).
            allowlist_domains=("127.0.0.2", "127.0.0.1"),
            allow_private_addresses=("127.0.0.2/32",),
            **search,  # type: ignore[arg-type]
        ),
        quality_policy=QualityPolicy(min_resolution_height=720),
        safety_policy=SafetyPolicy(require_hd_playback_confirmation=True),
    )


def item(title: str, url: str, source: str = "feed") -> Candidate:
    return Candidate(title=title, media_url=url, source_name=source, duration_sec=None)


def reasons(result: ScreenResult) -> dict[str, RejectReason]:
    return {r.candidate.title: r.reason_code for r in result.rejected}


async def hosts(nursery: trio.Nursery) -> tuple[Loopback, Loopback]:
    internal = await internal_host(nursery)  # 127.0.0.1: not allowed
    return await second_host(nursery, internal.port), internal  # the media host: 127.0.0.2


async def test_redirects_and_playlists_are_refused_and_the_internal_host_sees_nothing(
    nursery: trio.Nursery, clips: Clips, tmp_path: Path
) -> None:
    web, internal = await hosts(nursery)
    secret = make_secret_ts(tmp_path / "private" / "secret.ts")
    batch = [
        item("Good", web.serve("/good.mp4", clips.hd720.read_bytes(), content_type="video/mp4")),
        item(
            "To metadata", web.serve("/r.mp4", redirect(internal.url_for("/latest/meta-data/iam")))
        ),
        item("Off the list", web.serve("/o.mp4", redirect("http://evil.example.net/x.mp4"))),
        item(
            "Segments elsewhere",
            web.serve(
                "/p.mp4", hls_playlist(internal.url_for("/seg.ts")), content_type="video/mp4"
            ),
        ),
        item(
            "Local secret",
            web.serve("/x.mp4", hls_playlist(secret.as_uri()), content_type="video/mp4"),
        ),
        item(
            "Declared playlist",
            web.serve(
                "/live.m3u8",
                hls_playlist(internal.url_for("/a.ts")),
                content_type="application/x-mpegURL",
            ),
        ),
    ]
    result = await screen(batch, card(), is_known=lambda *_: False, now=NOW, probe_dir=tmp_path)
    (good,) = result.accepted
    assert (good.title, good.resolution_height, good.hd_confirmed) == ("Good", 720, True)
    assert reasons(result) == {
        "To metadata": RejectReason.ADDRESS_REFUSED,
        "Off the list": RejectReason.REDIRECT_NOT_ALLOWED,
        "Segments elsewhere": RejectReason.MEDIA_FORMAT_REFUSED,
        "Local secret": RejectReason.MEDIA_FORMAT_REFUSED,
        "Declared playlist": RejectReason.MEDIA_FORMAT_REFUSED,
    }
    details = {r.candidate.title: r.detail for r in result.rejected}
    assert "127.0.0.1 is loopback" in details["To metadata"]
    assert "an HLS playlist" in details["Local secret"]
    assert "/x.mp4" in details["Local secret"]  # the media is named, not the temporary head
    assert internal.requests == []
    # Remembered like every probe verdict: not fetched and audited again every hour.
    assert {r.reason_code for r in result.rejected} <= PROBE_REJECTIONS
    assert [p.name for p in tmp_path.iterdir()] == ["private"]  # no head left behind


async def test_at_most_n_candidates_per_source_per_window(
    nursery: trio.Nursery, clips: Clips
) -> None:
    web, _ = await hosts(nursery)
    url = web.serve("/good.mp4", clips.hd720.read_bytes(), content_type="video/mp4")
    batch = [
        *(item(f"A{i}", f"{url}?a={i}", "a") for i in range(4)),
        item("B0", f"{url}?b=0", "b"),
    ]
    no_probe = attrs.evolve(
        card(max_candidates_per_source=2),
        safety_policy=SafetyPolicy(require_hd_playback_confirmation=False),
    )
    batch = [attrs.evolve(c, duration_sec=600.0) for c in batch]
    result = await screen(batch, no_probe, is_known=lambda *_: False, now=NOW)
    assert [p.title for p in result.accepted] == ["A0", "A1", "B0"]
    assert reasons(result) == {"A2": RejectReason.CANDIDATE_CAP, "A3": RejectReason.CANDIDATE_CAP}
    assert web.requests == []  # durations known, no HD check: nothing fetched


async def test_probes_stop_at_the_window_budget_and_the_rest_are_not_fetched(
    nursery: trio.Nursery, clips: Clips
) -> None:
    web, _ = await hosts(nursery)
    url = web.serve("/good.mp4", clips.hd720.read_bytes(), content_type="video/mp4")
    batch = [item(f"V{i}", f"{url}?v={i}") for i in range(3)]
    result = await screen(batch, card(max_probes_per_window=2), is_known=lambda *_: False, now=NOW)
    assert len(result.accepted) == 2
    assert reasons(result) == {"V2": RejectReason.PROBE_BUDGET_SPENT}
    assert sorted(r.target for r in web.requests) == ["/good.mp4?v=0", "/good.mp4?v=1"]
    assert RejectReason.PROBE_BUDGET_SPENT not in PROBE_REJECTIONS  # tried again next window
