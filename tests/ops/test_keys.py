"""Backup keys: rotation archives, ensure rotates only when due, prune keeps what backups need."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from vvtv.backup import keys
from vvtv.core.clock import utc

NOW = utc(2026, 11, 22, 4, 0)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotate_creates_a_private_current_key_and_its_id(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    info = keys.rotate(key_dir, NOW)
    assert info.path == key_dir / "current.key"
    assert (key_dir / "current.key.id").read_text().strip() == info.id
    assert mode(key_dir) == 0o700
    assert mode(key_dir / "current.key") == 0o600
    assert mode(key_dir / "current.key.id") == 0o600
    assert len(keys.load(key_dir, info.id)) == 32
    assert info.id.startswith("20261122T040000Z-")


def test_rotate_archives_the_previous_key_which_stays_loadable(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    first = keys.rotate(key_dir, NOW)
    secret = keys.load(key_dir, first.id)
    second = keys.rotate(key_dir, NOW + timedelta(days=1))
    assert second.id != first.id
    archived = key_dir / "archive" / f"{first.id}.key"
    assert mode(archived) == 0o600 and mode(key_dir / "archive") == 0o700
    assert keys.load(key_dir, first.id) == secret
    assert keys.load(key_dir, second.id) != secret
    [info] = keys.archived(key_dir)
    assert info.created_at == NOW and info.retired_at == NOW + timedelta(days=1)


def test_ensure_rotates_only_when_missing_or_older_than_max_age(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    rotated, first = keys.ensure(key_dir, NOW, max_age_days=30)
    assert rotated
    rotated, same = keys.ensure(key_dir, NOW + timedelta(days=29), max_age_days=30)
    assert not rotated and same.id == first.id
    rotated, fresh = keys.ensure(key_dir, NOW + timedelta(days=31), max_age_days=30)
    assert rotated and fresh.id != first.id


def test_key_age_comes_from_the_recorded_creation_time_not_the_mtime(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    keys.rotate(key_dir, NOW)
    recent = (NOW + timedelta(days=40)).timestamp()
    os.utime(key_dir / "current.key", (recent, recent))  # e.g. copied back from offsite
    rotated, _ = keys.ensure(key_dir, NOW + timedelta(days=40), max_age_days=30)
    assert rotated


def test_prune_deletes_expired_archived_keys_but_keeps_those_still_needed(
    tmp_path: Path,
) -> None:
    key_dir = tmp_path / "keys"
    old_needed = keys.rotate(key_dir, NOW)
    old_unneeded = keys.rotate(key_dir, NOW + timedelta(days=1))
    recent = keys.rotate(key_dir, NOW + timedelta(days=2))
    keys.rotate(key_dir, NOW + timedelta(days=100))  # retires `recent` at day 100
    result = keys.prune(key_dir, NOW + timedelta(days=200), 180, {old_needed.id})
    assert result.pruned == [old_unneeded.id]
    assert result.kept_needed == [old_needed.id]
    assert keys.load(key_dir, old_needed.id)
    assert keys.load(key_dir, recent.id)
    with pytest.raises(keys.KeyNotFound, match=old_unneeded.id):
        keys.load(key_dir, old_unneeded.id)


def test_a_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    info = keys.rotate(key_dir, NOW)
    os.chmod(info.path, 0o644)
    with pytest.raises(keys.KeyStoreError, match="chmod 600"):
        keys.load(key_dir, info.id)


def test_a_damaged_key_file_is_named(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    info = keys.rotate(key_dir, NOW)
    text = info.path.read_text().replace("key=", "key=zz")
    info.path.write_text(text)
    with pytest.raises(keys.KeyStoreError, match=r"current\.key"):
        keys.current(key_dir)


def test_a_legacy_raw_key_is_still_read_with_its_id_file(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir(mode=0o700)
    raw = bytes(range(32))
    fd = os.open(key_dir / "current.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, raw.hex().encode())
    os.close(fd)
    (key_dir / "current.key.id").write_text("legacy-1\n")
    assert keys.load(key_dir, "legacy-1") == raw


def test_loading_an_unknown_key_says_where_to_put_it(tmp_path: Path) -> None:
    keys.rotate(tmp_path, NOW)
    with pytest.raises(keys.KeyNotFound, match=r"archive/nope\.key"):
        keys.load(tmp_path, "nope")
