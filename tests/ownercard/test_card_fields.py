"""No setting that silently does nothing (issue 17): every field of the OwnerCard acts
somewhere in the channel, or vvtv warns by name that it does not implement it.

``READERS`` says where each field acts; the walk over the card's fields fails on a field
missing from it (a new field nothing reads), on a module that no longer reads the field it is
listed for, and on a field listed as not implemented that some module has started to read
(then it belongs in ``READERS`` and must stop warning). Reads are attribute accesses found
in the module's syntax tree (``policy.block_music_ratio``), not words in docstrings.
"""

from __future__ import annotations

import ast
import functools
import typing
from pathlib import Path

import attrs
import pytest

from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.rules import NOT_IMPLEMENTED

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("vvtv", "actors")

# field path -> the product modules where it acts (not where it is only validated).
READERS: dict[str, tuple[str, ...]] = {
    # The card's format version: the loader warns on a newer one than it knows.
    "schema_version": ("vvtv/ownercard/rules.py",),
    "editorial_profile.target_avg_duration_sec": (
        "vvtv/discover/screening.py",
        "vvtv/plan/grid.py",
        "vvtv/air/curator.py",
    ),
    "editorial_profile.max_consecutive_same_theme": ("vvtv/plan/grid.py", "vvtv/air/curator.py"),
    "editorial_profile.min_unique_themes_per_block": ("vvtv/plan/grid.py", "vvtv/air/curator.py"),
    "search_policy.allowlist_domains": ("vvtv/discover/screening.py",),
    "search_policy.blacklist_domains": ("vvtv/discover/screening.py",),
    "search_policy.blocked_keywords": ("vvtv/discover/screening.py",),
    "search_policy.min_duration_sec": ("vvtv/discover/screening.py",),
    "search_policy.max_duration_sec": ("vvtv/discover/screening.py",),
    "search_policy.allow_private_addresses": ("vvtv/discover/screening.py",),
    "search_policy.max_candidates_per_source": ("vvtv/discover/screening.py",),
    "search_policy.max_probes_per_window": ("vvtv/discover/screening.py",),
    "schedule_policy.planning_horizon_hours": ("actors/discovery.py",),
    "schedule_policy.commit_lead_hours": ("actors/committer.py",),
    "schedule_policy.commit_interval_minutes": ("vvtv/plan/windows.py",),
    "schedule_policy.buffer_target_minutes": ("actors/buffer.py",),
    "schedule_policy.buffer_critical_minutes": ("actors/buffer.py", "vvtv/notify/alerts.py"),
    "schedule_policy.reserves_per_hour": ("vvtv/plan/grid.py",),
    "schedule_policy.nightly_local_time": ("vvtv/plan/windows.py",),
    "schedule_policy.timezone": ("actors/daemon.py",),
    "quality_policy.min_resolution_height": ("vvtv/discover/screening.py", "vvtv/media/qa.py"),
    "quality_policy.target_audio_lufs": ("vvtv/media/prepare.py", "vvtv/media/qa.py"),
    "quality_policy.max_audio_deviation_lufs": ("vvtv/media/qa.py",),
    "quality_policy.max_true_peak_dbtp": ("vvtv/media/prepare.py", "vvtv/media/qa.py"),
    "quality_policy.duration_tolerance_sec": ("vvtv/media/qa.py",),
    "quality_policy.max_black_ratio": ("vvtv/media/qa.py",),
    "quality_policy.max_silence_ratio": ("vvtv/media/qa.py",),
    "music_policy.preferred_moods": (
        "vvtv/discover/screening.py",
        "vvtv/nightly/autotune.py",
    ),
    "music_policy.block_music_ratio": ("vvtv/plan/grid.py",),
    "music_policy.music_tags": ("vvtv/plan/music.py",),
    "curator_policy.auto_apply": ("vvtv/air/curator.py",),
    "curator_policy.min_confidence": ("vvtv/air/curator.py",),
    "curator_policy.max_reorders_per_hour": ("vvtv/air/curator.py",),
    "curator_policy.lookahead_hours": ("vvtv/air/curator.py",),
    "curator_policy.frozen_minutes": ("vvtv/air/curator.py",),
    "safety_policy.require_hd_playback_confirmation": ("vvtv/discover/screening.py",),
    "autotune_policy.max_daily_adjustment_pct": ("vvtv/nightly/autotune.py",),
    "autotune_policy.enabled": ("vvtv/nightly/autotune.py",),
    "sources[].name": ("vvtv/discover/sources/collect.py",),
    "sources[].kind": ("vvtv/discover/sources/collect.py", "vvtv/discover/screening.py"),
    "sources[].location": ("vvtv/discover/sources/collect.py", "vvtv/discover/screening.py"),
    "sources[].demo": ("actors/daemon.py",),
    "channel.width": ("vvtv/media/prepare.py", "vvtv/media/qa.py"),
    "channel.height": ("vvtv/media/prepare.py", "vvtv/media/qa.py"),
    "channel.fps": ("vvtv/media/prepare.py", "vvtv/media/qa.py"),
    "channel.video_codec": ("vvtv/media/prepare.py",),
    "channel.audio_codec": ("vvtv/media/prepare.py",),
    "channel.audio_rate": ("vvtv/media/prepare.py",),
    "channel.audio_channels": ("vvtv/media/prepare.py",),
    "channel.video_bitrate_kbps": ("vvtv/media/prepare.py",),
    "channel.audio_bitrate_kbps": ("vvtv/media/prepare.py",),
    "channel.segment_seconds": ("vvtv/media/prepare.py", "actors/buffer.py"),
    # Lower rungs: encoded with every asset; the master playlist offers them.
    "channel.renditions[].height": ("vvtv/media/rungs.py",),
    "channel.renditions[].video_bitrate_kbps": ("vvtv/media/rungs.py",),
    "channel.name": ("actors/api.py",),
    "channel.logo": ("actors/api.py",),
    # Push outputs: the pusher follows the card (name, url, enabled); the target is made
    # from the entry (where to, the key and what it is to the server, the CA to trust).
    "outputs[].name": ("actors/outputs.py", "vvtv/outputs/targets.py"),
    "outputs[].url": ("actors/outputs.py", "vvtv/outputs/targets.py"),
    "outputs[].enabled": ("actors/outputs.py",),
    "outputs[].key_env": ("vvtv/outputs/targets.py",),
    "outputs[].key_file": ("vvtv/outputs/targets.py",),
    "outputs[].key_as": ("vvtv/outputs/targets.py",),
    "outputs[].ca_file": ("vvtv/outputs/targets.py",),
}


