"""The OwnerCard: SPEC §2 rules, clear errors with field paths, warnings, safe reload."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.state_builders import T0, minutes
from vvtv.ownercard.card import OwnerCard, SourceSpec
from vvtv.ownercard.holder import OwnerCardHolder, diff_cards
from vvtv.ownercard.load import (
    OwnerCardError,
    load_owner_card,
    parse_owner_card,
    resolve_source_locations,
    validate_file,
)
from vvtv.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "owner_card.sample.yaml"

# The original system's card: every SPEC §2 section, no `sources`, no `channel`.
ORIGINAL = """
schema_version: 1
editorial_profile:
  target_avg_duration_sec: 900
  max_consecutive_same_theme: 2
  min_unique_themes_per_block: 3
search_policy:
  allowlist_domains: ["example.com", "videos.example.org"]
  blacklist_domains: ["bad.example.com"]
  blocked_keywords: ["gore"]
schedule_policy:
  planning_horizon_hours: 24
  commit_lead_hours: 4
  commit_interval_minutes: 30
  buffer_target_minutes: 60
  buffer_critical_minutes: 20
quality_policy:
  min_resolution_height: 720
  target_audio_lufs: -16.0
  max_audio_deviation_lufs: 2.5
music_policy:
  preferred_moods: ["calm", "focus"]
  block_music_ratio: 0.2
curator_policy:
  auto_apply: true
  min_confidence: 0.75
  max_reorders_per_hour: 4
safety_policy:
  require_hd_playback_confirmation: true
  reject_suspicious_watermark: true
autotune_policy:
  max_daily_adjustment_pct: 5.0
  enabled: true
