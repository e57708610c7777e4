"""Backups: consistent while the daemon writes, tamper-evident, restorable row for row."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from vvtv import backup
from vvtv.backup import keys
from vvtv.core.clock import utc

from .conftest import dump, spawn_fake_daemon

NOW = utc(2026, 11, 22, 4, 0)

WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY, v TEXT)")
conn.execute("CREATE TABLE IF NOT EXISTS b (id INTEGER PRIMARY KEY, v TEXT)")
i = 0
while True:
    # One transaction writes both tables: a consistent snapshot has equal counts.
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO a (v) VALUES (?)", ("x" * 200,))
    conn.execute("INSERT INTO b (v) VALUES (?)", ("y" * 200,))
    conn.execute("COMMIT")
    i += 1
    if i == 1:
        print("committed", flush=True)  # the backups below start after a first commit
"""


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def test_backup_while_another_process_writes_is_a_consistent_snapshot(
    runtime: dict[str, Path],
) -> None:
    db = runtime["state_db"]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "committed"
        made = [
            backup.backup_metadata(db, runtime["owner_card"], runtime["backups"], NOW)
            for _ in range(3)
        ]
    finally:
        writer.kill()
        writer.wait()
    counts = []
    for directory in made:
        manifest = backup.verify_backup(directory)
        rows = manifest["row_counts"]
        assert rows["a"] == rows["b"] > 0  # never half a transaction
        counts.append(rows["a"])
    assert counts == sorted(counts)  # later snapshots saw more committed writes
    assert [d.name for d in made] == [
        "20261122T040000Z",
        "20261122T040000Z-2",
        "20261122T040000Z-3",
    ]


def test_a_backup_holds_the_db_the_card_and_a_manifest_with_checksums(
    runtime: dict[str, Path],
) -> None:
    made = backup.backup_metadata(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], NOW
    )
    assert re.fullmatch(r"\d{8}T\d{6}Z", made.name)
    assert sorted(os.listdir(made)) == ["manifest.json", "owner_card.yaml", "state.db"]
    manifest = json.loads((made / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["kind"] == "plain"
    assert manifest["created_at"] == "2026-11-22T04:00:00Z"
    assert manifest["row_counts"] == {"audit_events": 400, "plans": 200}
    assert manifest["database"] == {"integrity_check": "ok", "user_version": 3}
    card = manifest["files"]["owner_card.yaml"]
    assert card["size"] == runtime["owner_card"].stat().st_size
    assert len(card["sha256"]) == 64
    assert list(runtime["backups"].iterdir()) == [made]  # no staging left behind


@pytest.mark.parametrize("name", ["state.db", "owner_card.yaml", "manifest.json"])
@pytest.mark.parametrize("where", [0, 0.5, -2])
def test_verify_names_the_file_when_any_byte_of_a_plain_backup_flips(
    runtime: dict[str, Path], name: str, where: float
) -> None:
    made = backup.backup_metadata(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], NOW
    )
    target = made / name
    flip_byte(target, int(where * target.stat().st_size) if where >= 0 else int(where))
    with pytest.raises(backup.BackupVerifyError) as caught:
        backup.verify_backup(made)
    assert caught.value.file.name == name


@pytest.mark.parametrize("name", ["payload.enc", "manifest.json"])
@pytest.mark.parametrize("where", [0, 0.3, 0.5, -1])
def test_verify_secure_names_the_file_when_any_byte_flips(
    runtime: dict[str, Path], name: str, where: float
) -> None:
    keys.rotate(runtime["keys"], NOW)
    made = backup.backup_metadata_secure(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], runtime["keys"], NOW
    )
    target = made / name
    flip_byte(target, int(where * target.stat().st_size) if where >= 0 else int(where))
    with pytest.raises(backup.BackupVerifyError) as caught:
        backup.verify_backup_secure(made, runtime["keys"])
    assert caught.value.file.name == name


def test_a_truncated_secure_payload_fails_verification(runtime: dict[str, Path]) -> None:
    keys.rotate(runtime["keys"], NOW)
    made = backup.backup_metadata_secure(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], runtime["keys"], NOW
    )
    payload = made / "payload.enc"
    payload.write_bytes(payload.read_bytes()[:-100])
    with pytest.raises(backup.BackupVerifyError, match=r"payload\.enc"):
        backup.verify_backup_secure(made, runtime["keys"])


def test_secure_backup_leaves_no_plaintext_on_disk(runtime: dict[str, Path]) -> None:
    conn = sqlite3.connect(runtime["state_db"])
    conn.execute("INSERT INTO plans (title) VALUES ('a-very-recognisable-plaintext-marker')")
    conn.commit()
    conn.close()
    keys.rotate(runtime["keys"], NOW)
    made = backup.backup_metadata_secure(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], runtime["keys"], NOW
    )
    assert sorted(os.listdir(made)) == ["manifest.json", "payload.enc"]
    assert list(runtime["backups"].iterdir()) == [made]
    for path in made.iterdir():
        data = path.read_bytes()
        assert b"recognisable-plaintext-marker" not in data
        assert b"allowlist_domains" not in data
    manifest = json.loads((made / "manifest.json").read_text())
    assert manifest["encryption"]["algorithm"] == "AES-256-GCM"
    assert manifest["encryption"]["key_id"] == keys.current(runtime["keys"]).id


