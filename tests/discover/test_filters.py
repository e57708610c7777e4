"""SPEC §1.1 rules as pure functions: host allowlist with a dot boundary, blocked keywords,
the scoring formula (examples computed by hand), URL and title normalisation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from vvtv.core.model import PlanItem
from vvtv.discover.screening import (
    ScoreWeights,
    blocked_keyword,
    count_quality_signals,
    duration_closeness,
    host_allowed,
    normalize_title,
    normalize_url,
    plan_score,
    score,
    url_allowed,
)
from vvtv.discover.sources import Candidate, local_path
from vvtv.nightly.autotune import TuneWeights
from vvtv.ownercard.card import (
    EditorialProfile,
    MusicPolicy,
    OwnerCard,
    SearchPolicy,
    SourceSpec,
)

ALLOW = ("example.com", "Videos.Org")
BLOCK = ("bad.example.com",)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://example.com/v.mp4", True),
        ("https://a.example.com/v.mp4", True),
        ("https://deep.a.example.com/v.mp4", True),
        ("HTTPS://A.EXAMPLE.COM/v.mp4", True),
        ("https://videos.org./v.mp4", True),  # trailing dot of a fully qualified name
        ("https://cdn.videos.org:8443/v.mp4", True),
        ("https://notexample.com/v.mp4", False),  # no dot boundary
        ("https://example.com.evil.net/v.mp4", False),
        ("https://examplecom/v.mp4", False),
        ("https://bad.example.com/v.mp4", False),  # the blacklist wins
        ("https://x.bad.example.com/v.mp4", False),
        ("https://example.com@evil.net/v.mp4", False),  # userinfo is not the host
        ("https://evil.net/example.com/v.mp4", False),
        ("http://[::1]/v.mp4", False),
        ("ftp://example.com/v.mp4", False),  # only http(s)
        ("file:///srv/media/v.mp4", False),  # no host: see url_allowed
        ("https:///v.mp4", False),
        ("not a url", False),
    ],
)
def test_hosts_match_the_allowlist_on_a_dot_boundary_and_the_blacklist_wins(url, allowed):
    assert host_allowed(url, ALLOW, BLOCK) is allowed


def test_an_empty_allowlist_allows_nothing():
    assert host_allowed("https://example.com/v.mp4", (), ()) is False


def test_local_files_are_allowed_only_inside_the_cards_folder_sources(tmp_path: Path):
    library = tmp_path / "library"
    library.mkdir()
    card = OwnerCard(
        search_policy=SearchPolicy(allowlist_domains=("example.com",)),
        sources=(SourceSpec(name="lib", kind="folder", location=str(library)),),
    )
    inside = (library / "clip one.mp4").as_uri()
    assert local_path(inside) == library / "clip one.mp4"
    assert url_allowed(inside, card)
    assert not url_allowed((tmp_path / "elsewhere.mp4").as_uri(), card)
    assert not url_allowed((library / ".." / "escape.mp4").as_uri(), card)
    assert not url_allowed("file:///etc/passwd", card)
    assert url_allowed("https://a.example.com/v.mp4", card)


@pytest.mark.parametrize(
    ("title", "tags", "found"),
    [
        ("Live GORE compilation", (), "gore"),
        ("Nice sunset", ("Violence",), "violence"),
        ("A classic film", (), None),  # "ass" is not a word here
        ("Nice sunset", ("calm",), None),
        ("Only for 18+ viewers", (), "18+"),
        ("gore", (), "gore"),
    ],
)
def test_blocked_keywords_match_whole_words_in_title_or_tags_in_any_case(title, tags, found):
    assert blocked_keyword(title, tags, ["ass", "gore", "violence", "18+", "  "]) == found


def make_card(target: int = 900, moods: tuple[str, ...] = ()) -> OwnerCard:
    return OwnerCard(
        editorial_profile=EditorialProfile(target_avg_duration_sec=target),
        music_policy=MusicPolicy(preferred_moods=moods),
    )


def cand(duration: float | None = None, tags=(), quality=()) -> Candidate:
    return Candidate(
        title="t",
        media_url="https://example.com/v.mp4",
        source_name="s",
        duration_sec=duration,
        tags=tags,
        quality=quality,
    )


def test_duration_closeness_is_one_on_target_and_zero_at_twice_the_target():
    assert duration_closeness(900, 900) == 1.0
    assert duration_closeness(450, 900) == 0.5
    assert duration_closeness(1350, 900) == 0.5
    assert duration_closeness(1800, 900) == 0.0
    assert duration_closeness(5000, 900) == 0.0
    assert duration_closeness(900, 0) == 0.0


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (cand(), 0.5),  # base only: no duration
        (cand(900), 0.7),  # + 0.2 × 1
        (cand(675), 0.65),  # + 0.2 × (1 - 225/900) = 0.15
        (cand(60), 0.5),  # duration counts only above 60 s
        (cand(61), 0.5 + 0.2 * 61 / 900),
        (cand(None, tags=("Calm",)), 0.58),  # + 0.08 per preferred mood, any case
        (cand(None, tags=("calm", "happy", "dreamy")), 0.66),  # capped at 0.16
        (cand(None, tags=("calm", "CALM")), 0.58),  # the same tag twice counts once
        (cand(None, quality=("1080p",)), 0.55),
        (cand(None, quality=("4K HDR", "stereo", "clean audio", "1080p")), 0.65),  # cap 0.15
        (cand(None, quality=("720p", "mono")), 0.5),
        (cand(900, ("calm", "happy"), ("4k", "stereo", "clean")), 1.0),  # 1.01 clamped
    ],
)
def test_score_follows_the_spec_formula(candidate: Candidate, expected: float):
    card = make_card(moods=("calm", "happy", "Dreamy"))
    assert score(candidate, card) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://Example.COM:443/a/b/?b=2&a=1#frag", "https://example.com/a/b?a=1&b=2"),
        ("http://example.com:80/", "http://example.com"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        (
            "https://example.com/v.mp4?utm_source=rss&UTM_Medium=x&id=7",
            "https://example.com/v.mp4?id=7",
        ),
        ("  https://example.com/v.mp4  ", "https://example.com/v.mp4"),
        ("https://example.com/Path/Case.MP4", "https://example.com/Path/Case.MP4"),
    ],
)
def test_urls_normalise_for_dedupe(url: str, normal: str):
    assert normalize_url(url) == normal


@pytest.mark.parametrize(
    ("title", "normal"),
    [
        ("The  Sea (4K)!", "the sea 4k"),
        ("  Ocean_Waves -- Part 2 ", "ocean waves part 2"),
        ("Canção do Mar", "canção do mar"),
        ("!!!", ""),
    ],
)
def test_titles_normalise_to_lowercase_alphanumerics_and_single_spaces(title: str, normal: str):
    assert normalize_title(title) == normal


def test_autotuned_weights_replace_the_spec_weights_but_not_the_caps():
    card = make_card(moods=("calm", "happy", "dreamy"))
    candidate = cand(900, ("calm", "happy", "dreamy"), ("4k", "1080p", "stereo", "clean"))
    tuned = TuneWeights(duration_weight=0.1, mood_weight=0.05, quality_weight=0.02)
    # 0.5 + 0.1 × 1 + 0.05 × 2 (two tags at most) + 0.02 × 3 (three signals at most)
    assert score(candidate, card, tuned) == pytest.approx(0.76)
    assert score(candidate, card, ScoreWeights()) == score(candidate, card)


def test_a_stored_plan_scores_again_under_todays_card_and_weights():
    """What the planner ranks by: the plan's facts (duration, tags, quality signals kept at
    discovery) under the card and the autotuned weights in force at the re-plan."""
    card = make_card(moods=("calm",))
    candidate = cand(900, ("calm", "sea"), ("4k", "1080p", "mono"))
    found = PlanItem(
        plan_id="plan-1",
        source_url="https://example.com/v.mp4",
        title="v",
        duration_sec=900.0,
        discovered_at=datetime(2026, 3, 1, tzinfo=UTC),
        score=score(candidate, card),
        tags=candidate.tags,
        quality_signals=count_quality_signals(candidate.quality),
    )
    assert found.quality_signals == 2
    assert plan_score(found, card) == found.score == pytest.approx(0.5 + 0.2 + 0.08 + 0.1)
    tuned = TuneWeights(duration_weight=0.1, mood_weight=0.12, quality_weight=0.02)
    assert plan_score(found, card, tuned) == score(candidate, card, tuned)
    # A card that now prefers other moods takes the mood bonus away from the stored plan.
    assert plan_score(found, make_card(moods=("night",))) == pytest.approx(0.8)
    # A plan stored before quality signals were kept keeps the score it was given.
    legacy = attrs.evolve(found, quality_signals=None, score=0.66)
    assert plan_score(legacy, card, tuned) == 0.66


def test_a_candidate_refuses_a_lone_string_for_its_tags():
    with pytest.raises(TypeError, match="got the string 'calm'"):
        cand(tags="calm")
