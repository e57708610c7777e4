"""``channel.renditions``: off by default; each rung below the main rendition, said clearly."""

from __future__ import annotations

import pytest

from tests.ownercard.test_ownercard import errors_of
from tests.support.cards import card_yaml, make_card
from vvtv.ownercard.card import Rendition, rung_width
from vvtv.ownercard.load import parse_owner_card


def channel(**fields: object) -> str:
    return card_yaml(channel=fields)


def test_renditions_are_off_by_default_and_in_the_sample_card() -> None:
    assert make_card().channel.renditions == ()


def test_a_rung_is_a_height_and_a_bitrate_and_its_width_follows_the_aspect_ratio() -> None:
    ch = make_card(channel={"renditions": [{"height": 480, "video_bitrate_kbps": 900}]}).channel
    assert ch.renditions == (Rendition(480, 900),)
    assert ch.renditions[0].name == "480p"
    assert rung_width(ch, 480) == 854  # 1280x720: 16:9
    assert rung_width(ch, 360) == 640
    four_three = make_card(channel={"width": 960, "height": 720}).channel
    assert rung_width(four_three, 480) == 640


@pytest.mark.parametrize(
    ("renditions", "error"),
    [
        (
            [{"height": 720, "video_bitrate_kbps": 900}],
            "channel.renditions[0].height must be at least 144 and below the main "
            "rendition's channel.height 720 (got 720)",
        ),
        ([{"height": 100, "video_bitrate_kbps": 900}], "renditions[0].height must be at least 144"),
        ([{"height": 481, "video_bitrate_kbps": 900}], "renditions[0].height must be even"),
        (
            [{"height": 480, "video_bitrate_kbps": 2500}],
            "channel.renditions[0].video_bitrate_kbps must be at least 100 and below the main "
            "rendition's channel.video_bitrate_kbps 2500 (got 2500)",
        ),
        ([{"height": 480, "video_bitrate_kbps": 50}], "video_bitrate_kbps must be at least 100"),
        (
            [{"height": 480, "video_bitrate_kbps": v} for v in (900, 600)],
            "channel.renditions[1].height 480 is listed twice",
        ),
        (
            [{"height": h, "video_bitrate_kbps": 500} for h in (540, 480, 360, 240)],
            "channel.renditions must list at most 3 rungs (got 4)",
        ),
        ([{"height": 480}], "channel.renditions[0].video_bitrate_kbps is required"),
        ([{"height": "480p", "video_bitrate_kbps": 900}], "height must be an integer"),
        ({"height": 480}, "channel.renditions must be a list"),
        (["480p"], "channel.renditions[0] must be a mapping"),
    ],
)
def test_a_malformed_rung_is_refused_saying_what_and_where(renditions: object, error: str) -> None:
    errors = errors_of(channel(renditions=renditions))
    assert any(error in e for e in errors), errors


def test_an_unknown_key_in_a_rung_is_a_warning_naming_it() -> None:
    loaded = parse_owner_card(
        channel(renditions=[{"height": 480, "video_bitrate_kbps": 900, "widht": 854}])
    )
    assert any("channel.renditions[0].widht: unknown key" in w for w in loaded.warnings)
