"""Start-up safety: migrations, refusal of newer or corrupt databases, and durability of every
committed transition when the process is killed mid-write."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.store.state_builders import T0, plan
from vvtv.core.model import PlanState
from vvtv.store import SCHEMA_VERSION, Store, StoreError, open_store
from vvtv.store.schema import V1

RESTORE = "vvtv runbook restore-metadata"


def make_db(path: Path, n_plans: int = 50) -> None:
    s = open_store(path)
    s.insert_plans([plan(f"p{i}", title="x" * 200) for i in range(n_plans)])
    s.close()  # checkpoints the WAL into the main file


def test_a_new_database_is_created_at_the_current_schema_version(tmp_path: Path) -> None:
    s = open_store(tmp_path / "deep" / "dir" / "vvtv.db")
    assert s.schema_version() == SCHEMA_VERSION
    conn = s.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    s.close()


def test_every_query_the_daemon_runs_uses_an_index(store: Store) -> None:
    conn = store.db.conn
    queries = [  # as the store runs them: with parameters
        "SELECT data FROM plans WHERE state IN (?) AND start_at >= ? AND start_at < ?",
        "SELECT 1 FROM plans WHERE normalized_url = ? LIMIT 1",
        "SELECT 1 FROM plans WHERE normalized_title = ? LIMIT 1",
        "SELECT data FROM plans WHERE hour_window = ? AND state = ?",
        "SELECT data FROM assets WHERE checksum = ?",
        "SELECT data FROM assets WHERE plan_id = ?",
        "SELECT data FROM assets WHERE qa_status = ? AND emergency_eligible = 1",
        "SELECT count(*) FROM assets WHERE created_at >= ? AND created_at < ?",
        "SELECT data FROM queue_entries WHERE end_at > ? AND status != 'SKIPPED'",
        "SELECT count(*) FROM queue_entries WHERE start_at >= ? AND start_at < ?",
        "SELECT * FROM audit_events WHERE at >= ? AND at < ?",
        "SELECT count(*) FROM audit_events WHERE reason_code = ? AND at >= ?",
        "SELECT count(*) FROM audit_events WHERE event_type = ? AND at >= ?",
        "SELECT * FROM audit_events WHERE plan_id = ?",
        "SELECT data FROM metric_samples WHERE at >= ? AND at < ?",
        "SELECT id FROM outbox WHERE topic = ? AND status = ? ORDER BY id",
        "SELECT id FROM outbox WHERE topic = ? AND dedupe_key = ?",
        "DELETE FROM outbox WHERE topic = ? AND coalesce_key = ? AND status = ?",
    ]
    for sql in queries:
        params = ("x",) * sql.count("?")
        detail = " ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "USING" in detail and "SCAN" not in detail, (sql, detail)


def test_an_older_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1)  # the schema as version 1 shipped it
    conn.execute(
        "INSERT INTO plans (plan_id, state, discovered_at, data) VALUES (?, ?, ?, ?)",
        (
            "old-plan",
            "CANDIDATE",
            "2026-03-01T12:00:00.000000Z",
            '{"plan_id": "old-plan", "source_url": "https://example.com/v.mp4", "title": "Old",'
            ' "duration_sec": 60.0, "discovered_at": "2026-03-01T12:00:00Z"}',
        ),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    s = open_store(path)
    assert s.schema_version() == SCHEMA_VERSION
    old = s.require_plan("old-plan")
    assert old.title == "Old" and old.state is PlanState.CANDIDATE  # defaults for new fields
    assert s.enqueue("cloud", {"x": 1}, now=T0) > 0  # a table added by migration 2
    s.close()


def test_a_database_from_a_newer_vvtv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    make_db(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_store(path)
    assert path.read_bytes() == before
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 5}, newer than this vvtv supports" in message
    assert RESTORE in message


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    path.write_bytes(b"this is a text file, not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_store(path)
    assert "is not an SQLite database" in str(info.value) and RESTORE in str(info.value)
    assert path.read_bytes() == before  # never a silent fresh database over an existing file


def test_another_applications_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a vvtv one"):
        open_store(path)
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["photos"]
    conn.close()


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    path.touch()
    with pytest.raises(StoreError, match="is empty"):
        open_store(path)


def test_a_directory_in_place_of_the_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "vvtv.db").mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        open_store(tmp_path / "vvtv.db")


def test_a_missing_database_with_a_leftover_wal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    (tmp_path / "vvtv.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 60)
    with pytest.raises(StoreError, match="is missing but its write-ahead log"):
        open_store(path)
    assert not path.exists()


def test_a_missing_database_is_refused_when_creation_is_not_allowed(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "vvtv.db", create=False)


def test_a_truncated_database_is_refused_with_restore_guidance(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    make_db(path, n_plans=300)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 3)
    with pytest.raises(StoreError) as info:
        open_store(path)
    assert "Start-up stopped" in str(info.value) and RESTORE in str(info.value)


def test_a_corrupt_page_in_the_plans_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    make_db(path, n_plans=300)
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'plans'").fetchone()[0]
    conn.close()
    with path.open("r+b") as f:  # scribble over the table's root page, keep the file size
        f.seek((root - 1) * page_size + 8)
        f.write(os.urandom(page_size - 16))
    with pytest.raises(StoreError) as info:
        open_store(path)
    message = str(info.value)
    assert ("integrity check" in message or "corrupt" in message) and RESTORE in message


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from vvtv.core.model import PlanItem, PlanState
    from vvtv.store import open_store

    store = open_store(sys.argv[1])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    i = 0
    while True:
        pid = f"p{i}"
        store.insert_plans([PlanItem(pid, f"https://example.com/{i}", "t", 60.0, t0)])
        store.transition_plan(pid, PlanState.SCHEDULED, t0, start_at=t0 + timedelta(minutes=i))
        print(pid, flush=True)  # acknowledged only after the commit returned
        i += 1
    """
)


def test_every_committed_transition_survives_a_sigkill_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "vvtv.db"
    open_store(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    acknowledged: list[str] = []
    try:
        assert proc.stdout is not None
        while len(acknowledged) < 300:
            line = proc.stdout.readline()
            assert line, "writer died before acknowledging enough writes"
            acknowledged.append(line.strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    s = open_store(path)
    states = {p.plan_id: p.state for p in s.list_plans(limit=100_000).items}
    assert all(states.get(pid) is PlanState.SCHEDULED for pid in acknowledged)
    # every plan is either fully transitioned with its audit event, or still a candidate
    transitions = s.count_audit(event_type="plan_transition")
    assert transitions == sum(1 for st in states.values() if st is PlanState.SCHEDULED)
    assert s.check_integrity() == []
    s.close()