def test_restore_round_trip_preserves_every_row_and_keeps_the_replaced_files(
    runtime: dict[str, Path],
) -> None:
    db, card = runtime["state_db"], runtime["owner_card"]
    before = dump(db)
    card_before = card.read_text()
    made = backup.backup_metadata(db, card, runtime["backups"], NOW)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM plans WHERE id % 2 = 0")
    conn.execute("INSERT INTO audit_events (at, details) VALUES ('later', '{}')")
    conn.commit()
    conn.close()
    card.write_text("schema_version: 2\n")
    result = backup.restore_metadata(made, db, card, NOW + timedelta(hours=1))
    assert dump(db) == before
    assert card.read_text() == card_before
    stamp = "20261122T050000Z"
    assert db.with_name(f"vvtv.db.pre-restore-{stamp}") in result.previous
    assert card.with_name(f"owner_card.yaml.pre-restore-{stamp}").read_text() == (
        "schema_version: 2\n"
    )
    assert not db.with_name("vvtv.db-wal").exists()  # the old WAL went aside with the old db


def test_a_secure_backup_made_with_an_old_key_restores_after_rotation(
    runtime: dict[str, Path],
) -> None:
    db, card, key_dir = runtime["state_db"], runtime["owner_card"], runtime["keys"]
    before = dump(db)
    old = keys.rotate(key_dir, NOW)
    made = backup.backup_metadata_secure(db, card, runtime["backups"], key_dir, NOW)
    keys.rotate(key_dir, NOW + timedelta(days=31))
    keys.rotate(key_dir, NOW + timedelta(days=62))
    assert backup.key_ids_in_use(runtime["backups"]) == {old.id}
    later = NOW + timedelta(days=400)
    pruned = keys.prune(key_dir, later, 180, backup.key_ids_in_use(runtime["backups"]))
    assert pruned.kept_needed == [old.id]
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM plans")
    conn.commit()
    conn.close()
    backup.restore_metadata_secure(made, db, card, key_dir, later)
    assert dump(db) == before


def test_a_secure_backup_whose_key_is_gone_is_a_usage_error_naming_the_key(
    runtime: dict[str, Path],
) -> None:
    key_dir = runtime["keys"]
    info = keys.rotate(key_dir, NOW)
    made = backup.backup_metadata_secure(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], key_dir, NOW
    )
    keys.rotate(key_dir, NOW + timedelta(days=1))
    (key_dir / "archive" / f"{info.id}.key").unlink()
    with pytest.raises(backup.BackupUsageError, match=info.id) as caught:
        backup.verify_backup_secure(made, key_dir)
    assert caught.value.exit_code == 2


def test_restore_is_refused_while_a_daemon_holds_the_scheduler_lock(
    runtime: dict[str, Path],
) -> None:
    from vvtv.store import Store

    db = runtime["root"] / "state" / "store.db"
    store = Store.open(db)
    made = backup.backup_metadata(db, runtime["owner_card"], runtime["backups"], NOW)
    assert store.acquire_lock("scheduler", "daemon-on-host", NOW) is not None
    store.close()
    with pytest.raises(backup.DaemonRunning, match="daemon-on-host") as caught:
        backup.restore_metadata(made, db, runtime["owner_card"], NOW + timedelta(seconds=10))
    assert "systemctl stop vvtv" in str(caught.value)
    # --force overrides the live-daemon check (and only that)
    result = backup.restore_metadata(
        made, db, runtime["owner_card"], NOW + timedelta(seconds=10), force=True
    )
    assert result.forced
    # once the lock has expired, no force is needed
    backup.restore_metadata(made, db, runtime["owner_card"], NOW + timedelta(minutes=5))


def test_restore_is_refused_while_the_pid_file_names_a_live_process(
    runtime: dict[str, Path],
) -> None:
    made = backup.backup_metadata(
        runtime["state_db"], runtime["owner_card"], runtime["backups"], NOW
    )
    daemon = spawn_fake_daemon()
    pid_file = runtime["root"] / "vvtv.pid"
    pid_file.write_text(f"{daemon.pid}\n")
    try:
        with pytest.raises(backup.DaemonRunning, match=f"pid {daemon.pid}"):
            backup.restore_metadata(
                made, runtime["state_db"], runtime["owner_card"], NOW, pid_file=pid_file
            )
    finally:
        daemon.kill()
        daemon.wait()
    # a stale pid file (the process is gone) does not block
    backup.restore_metadata(
        made, runtime["state_db"], runtime["owner_card"], NOW, pid_file=pid_file
    )


def test_restore_verifies_first_and_leaves_the_live_files_alone_on_damage(
    runtime: dict[str, Path],
) -> None:
    db, card = runtime["state_db"], runtime["owner_card"]
    made = backup.backup_metadata(db, card, runtime["backups"], NOW)
    flip_byte(made / "state.db", 5000)
    live = db.read_bytes()
    with pytest.raises(backup.BackupVerifyError, match=r"state\.db"):
        backup.restore_metadata(made, db, card, NOW, force=True)
    assert db.read_bytes() == live
    assert not list(db.parent.glob("*pre-restore*"))
    assert not list(db.parent.glob(".*restore*"))


def test_backup_of_a_missing_state_db_is_a_usage_error(runtime: dict[str, Path]) -> None:
    with pytest.raises(backup.BackupUsageError, match="VVTV_STATE_DB"):
        backup.backup_metadata(
            runtime["root"] / "nope.db", runtime["owner_card"], runtime["backups"], NOW
        )
    assert not (runtime["root"] / "nope.db").exists()  # never created an empty one
    assert not [p for p in runtime["backups"].iterdir()]


def test_verify_of_something_that_is_not_a_backup_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupUsageError, match="does not exist"):
        backup.verify_backup(tmp_path / "missing")
    with pytest.raises(backup.BackupUsageError, match="not a vvtv backup"):
        backup.verify_backup(tmp_path)
