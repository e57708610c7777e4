"""The guide follows the air: the timeline exactly, then the plan grid, filler as Intermission."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vvtv.core.convert import format_datetime
from vvtv.core.model import PlanItem, PlanState
from vvtv.iptv.channel import ChannelInfo, guide_id
from vvtv.iptv.guide import INTERMISSION, Programme, build_guide, public_status

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def item(offset_min: float, minutes: float, title: str, level: int = 0, **extra: Any) -> dict:
    return {
        "start_at": format_datetime(NOW + timedelta(minutes=offset_min)),
        "duration_sec": minutes * 60,
        "title": title,
        "theme": extra.pop("theme", "nature"),
        "fallback_level": level,
        "plan_id": extra.pop("plan_id", None),
        **extra,
    }


def plan(start_min: float, minutes: float, title: str, **extra: Any) -> PlanItem:
    return PlanItem(
        plan_id=extra.pop("plan_id", f"plan-{title}"),
        source_url="https://media.example.com/secret-path.mp4",
        title=title,
        duration_sec=minutes * 60,
        discovered_at=NOW - timedelta(days=1),
        state=extra.pop("state", PlanState.SCHEDULED),
        theme=extra.pop("theme", "city"),
        start_at=NOW + timedelta(minutes=start_min),
        **extra,
    )


def spans(programmes: list[Programme]) -> list[tuple[float, float, str]]:
    return [
        ((p.start - NOW).total_seconds() / 60, (p.stop - NOW).total_seconds() / 60, p.title)
        for p in programmes
    ]


def assert_contiguous(programmes: list[Programme]) -> None:
    for a, b in itertools.pairwise(programmes):
        assert a.stop == b.start, (a, b)
        assert a.start < a.stop


def test_the_timeline_then_the_plans_back_to_back_then_intermission_to_the_horizon() -> None:
    timeline = [
        item(-4, 10, "Harbour at dawn", plan_id="plan-a"),
        item(6, 10, "City lights", theme="city", plan_id="plan-b"),
    ]
    plans = [
        plan(15, 20, "Desert roads"),  # planned a minute early: it airs at the timeline end
        plan(40, 30, "Night trains", tags=("rail", "night")),
        plan(-4, 10, "Harbour at dawn", plan_id="plan-a", state=PlanState.COMMITTED),
    ]
    programmes = build_guide(NOW, 2, timeline, plans)
    assert spans(programmes) == [
        (-4, 6, "Harbour at dawn"),
        (6, 16, "City lights"),
        (16, 36, "Desert roads"),
        (36, 66, "Night trains"),
        (66, 120, INTERMISSION),
    ]
    assert_contiguous(programmes)
    assert programmes[0].category == "nature" and programmes[1].category == "city"
    assert programmes[3].desc == "Night trains — city (rail, night)"
    assert programmes[4].filler and not programmes[3].filler


def test_filler_and_holes_become_one_intermission() -> None:
    timeline = [
        item(-2, 5, "Pool clip one", level=2),
        item(3, 5, "Slate", level=3),
        item(8, 10, "Back on schedule"),
        item(20, 10, "After a hole"),  # two minutes of dead air before it
    ]
    programmes = build_guide(NOW, 1, timeline)
    assert spans(programmes) == [
        (-2, 8, INTERMISSION),
        (8, 18, "Back on schedule"),
        (18, 20, INTERMISSION),
        (20, 30, "After a hole"),
        (30, 60, INTERMISSION),
    ]


def test_a_later_entry_cuts_the_one_before_it_and_finished_entries_are_gone() -> None:
    timeline = [
        item(-30, 10, "Long gone"),
        item(-5, 10, "Cut short"),
        item(2, 10, "Cutter"),
    ]
    assert spans(build_guide(NOW, 0.5, timeline, fill_to_horizon=False)) == [
        (-5, 2, "Cut short"),
        (2, 12, "Cutter"),
    ]


def test_nothing_known_is_one_intermission_until_the_horizon() -> None:
    programmes = build_guide(NOW, 24, [], [])
    assert spans(programmes) == [(0, 24 * 60, INTERMISSION)]
    assert build_guide(NOW, 24, [], [], fill_to_horizon=False) == []


def test_the_guide_stops_at_the_horizon_but_keeps_the_programme_that_crosses_it() -> None:
    plans = [plan(i * 50, 50, f"P{i}") for i in range(10)]
    programmes = build_guide(NOW, 2, [], plans)
    assert spans(programmes) == [(0, 50, "P0"), (50, 100, "P1"), (100, 150, "P2")]


def test_entries_that_cannot_be_read_are_left_out_and_covered() -> None:
    good = item(0, 10, "Good")
    timeline: list[dict] = [
        {"start_at": "yesterday", "duration_sec": 60, "title": "bad time"},
        {"start_at": format_datetime(NOW), "duration_sec": "NaN", "title": "bad duration"},
        {"start_at": format_datetime(NOW), "duration_sec": -5, "title": "negative"},
        {"duration_sec": 60, "title": "no start"},
        {"start_at": None, "duration_sec": 60},
        good,
        item(10, 10, "Bool level is not filler", level=True),  # type: ignore[arg-type]
    ]
    plans = [plan(30, float("inf"), "infinite"), plan(30, 0, "empty")]
    assert spans(build_guide(NOW, 1, timeline, plans)) == [
        (0, 10, "Good"),
        (10, 20, "Bool level is not filler"),
        (20, 60, INTERMISSION),
    ]


@pytest.mark.parametrize("hours", [0, -1, float("nan"), float("inf"), 169, "24"])
def test_the_horizon_must_be_a_sane_number_of_hours(hours: Any) -> None:
    with pytest.raises(ValueError, match="hours must be"):
        build_guide(NOW, hours, [])


def test_now_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_guide(datetime(2026, 3, 1, 12), 1, [])


def test_hostile_titles_are_cleaned_once_and_never_empty() -> None:
    hostile = '<b>Fish & "chips"</b>\x00\x07\r\n\x85next\u2028line\ud800' + "!" * 500
    programmes = build_guide(NOW, 1, [item(0, 10, hostile, theme="\x1b[31mred")], [])
    title = programmes[0].title
    # Line and paragraph separators are whitespace too: one line, one space.
    assert title.startswith('<b>Fish & "chips"</b> next line !!!') and title.endswith("…")
    assert len(title) == 200 and not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in title)
    assert programmes[0].category == "[31mred"
    assert build_guide(NOW, 1, [item(0, 10, " \x00 ")])[0].title == "Untitled"


def test_the_public_status_says_what_is_on_and_next_and_nothing_operational() -> None:
    channel = ChannelInfo(name="Voulez Vous")
    timeline = [
        item(-3, 10, "Harbour at dawn", plan_id="plan-1", asset_id="asset-x", entry_id="e1"),
        item(7, 10, "City lights"),
        item(17, 5, "Pool", level=2),
        item(22, 5, "Slate", level=3),
        item(27, 10, "Desert roads"),
        item(37, 10, "Fifth"),
    ]
    status = public_status(NOW, timeline, channel, "/channel/logo")
    assert status == {
        "channel": {"id": "voulez-vous.vvtv", "name": "Voulez Vous", "logo": "/channel/logo"},
        "state": "on_air",
        "timestamp": "2026-03-01T12:00:00Z",
        "now": {
            "title": "Harbour at dawn",
            "category": "nature",
            "start": "2026-03-01T11:57:00Z",
            "stop": "2026-03-01T12:07:00Z",
            "intermission": False,
        },
        "next": [
            {
                "title": "City lights",
                "category": "nature",
                "start": "2026-03-01T12:07:00Z",
                "stop": "2026-03-01T12:17:00Z",
                "intermission": False,
            },
            {
                "title": INTERMISSION,
                "category": INTERMISSION,
                "start": "2026-03-01T12:17:00Z",
                "stop": "2026-03-01T12:27:00Z",
                "intermission": True,
            },
            {
                "title": "Desert roads",
                "category": "nature",
                "start": "2026-03-01T12:27:00Z",
                "stop": "2026-03-01T12:37:00Z",
                "intermission": False,
            },
        ],
    }


def test_the_public_status_while_filler_airs_and_before_anything_does() -> None:
    channel = ChannelInfo()
    slate = public_status(NOW, [item(-1, 0.5 + 1, "Slate", level=3)], channel, None)
    assert slate["state"] == "intermission" and slate["now"]["title"] == INTERMISSION
    assert slate["next"] == []
    assert public_status(NOW, [], channel, None)["state"] == "starting"
    assert public_status(NOW, [], channel, None)["now"] is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vvtv", "vvtv.vvtv"),
        ("Voulez Vous TV!", "voulez-vous-tv.vvtv"),
        ("Télé Ça Va", "tele-ca-va.vvtv"),
        ("電視", "channel.vvtv"),
        ("a" * 100, "a" * 48 + ".vvtv"),
        ("<script>&", "script.vvtv"),
    ],
)
def test_the_guide_id_is_a_dns_like_name_from_the_channel_name(name: str, expected: str) -> None:
    assert guide_id(name) == expected