def field_paths(cls: type, prefix: str = "") -> list[str]:
    """Every leaf field of an attrs class, as dotted paths; a tuple of attrs values (the
    card's ``sources``) contributes its item's fields as ``sources[].name``."""
    hints = typing.get_type_hints(cls)
    paths: list[str] = []
    for field in attrs.fields(cls):
        path = f"{prefix}{field.name}"
        tp = hints[field.name]
        args = typing.get_args(tp)
        if attrs.has(tp):
            paths += field_paths(tp, path + ".")
        elif typing.get_origin(tp) is tuple and args and attrs.has(args[0]):
            paths += field_paths(args[0], path + "[].")
        else:
            paths.append(path)
    return paths


@functools.cache
def attributes_read(module: str) -> frozenset[str]:
    """Attribute names accessed in a module (``x.name`` and ``getattr(x, "name")``)."""
    tree = ast.parse((ROOT / module).read_text(), filename=module)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
        ):
            names.add(str(node.args[1].value))
    return frozenset(names)


def product_modules() -> list[str]:
    """Every product module outside the card's own package (which only shapes and checks it)."""
    return sorted(
        str(p.relative_to(ROOT))
        for top in PRODUCT
        for p in (ROOT / top).rglob("*.py")
        if "ownercard" not in p.parts
    )


def problems(
    paths: list[str], readers: dict[str, tuple[str, ...]], unimplemented: set[str]
) -> list[str]:
    """What is wrong with how each field is accounted for (empty when every field acts or
    is warned about)."""
    found: list[str] = []
    for path in paths:
        name = path.rsplit(".", 1)[-1]
        if path in unimplemented:
            readers_now = [m for m in product_modules() if name in attributes_read(m)]
            if path in readers:
                found.append(f"{path}: both read by {readers[path]} and warned as not implemented")
            elif readers_now and name not in _GENERIC:
                found.append(
                    f"{path}: listed as not implemented, but {readers_now} read it: "
                    "list it in READERS and drop its warning"
                )
            continue
        if path not in readers:
            found.append(
                f"{path}: nothing reads it. Make it act (and list where in READERS), or add "
                "it to vvtv.ownercard.rules.NOT_IMPLEMENTED so every reader warns by name"
            )
            continue
        for module in readers[path]:
            if name not in attributes_read(module):
                found.append(f"{path}: {module} does not read .{name}")
    for path in readers:
        if path not in paths:
            found.append(f"{path}: listed in READERS but not a field of the card")
    return found


# Names too common to tell a card read from another object's (none of the card's fields
# listed as not implemented has one today; the check above skips them if one ever does).
_GENERIC = frozenset({"name", "kind", "enabled", "width", "height", "fps", "location"})


def test_every_card_field_acts_somewhere_or_is_warned_about() -> None:
    assert problems(field_paths(OwnerCard), READERS, set(NOT_IMPLEMENTED)) == []


@attrs.frozen
class _Policy:
    reserves_per_hour: int = 2
    sparkle_level: float = 0.5


@attrs.frozen
class _Card:
    schedule_policy: _Policy = _Policy()


def test_the_walk_fails_on_a_field_nothing_reads() -> None:
    """The check itself: a card with one more field, read nowhere, is reported by name;
    so is a reader that stopped reading, and a stale entry."""
    paths = field_paths(_Card)
    assert paths == ["schedule_policy.reserves_per_hour", "schedule_policy.sparkle_level"]
    readers = {
        "schedule_policy.reserves_per_hour": ("vvtv/media/qa.py",),  # qa does not read it
        "schedule_policy.gone": ("vvtv/plan/grid.py",),
    }
    found = problems(paths, readers, set())
    assert any(p.startswith("schedule_policy.sparkle_level: nothing reads it") for p in found)
    assert (
        "schedule_policy.reserves_per_hour: vvtv/media/qa.py does not read .reserves_per_hour"
        in (found)
    )
    assert any(p.startswith("schedule_policy.gone: listed in READERS but not") for p in found)


def test_a_field_warned_as_not_implemented_must_really_be_read_by_nothing() -> None:
    # reserves_per_hour is read by the planner: warning that it does nothing would be false.
    found = problems(
        ["schedule_policy.reserves_per_hour"], {}, {"schedule_policy.reserves_per_hour"}
    )
    assert found and "listed as not implemented, but" in found[0]


@pytest.mark.parametrize("path", sorted(NOT_IMPLEMENTED))
def test_each_unimplemented_field_is_a_real_field_of_the_card(path: str) -> None:
    assert path in field_paths(OwnerCard)