"""

MINIMAL = "search_policy:\n  allowlist_domains: [example.com]\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(OwnerCardError) as info:
        parse_owner_card(text)
    return info.value.errors


def with_section(section: str, body: str) -> str:
    """MINIMAL plus one more section given as YAML lines."""
    return MINIMAL + f"{section}:\n" + textwrap.indent(textwrap.dedent(body), "  ")


# --- the cards that must load --------------------------------------------------------------


def test_the_original_card_loads_unchanged_with_vvtv_defaults() -> None:
    loaded = parse_owner_card(ORIGINAL)
    card = loaded.card
    assert card.search_policy.allowlist_domains == ("example.com", "videos.example.org")
    assert card.safety_policy.reject_suspicious_watermark is True
    assert card.music_policy.preferred_moods == ("calm", "focus")
    assert card.sources == () and card.channel == OwnerCard().channel
    # It loads, and says by name what it asks for that vvtv does not do.
    assert [w.split(":")[0] for w in loaded.warnings] == [
        "safety_policy.reject_suspicious_watermark",
        "sources",
    ]
    assert "not implemented" in loaded.warnings[0]
    assert len(loaded.sha256) == 64 and loaded.text == ORIGINAL


def test_the_sample_card_loads_without_warnings_and_has_a_demo_source() -> None:
    loaded = load_owner_card(SAMPLE)
    card = loaded.card
    assert loaded.warnings == []
    # Loopback is not a content host: the sample allows neither its names nor its addresses.
    assert card.search_policy.allowlist_domains == ("example.com",)
    assert card.search_policy.allow_private_addresses == ()
    assert card.sources == (
        SourceSpec(name="demo", kind="folder", location="runtime/media/demo", demo=True),
    )
    ch = card.channel
    assert (ch.width, ch.height, ch.fps, ch.segment_seconds) == (1280, 720, 25, 6)
    assert (ch.video_codec, ch.audio_codec, ch.audio_rate, ch.audio_channels) == (
        "h264",
        "aac",
        48000,
        2,
    )
    assert card.music_policy.preferred_moods  # the demo clips' themes score against these


def test_the_sample_card_holds_the_spec_defaults() -> None:
    card = load_owner_card(SAMPLE).card
    defaults = OwnerCard()
    for section in (
        "editorial_profile",
        "schedule_policy",
        "quality_policy",
        "curator_policy",
        "autotune_policy",
    ):
        assert getattr(card, section) == getattr(defaults, section), section


def test_missing_sections_take_their_defaults() -> None:
    card = parse_owner_card(MINIMAL).card
    assert card.schedule_policy == OwnerCard().schedule_policy


# --- SPEC §2 rules ---------------------------------------------------------------------------


def test_schema_version_must_be_at_least_1() -> None:
    assert errors_of(MINIMAL + "schema_version: 0\n") == [
        "schema_version must be at least 1 (got 0)"
    ]


def test_the_allowlist_must_not_be_empty() -> None:
    errors = errors_of("search_policy:\n  allowlist_domains: []\n")
    assert errors == [
        "search_policy.allowlist_domains must not be empty "
        "(discovery keeps only media on allowlisted hosts)"
    ]


@pytest.mark.parametrize(("critical", "target"), [(60, 60), (61, 60)])
def test_buffer_critical_must_be_lower_than_target(critical: int, target: int) -> None:
    card = with_section(
        "schedule_policy",
        f"buffer_target_minutes: {target}\nbuffer_critical_minutes: {critical}\n",
    )
    assert errors_of(card) == [
        "schedule_policy.buffer_critical_minutes must be lower than buffer_target_minutes "
        f"(got {critical} >= {target})"
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "min_duration_sec: 600\nmax_duration_sec: 600\n",
            "search_policy.min_duration_sec must be lower than max_duration_sec (got 600 >= 600)",
        ),
        ("min_duration_sec: 0\n", "search_policy.min_duration_sec must be between 1 and 3600"),
        (
            "max_duration_sec: 1.0e+12\n",
            "search_policy.max_duration_sec must be between 60 and 172800",
        ),
        (
            "max_duration_sec: .nan\n",
            "search_policy.max_duration_sec must be a finite number (got nan)",
        ),
    ],
)
def test_the_duration_range_of_candidates_is_sane(body: str, error: str) -> None:
    card = "search_policy:\n  allowlist_domains: [example.com]\n" + textwrap.indent(body, "  ")
    assert any(e.startswith(error) for e in errors_of(card)), errors_of(card)


def test_the_duration_range_defaults_to_one_second_to_twelve_hours() -> None:
    policy = parse_owner_card(MINIMAL).card.search_policy
    assert (policy.min_duration_sec, policy.max_duration_sec) == (1.0, 43_200.0)
    warnings = parse_owner_card(
        MINIMAL + "  max_duration_sec: 300\neditorial_profile:\n  target_avg_duration_sec: 900\n"
    ).warnings
    assert any("target_avg_duration_sec 900 lies outside" in w for w in warnings), warnings


def test_max_daily_adjustment_is_at_most_20_pct() -> None:
    card = with_section("autotune_policy", "max_daily_adjustment_pct: 25\n")
    assert errors_of(card) == [
        "autotune_policy.max_daily_adjustment_pct must be between 0 and 20 (got 25.0)"
    ]
    assert parse_owner_card(with_section("autotune_policy", "max_daily_adjustment_pct: 20\n"))


@pytest.mark.parametrize(
    ("section", "body", "expected"),
    [
        (
            "editorial_profile",
            "max_consecutive_same_theme: 0",
            "editorial_profile.max_consecutive_same_theme must be between 1 and 100 (got 0)",
        ),
        (
            "schedule_policy",
            "planning_horizon_hours: 500",
            "schedule_policy.planning_horizon_hours must be between 1 and 168 (got 500)",
        ),
        (
            "schedule_policy",
            "commit_lead_hours: 30",
            "schedule_policy.commit_lead_hours must not exceed planning_horizon_hours "
            "(got 30 > 24)",
        ),
        (
            "schedule_policy",
            "nightly_local_time: '25:00'",
            "schedule_policy.nightly_local_time must be HH:MM, 24-hour (got '25:00')",
        ),
        (
            "schedule_policy",
            "timezone: Mars/Olympus",
            "schedule_policy.timezone is not a known IANA time zone (got 'Mars/Olympus')",
        ),
        (
            "quality_policy",
            "target_audio_lufs: 5",
            "quality_policy.target_audio_lufs must be between -70 and 0 (got 5.0)",
        ),
        (
            "quality_policy",
            "max_black_ratio: 1.5",
            "quality_policy.max_black_ratio must be between 0 and 1 (got 1.5)",
        ),
        (
            "curator_policy",
            "min_confidence: -0.1",
            "curator_policy.min_confidence must be between 0 and 1 (got -0.1)",
        ),
        (
            "music_policy",
            "block_music_ratio: 2",
            "music_policy.block_music_ratio must be between 0 and 1 (got 2.0)",
        ),
        ("channel", "width: 1281", "channel.width must be even for H.264 4:2:0 (got 1281)"),
        ("channel", "fps: 0", "channel.fps must be between 1 and 60 (got 0)"),
        ("channel", "video_codec: vp9", "channel.video_codec must be 'h264' (got 'vp9')"),
    ],
)
def test_out_of_range_values_name_the_field_and_the_bounds(
    section: str, body: str, expected: str
) -> None:
    assert errors_of(with_section(section, body + "\n")) == [expected]


def test_private_address_ranges_are_empty_by_default_and_read_as_cidr() -> None:
    assert parse_owner_card(MINIMAL).card.search_policy.allow_private_addresses == ()
    card = (
        "search_policy:\n  allowlist_domains: [example.com]\n"
        "  allow_private_addresses: [127.0.0.0/8, 192.168.1.20, 'fd00::/8']\n"
    )
    loaded = parse_owner_card(card)
    assert loaded.card.search_policy.allow_private_addresses == (
        "127.0.0.0/8",
        "192.168.1.20",
        "fd00::/8",
    )
    assert loaded.warnings == ["sources: none configured, discovery will find nothing"]


def test_unusable_private_address_ranges_are_errors_naming_the_entry() -> None:
    card = (
        "search_policy:\n  allowlist_domains: [example.com]\n"
        "  allow_private_addresses: [127.0.0.0/8, 10.0.0.1/8, my-lan, 0.0.0.0/0]\n"
    )
    errors = errors_of(card)
    assert errors[0] == (
        "search_policy.allow_private_addresses[1] has host bits set (got '10.0.0.1/8'); "
        "did you mean 10.0.0.0/8?"
    )
    assert errors[1].startswith(
        "search_policy.allow_private_addresses[2] must be an IP address or CIDR range "
        "like 192.168.1.0/24 (got 'my-lan'"
    )
    assert errors[2] == (
        "search_policy.allow_private_addresses[3] 0.0.0.0/0 would allow every IPv4 address; "
        "list only the ranges your sources live in"
    )
    assert errors_of(
        "search_policy:\n  allowlist_domains: [example.com]\n  allow_private_addresses: 10/8\n"
    ) == ["search_policy.allow_private_addresses must be a list (got string '10/8')"]


def test_a_public_range_among_private_addresses_is_a_warning() -> None:
    card = (
        "search_policy:\n  allowlist_domains: [example.com]\n"
        "  allow_private_addresses: [8.8.8.0/24]\n"
    )
    assert (
        "search_policy.allow_private_addresses[0] 8.8.8.0/24 is public: "
        "public addresses need no entry"
    ) in parse_owner_card(card).warnings


def test_candidate_and_probe_caps_have_defaults_and_bounds() -> None:
    policy = parse_owner_card(MINIMAL).card.search_policy
    assert (policy.max_candidates_per_source, policy.max_probes_per_window) == (500, 200)
    bad = MINIMAL + "  max_candidates_per_source: 0\n  max_probes_per_window: -1\n"
    assert errors_of(bad) == [
        "search_policy.max_candidates_per_source must be between 1 and 100000 (got 0)",
        "search_policy.max_probes_per_window must be between 1 and 100000 (got -1)",
    ]


def test_domains_must_be_host_names() -> None:
    card = "search_policy:\n  allowlist_domains: [example.com, 'https://x.com/path']\n"
    assert errors_of(card) == [
        "search_policy.allowlist_domains[1] must be a host name like example.com, "
        "without scheme or path (got 'https://x.com/path')"
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{name: a, kind: ftp, location: x}",
            "sources[0].kind must be one of folder, rss, jsonfeed (got 'ftp')",
        ),
        (
            "{name: a, kind: rss, location: feeds/x.xml}",
            "sources[0].location must be an http(s) feed URL for kind rss (got 'feeds/x.xml')",
        ),
        (
            "{name: a, kind: folder, location: 'http://x.com/'}",
            "sources[0].location must be a folder path, not a URL (got 'http://x.com/')",
        ),
        ("{name: a, kind: folder}", "sources[0].location is required"),
        (
            "{name: a, kind: jsonfeed, location: 'https://x.com/f.json', demo: true}",
            "sources[0].demo is only meaningful for folder sources",
        ),
    ],
)
def test_sources_are_checked_by_kind(source: str, expected: str) -> None:
    assert errors_of(MINIMAL + f"sources:\n  - {source}\n") == [expected]


def test_source_names_are_unique() -> None:
    card = MINIMAL + "sources:\n  - {name: a, kind: folder, location: x}\n"
    card += "  - {name: a, kind: folder, location: y}\n"
    assert errors_of(card) == ["sources[1].name 'a' is used by an earlier source"]


def test_every_problem_is_reported_at_once() -> None:
    card = "schema_version: 0\nsearch_policy: {allowlist_domains: []}\n"
    card += "schedule_policy: {buffer_critical_minutes: 90}\n"
    assert len(errors_of(card)) == 3


# --- syntax and types ----------------------------------------------------------------------


def test_a_yaml_syntax_error_gives_line_and_column() -> None:
    (error,) = errors_of("schema_version: 1\nsearch_policy:\n  allowlist_domains: [a.com\n")
    assert error.startswith("YAML syntax error at line 4, column 1:")


def test_bad_indentation_is_a_syntax_error_with_position() -> None:
    (error,) = errors_of("search_policy:\n  allowlist_domains: [a.com]\n bad: 1\n")
    assert error.startswith("YAML syntax error at line 3, column 2:")


def test_a_duplicate_key_is_refused_with_its_position() -> None:
    (error,) = errors_of(MINIMAL + "schema_version: 1\nschema_version: 2\n")
    assert error.startswith("YAML syntax error at line 4, column 1: found duplicate key")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("schema_version: one", "schema_version must be an integer (got string 'one')"),
        ("schema_version: 1.5", "schema_version must be an integer (got number 1.5)"),
        ("schema_version: true", "schema_version must be an integer (got boolean true)"),
        (
            "schedule_policy: {buffer_target_minutes: [60]}",
            "schedule_policy.buffer_target_minutes must be an integer (got a list)",
        ),
        (
            "quality_policy: {target_audio_lufs: loud}",
            "quality_policy.target_audio_lufs must be a number (got string 'loud')",
        ),
        (
            "curator_policy: {auto_apply: 'sometimes'}",
            "curator_policy.auto_apply must be true or false (got string 'sometimes')",
        ),
        (
            "music_policy: {preferred_moods: calm}",
            "music_policy.preferred_moods must be a list (got string 'calm')",
        ),
        (
            "music_policy: {preferred_moods: [calm, 3]}",
            "music_policy.preferred_moods[1] must be a string (got number 3)",
        ),
        ("safety_policy: [true]", "safety_policy must be a mapping (got a list)"),
        (
            "schedule_policy: {nightly_local_time: 3:30}",
            'schedule_policy.nightly_local_time must be a string (got number 210) (quote it, e.g. "3:30": unquoted, YAML reads it as a number)',  # noqa: E501
        ),
        ("sources: {name: a}", "sources must be a list (got a mapping)"),
    ],
)
def test_a_wrong_type_names_the_field_and_what_was_found(yaml_text: str, expected: str) -> None:
    assert errors_of(MINIMAL + yaml_text + "\n") == [expected]


def test_a_card_that_is_not_a_mapping_is_refused() -> None:
    assert errors_of("- a\n- b\n") == ["the card must be a YAML mapping of sections (got a list)"]


def test_unknown_keys_are_warnings_with_their_path_and_a_suggestion() -> None:
    loaded = parse_owner_card(
        MINIMAL
        + "schedule_policy: {buffer_target_minute: 50}\nmystery: 1\n"
        + "sources: [{name: a, kind: folder, location: x, colour: red}]\n"
    )
    assert loaded.warnings == [
        "mystery: unknown key, ignored",
        "schedule_policy.buffer_target_minute: unknown key, ignored "
        "(did you mean buffer_target_minutes?)",
        "sources[0].colour: unknown key, ignored",
    ]
    assert loaded.card.schedule_policy.buffer_target_minutes == 60


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OwnerCardError, match="file not found"):
        load_owner_card(tmp_path / "nope.yaml")


# --- diff, locations, CLI --------------------------------------------------------------------


def test_diff_names_each_changed_field_with_old_and_new() -> None:
    old = parse_owner_card(ORIGINAL).card
    new_text = ORIGINAL.replace("buffer_target_minutes: 60", "buffer_target_minutes: 75")
    new_text = new_text.replace('["calm", "focus"]', '["calm"]')
    new_text += "sources: [{name: d, kind: folder, location: media}]\n"
    diff = diff_cards(old, parse_owner_card(new_text).card)
    assert diff == {
        "music_policy.preferred_moods": (["calm", "focus"], ["calm"]),
        "schedule_policy.buffer_target_minutes": (60, 75),
        "sources": ([], [{"name": "d", "kind": "folder", "location": "media", "demo": False}]),
    }
    assert diff_cards(old, old) == {}


def test_relative_folder_locations_resolve_against_the_project_root(tmp_path: Path) -> None:
    card = load_owner_card(SAMPLE).card
    resolved = resolve_source_locations(card, tmp_path)
    assert resolved.sources[0].location == str(tmp_path / "runtime/media/demo")


def test_validate_file_exit_codes_and_output(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert validate_file(SAMPLE, out, err) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "owner_card_valid=true"
    assert lines[2].startswith("sha256=") and len(lines[2]) == len("sha256=") + 64
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 0\nextra: 1\nsearch_policy: {allowlist_domains: [a.com]}\n")
    out, err = io.StringIO(), io.StringIO()
    assert validate_file(bad, out, err) == 1
    assert "error: schema_version must be at least 1 (got 0)" in err.getvalue()
    assert "warning: extra: unknown key, ignored" in err.getvalue()
    assert out.getvalue().splitlines() == ["owner_card_valid=false", f"path={bad}", "errors=1"]
    out, err = io.StringIO(), io.StringIO()
    assert validate_file(bad, out, err, as_json=True) == 1
    verdict = json.loads(out.getvalue())
    assert verdict["owner_card_valid"] is False
    assert verdict["errors"] == ["schema_version must be at least 1 (got 0)"]
    assert "extra: unknown key, ignored" in verdict["warnings"]


# --- reload ----------------------------------------------------------------------------------


def test_reload_keeps_the_previous_card_when_the_new_one_is_invalid(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(ORIGINAL)
    holder, boot_errors = OwnerCardHolder.boot(path, store, T0)
    assert boot_errors == [] and store.latest_card_version().text == ORIGINAL  # type: ignore[union-attr]
    before = holder.card

    path.write_text(ORIGINAL.replace("buffer_critical_minutes: 20", "buffer_critical_minutes: 60"))
    ok, errors, diff = holder.reload(path, now=T0 + minutes(1))
    assert not ok and diff == {}
    assert errors == [
        "schedule_policy.buffer_critical_minutes must be lower than buffer_target_minutes "
        "(got 60 >= 60)"
    ]
    assert holder.card is before
    assert len(store.card_versions()) == 1
    (rejected,) = store.query_audit(event_type="owner_card_rejected")
    assert rejected.details["errors"] == errors


def test_a_valid_reload_applies_records_the_version_and_audits_the_diff(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(ORIGINAL)
    holder, _ = OwnerCardHolder.boot(path, store, T0)
    path.write_text(ORIGINAL.replace("min_confidence: 0.75", "min_confidence: 0.9"))
    result = holder.reload(path, now=T0 + minutes(5), who="operator")
    assert result.ok and result.diff == {"curator_policy.min_confidence": (0.75, 0.9)}
    assert holder.card.curator_policy.min_confidence == 0.9
    latest = store.latest_card_version()
    assert latest is not None and latest.sha256 == result.sha256 and latest.applied_by == "operator"
    applied = store.query_audit(event_type="owner_card_applied")
    assert applied[-1].details["diff"] == {
        "curator_policy.min_confidence": {"old": 0.75, "new": 0.9}
    }
    # reloading the same file again is not a new version
    assert holder.reload(path, now=T0 + minutes(6)).ok
    assert len(store.card_versions()) == 2


def test_boot_with_an_invalid_file_falls_back_to_the_last_applied_card(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(ORIGINAL)
    OwnerCardHolder.boot(path, store, T0)
    path.write_text("search_policy: [broken\n")
    holder, errors = OwnerCardHolder.boot(path, store, T0 + minutes(1))
    assert errors and errors[0].startswith("YAML syntax error")
    assert holder.card == parse_owner_card(ORIGINAL).card


def test_boot_with_an_invalid_file_and_no_history_refuses_to_start(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "card.yaml"
    path.write_text("schema_version: 0\n")
    with pytest.raises(OwnerCardError, match="schema_version must be at least 1"):
        OwnerCardHolder.boot(path, store, T0)


# --- any input: a card or a clear error, never a crash ----------------------------------------

_any_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _section_strategy() -> st.SearchStrategy[dict[str, object]]:
    sections: dict[str, st.SearchStrategy[object]] = {}
    for field in attrs.fields(OwnerCard):
        default = getattr(OwnerCard(), field.name)
        if attrs.has(type(default)):
            keys = [f.name for f in attrs.fields(type(default))]
            sections[field.name] = (
                st.dictionaries(st.sampled_from([*keys, "unknown_key"]), _any_value, max_size=4)
                | _any_value
            )
        else:
            sections[field.name] = _any_value
    sections["sources"] = (
        st.lists(
            st.dictionaries(
                st.sampled_from(["name", "kind", "location", "demo", "extra"]),
                _any_value,
                max_size=5,
            ),
            max_size=2,
        )
        | _any_value
    )
    return st.fixed_dictionaries({}, optional=sections)


@settings(max_examples=150, deadline=None)
@given(_section_strategy())
def test_any_mapping_gives_a_card_or_field_path_errors_never_a_crash(
    raw: dict[str, object],
) -> None:
    text = yaml.safe_dump(raw)
    try:
        loaded = parse_owner_card(text)
    except OwnerCardError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
    else:
        assert isinstance(loaded.card, OwnerCard)


def test_channel_identity_defaults_to_the_name_vvtv_and_no_logo() -> None:
    card = parse_owner_card(MINIMAL).card
    assert (card.channel.name, card.channel.logo) == ("vvtv", "")


@pytest.mark.parametrize(
    "logo", ["https://cdn.example.com/logo.png", "http://10.0.0.5/l.jpg", "config/logo.webp", ""]
)
def test_a_logo_is_an_http_url_or_a_local_image(logo: str) -> None:
    card = parse_owner_card(MINIMAL + f"channel: {{name: Voulez Vous, logo: '{logo}'}}\n").card
    assert (card.channel.name, card.channel.logo) == ("Voulez Vous", logo)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("name: '  '", "channel.name must not be empty"),
        ("name: " + "x" * 81, "channel.name must be at most 80 characters (got 81)"),
        (
            'name: "vv\\ntv"',
            "channel.name must not contain control characters (got 'vv\\ntv')",
        ),
        (
            'name: "vv\\x85tv"',
            "channel.name must not contain control characters (got 'vv\\x85tv')",
        ),
        (
            "logo: 'ftp://example.com/logo.png'",
            "channel.logo must be an http(s) URL with a host, or an image file "
            "(got 'ftp://example.com/logo.png')",
        ),
        (
            "logo: 'https://user:pw@example.com/logo.png'",
            "channel.logo must not carry credentials: viewers and IPTV apps see it",
        ),
        (
            "logo: config/logo.svg",
            "channel.logo must be an http(s) URL or an image file "
            "(.gif, .jpeg, .jpg, .png, .webp); got 'config/logo.svg'",
        ),
        (
            'logo: "logo.png\\r\\n#EXTINF:-1,evil"',
            "channel.logo must not contain control characters or spaces around it "
            "(got 'logo.png\\r\\n#EXTINF:-1,evil')",
        ),
        ("logo: [a]", "channel.logo must be a string (got a list)"),
    ],
)
def test_a_bad_channel_identity_names_the_field(body: str, expected: str) -> None:
    assert errors_of(MINIMAL + f"channel:\n  {body}\n") == [expected]


# --- push outputs ------------------------------------------------------------------------


def outputs_card(*entries: dict[str, object]) -> str:
    return MINIMAL + yaml.safe_dump({"outputs": list(entries)})


def test_outputs_default_to_none_and_a_good_one_loads_as_written() -> None:
    assert parse_owner_card(MINIMAL).card.outputs == ()
    youtube = {
        "name": "youtube",
        "url": "rtmps://a.rtmps.youtube.com:443/live2",
        "key_env": "VVTV_OUTPUT_KEY_YOUTUBE",
    }
    srt = {
        "name": "restream_srt",
        "url": "srt://ingest.example.com:9000?latency=2000000",
        "key_file": "/etc/vvtv/srt.key",
        "key_as": "passphrase",
        "enabled": False,
    }
    loaded = parse_owner_card(outputs_card(youtube, srt))
    first, second = loaded.card.outputs
    assert (first.name, first.url, first.key_env, first.enabled) == (
        "youtube",
        youtube["url"],
        "VVTV_OUTPUT_KEY_YOUTUBE",
        True,
    )
    assert (second.key_file, second.key_as, second.enabled) == (
        "/etc/vvtv/srt.key",
        "passphrase",
        False,
    )
    assert not [w for w in loaded.warnings if w.startswith("outputs")]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"name": "YouTube Main", "url": "rtmp://h/app", "key_env": "VVTV_OUTPUT_KEY_A"},
            "outputs[0].name must be 1-32 lowercase letters, digits, '-' or '_', starting with "
            "a letter or digit (got 'YouTube Main')",
        ),
        (
            {"name": "a", "url": "https://example.com/live"},
            "outputs[0].url must start with one of rtmp://, rtmps://, srt:// (got https://)",
        ),
        (
            {"name": "a", "url": "rtmp://user:hunter2@live.example.com/app/key"},
            "outputs[0].url must not carry credentials (user:password@): the card is stored and "
            "shown in audits; put the secret in key_env or key_file",
        ),
        (
            {"name": "a", "url": "rtmp://live.example.com", "key_env": "VVTV_OUTPUT_KEY_A"},
            "outputs[0].url must name the server's application, e.g. "
            "rtmp://a.rtmp.youtube.com/live2 (got 'rtmp://live.example.com')",
        ),
        (
            {"name": "a", "url": "rtmp://live.example.com/app"},
            "outputs[0].url names no stream after the application 'app': set key_env or "
            "key_file to the platform's stream key",
        ),
        (
            {"name": "a", "url": "rtmp://h/app?key=1", "key_env": "VVTV_OUTPUT_KEY_A"},
            "outputs[0].url must not have a ?query: an RTMP server takes the application in the "
            "path and the stream key from key_env/key_file",
        ),
        (
            {"name": "a", "url": "rtmp://h:99999/app", "key_env": "VVTV_OUTPUT_KEY_A"},
            "outputs[0].url has a malformed port (got 'rtmp://h:99999/app')",
        ),
        (
            {"name": "a", "url": "srt://h:9000?streamid=abc"},
            "outputs[0].url must not carry streamid=: it is a secret, give it with key_env or "
            "key_file and key_as: streamid",
        ),
        (
            {"name": "a", "url": "srt://h:9000?mode=listener"},
            "outputs[0].url: a push connects out, so mode must be caller",
        ),
        (
            {"name": "a", "url": "srt://h:9000/live"},
            "outputs[0].url: an srt:// URL has no path (got '/live')",
        ),
        (
            {"name": "a", "url": "rtmp://h/app\r\nx", "key_env": "VVTV_OUTPUT_KEY_A"},
            "outputs[0].url must be an rtmp://, rtmps://, srt:// URL of at most 2048 characters",
        ),
        (
            {"name": "a", "url": "rtmp://h/app", "key_env": "VVTV_CONTROL_SECRET"},
            "outputs[0].key_env must name a variable VVTV_OUTPUT_KEY_<NAME> (upper case, digits, "
            "'_'), so the card cannot send another secret of the daemon's environment to a "
            "server (got 'VVTV_CONTROL_SECRET')",
        ),
        (
            {"name": "a", "url": "rtmp://h/app", "key_env": "VVTV_OUTPUT_KEY_A", "key_file": "k"},
            "outputs[0]: set key_env or key_file, not both",
        ),
        (
            {
                "name": "a",
                "url": "rtmp://h/app",
                "key_env": "VVTV_OUTPUT_KEY_A",
                "key_as": "streamid",
            },
            "outputs[0].key_as must be one of stream for rtmp:// (got 'streamid')",
        ),
        (
            {"name": "a", "url": "srt://h:1", "key_as": "passphrase"},
            "outputs[0].key_as says what the key is, but no key_env or key_file is set",
        ),
        (
            {
                "name": "a",
                "url": "rtmp://h/app",
                "key_env": "VVTV_OUTPUT_KEY_A",
                "ca_file": "ca.pem",
            },
            "outputs[0].ca_file is only used by rtmps:// outputs",
        ),
        ({"url": "rtmp://h/app/s"}, "outputs[0].name is required"),
        (
            {"name": "a", "url": "rtmp://h/app/s", "enabled": "yes"},
            "outputs[0].enabled must be true or false (got string 'yes')",
        ),
    ],
)
def test_a_bad_output_is_refused_naming_the_field(entry: dict[str, object], expected: str) -> None:
    assert errors_of(outputs_card(entry)) == [expected]


def test_output_names_are_unique() -> None:
    one = {"name": "main", "url": "rtmp://h/app/a"}
    assert errors_of(outputs_card(one, one)) == [
        "outputs[1].name 'main' is used by an earlier output"
    ]


def test_an_error_about_a_url_never_quotes_its_credentials() -> None:
    (error,) = errors_of(outputs_card({"name": "a", "url": "rtmp://u:s3cr3t@h/app/x"}))
    assert "s3cr3t" not in error


def test_keys_sent_in_clear_or_left_in_the_url_are_warned_about() -> None:
    loaded = parse_owner_card(
        outputs_card(
            {"name": "plain", "url": "rtmp://live.example.com/app", "key_env": "VVTV_OUTPUT_KEY_P"},
            {"name": "doubled", "url": "rtmps://h/live2/abcd-efgh", "key_env": "VVTV_OUTPUT_KEY_D"},
            {"name": "local", "url": "rtmp://127.0.0.1/live/channel"},  # no key: a stream name
        )
    )
    assert [w for w in loaded.warnings if w.startswith("outputs")] == [
        "outputs[0] (plain): rtmp:// sends the stream key unencrypted; use rtmps:// where the "
        "platform offers it",
        "outputs[1] (doubled).url has a path after the application: with a key it is ignored "
        "(the key is the stream name); if it is the key itself, it is in the card in clear: "
        "move it to key_env or key_file",
    ]


def test_the_sample_card_shows_an_output_and_declares_none() -> None:
    text = SAMPLE.read_text()
    assert "# outputs:" in text and "key_env: VVTV_OUTPUT_KEY_YOUTUBE" in text
    assert load_owner_card(SAMPLE).card.outputs == ()


# --- the first-run card ---------------------------------------------------------------

DEMO = SAMPLE.with_name("owner_card.demo.yaml")


def test_the_first_run_card_is_the_default_and_the_sample_with_demo_thresholds() -> None:
    from vvtv.core.settings import Settings

    assert Settings.from_env({}).owner_card_path == Path("config") / DEMO.name
    demo, sample = load_owner_card(DEMO), load_owner_card(SAMPLE)
    assert demo.warnings == []
    # Everything but the two thresholds is the sample's, so the two cards cannot drift.
    policy = sample.card.schedule_policy
    assert (policy.buffer_target_minutes, policy.buffer_critical_minutes) == (60, 20)
    assert demo.card == attrs.evolve(
        sample.card,
        schedule_policy=attrs.evolve(policy, buffer_target_minutes=10, buffer_critical_minutes=5),
    )
    assert [s.demo for s in demo.card.sources] == [True]
    # And it says why, where an owner reads it.
    text = DEMO.read_text()
    assert "buffer_target_minutes: 10" in text and "production: 60 and 20" in text
