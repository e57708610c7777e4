"""A consistent copy of the live state database, and the facts a manifest records about it.

``sqlite3.Connection.backup`` in a single step copies the database inside one read
transaction: in WAL mode the daemon keeps writing meanwhile and the copy is exactly
the state at one commit (no torn page set). Stepping page by page would let each
concurrent write restart the copy. The copy is then switched to rollback-journal
mode so it is one self-contained file, and checked with ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from vvtv.backup.errors import BackupError, BackupUsageError

Progress = Callable[[str], None]
CHUNK = 1024 * 1024
TMP_PREFIX = ".tmp-"
STALE_TMP_AGE = timedelta(hours=6)


def no_progress(_: str) -> None:
    """The default progress sink: silence."""


@attrs.frozen
class DbFacts:
    """What the manifest records about a database copy."""

    user_version: int
    row_counts: dict[str, int]
    integrity: str


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(path.resolve()))}?mode={mode}"


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open a database file that must not change (a backup copy): read-only, immutable."""
    return sqlite3.connect(_uri(path, "ro") + "&immutable=1", uri=True)


def snapshot_db(source: Path, dest: Path, *, busy_timeout_s: float = 30.0) -> None:
    """Copy the live database at ``source`` to a new file ``dest`` (mode 0600)."""
    if not source.is_file():
        raise BackupUsageError(
            f"state db not found at {source}: set VVTV_STATE_DB to the daemon's database"
        )
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        # mode=rw: never create an empty database where the live one should be.
        src = sqlite3.connect(_uri(source, "rw"), uri=True, timeout=busy_timeout_s)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open state db {source}: {exc}") from exc
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(
            f"cannot snapshot state db {source}: {exc}. If the live database is damaged, "
            "restore the newest good backup"
        ) from exc
    finally:
        src.close()


def db_facts(conn: sqlite3.Connection) -> DbFacts:
    """Integrity verdict, schema version and row count of every table."""
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    integrity = "ok" if rows == ["ok"] else "; ".join(str(r) for r in rows[:5])
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    counts = {}
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        counts[name] = int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
    user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return DbFacts(user_version, counts, integrity)


def facts_of_file(path: Path) -> DbFacts:
    conn = open_readonly(path)
    try:
        return db_facts(conn)
    finally:
        conn.close()


def check_db_facts(path: Path, manifest: dict[str, Any]) -> str | None:
    """None when the copy at ``path`` is sound and matches the manifest, else the problem."""
    try:
        facts = facts_of_file(path)
    except sqlite3.DatabaseError as exc:
        return f"not a readable SQLite database ({exc})"
    if facts.integrity != "ok":
        return f"PRAGMA integrity_check failed: {facts.integrity}"
    if facts.row_counts != manifest.get("row_counts"):
        return f"row counts {facts.row_counts} differ from the manifest's"
    database = manifest.get("database", {})
    if isinstance(database, dict) and database.get("user_version", facts.user_version) != (
        facts.user_version
    ):
        return "schema version (PRAGMA user_version) differs from the manifest's"
    return None


def backup_name(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@contextlib.contextmanager
def staging_dir(backup_root: Path, now: datetime) -> Iterator[Path]:
    """A private (0700) directory to build a backup in; removed unless published.

    Building aside and renaming at the end means a half-made backup never looks like a
    backup, and a failure (or a cancelled build) leaves nothing behind.
    """
    backup_root.mkdir(parents=True, exist_ok=True)
    sweep_stale(backup_root, now)
    path = backup_root / f"{TMP_PREFIX}{backup_name(now)}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def sweep_stale(backup_root: Path, now: datetime) -> None:
    """Remove staging dirs left by a killed backup (they may hold a plaintext snapshot)."""
    for leftover in backup_root.glob(f"{TMP_PREFIX}*"):
        try:
            age = now.timestamp() - leftover.stat().st_mtime
        except FileNotFoundError:
            continue
        if age > STALE_TMP_AGE.total_seconds():
            shutil.rmtree(leftover, ignore_errors=True)


def publish(staging: Path, backup_root: Path, now: datetime) -> Path:
    """Rename the finished staging dir to ``<UTC %Y%m%dT%H%M%SZ>`` (``-2``, ``-3``... if taken)."""
    base = backup_name(now)
    for attempt in range(1, 1000):
        target = backup_root / (base if attempt == 1 else f"{base}-{attempt}")
        if target.exists():
            continue
        try:
            os.rename(staging, target)
        except OSError:
            if target.exists():
                continue  # another backup took the name between the check and the rename
            raise
        os.chmod(target, 0o750)
        fsync_dir(backup_root)
        return target
    raise BackupError(f"cannot find a free backup name for {base} in {backup_root}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
