"""The other shared helpers keep their promises: cards say only what they change, waits fail
naming what they waited for, and a cached clip is made once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support.cards import card_yaml, folder_source, make_card, write_card
from tests.support.media import ClipCache
from tests.support.waiting import wait_for, wait_until
from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.holder import diff_cards
from vvtv.ownercard.load import parse_owner_card

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "owner_card.sample.yaml"


def test_a_card_without_overrides_is_the_sample_without_its_demo_source() -> None:
    sample = parse_owner_card(SAMPLE.read_text()).card
    card = make_card()
    assert list(diff_cards(sample, card)) == ["sources"]
    assert [s.name for s in sample.sources] == ["demo"] and card.sources == ()


def test_overrides_merge_into_a_section_and_replace_anything_else(tmp_path: Path) -> None:
    card = make_card(
        schedule_policy={"timezone": "UTC"},
        sources=[folder_source("library", tmp_path)],
    )
    assert card.schedule_policy.timezone == "UTC"
    assert card.schedule_policy.buffer_target_minutes == 60  # the sample's, kept
    assert [(s.name, s.kind, s.location) for s in card.sources] == [
        ("library", "folder", str(tmp_path))
    ]
    written = write_card(tmp_path / "deep" / "owner_card.yaml", autotune_policy={"enabled": False})
    assert parse_owner_card(written.read_text()).card.autotune_policy.enabled is False


def test_the_text_has_one_field_a_line_so_a_test_can_edit_it() -> None:
    text = card_yaml()
    for line in (
        "buffer_target_minutes: 60",
        "commit_lead_hours: 4",
        "buffer_critical_minutes: 20",
    ):
        assert f"  {line}\n" in text
    assert isinstance(parse_owner_card(text).card, OwnerCard)


async def test_wait_until_returns_the_first_truthy_value_in_simulated_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    assert await wait_until("a minute", lambda: trio.current_time() - start >= 60, within=120)
    assert 60 <= trio.current_time() - start < 61


async def test_wait_until_fails_naming_what_and_the_last_value_seen(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(AssertionError, match=r"not within 5 s: the answer \(last seen: 0\)"):
        await wait_until("the answer", lambda: 0, within=5)


def test_wait_for_polls_what_another_thread_does_and_fails_with_a_clear_message() -> None:
    done: list[int] = []
    timer = threading.Timer(0.05, lambda: done.append(42))
    timer.start()
    assert wait_for("the other thread", lambda: done and done[0], timeout=10) == 42
    with pytest.raises(AssertionError, match=r"after 0.1 s waiting for nothing \(last seen: \[\]"):
        wait_for("nothing", lambda: [], timeout=0.1, every=0.01)


def test_a_cached_clip_is_made_once_and_copied_on_request(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path / "cache")
    first = cache.clip(seconds=0.2, size="160x90", tone_hz=300)
    made = first.stat().st_mtime_ns
    again = cache.clip(seconds=0.2, size="160x90", tone_hz=300)
    other = cache.clip(seconds=0.2, size="160x90", tone_hz=310)
    assert again == first and first.stat().st_mtime_ns == made
    assert other != first and other.read_bytes() != first.read_bytes()
    copy = cache.copy(tmp_path / "mine" / "clip.mp4", seconds=0.2, size="160x90", tone_hz=300)
    assert copy.read_bytes() == first.read_bytes()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [first.name, other.name]
    )
