"""Opening the state database safely, migrating it, and running transactions.

Threading model: one write connection per ``Store``, opened with
``check_same_thread=False`` and guarded by a re-entrant lock. Every public
method takes the lock for its own (short) transaction; ``with
store.transaction():`` holds it across several calls so they commit or roll
back together. So the same ``Store`` may be used from the Trio thread (quick
writes) and from ``trio.to_thread.run_sync`` workers (slow work) without races.
Slow read-only work (the audit export, large audit queries) opens its own
read-only connection so it never holds the lock; retention deletes in small
batches, each its own transaction, so the event loop never waits long.

Start-up safety: an existing file is never replaced by a fresh database. A file
that is not a database, fails the integrity check of the tables recovery reads,
or was written by a newer vvtv stops start-up with a ``StoreError`` that says
what is wrong and how to restore a backup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from vvtv.core.clock import Clock
from vvtv.store.schema import MIGRATIONS, RECOVERY_TABLES, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
SQLITE_MAGIC = b"SQLite format 3\x00"
RESTORE_HINT = (
    "To restore the last good backup: stop the daemon, then run "
    "`vvtv runbook restore-metadata <backup dir>` (backups live in runtime/backups/<timestamp>/; "
    "check one first with `vvtv runbook verify-backup <dir>`)."
)


class StoreError(RuntimeError):
    """The state database cannot be used; the message says why and what to do."""


class NotFoundError(StoreError, KeyError):
    """A lookup by id for something the store does not hold."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class FencingError(StoreError):
    """A write guarded by a fencing token from a leader that is no longer the leader."""


def _refuse(path: Path, problem: str) -> StoreError:
    return StoreError(f"state database {path} {problem}. Start-up stopped. {RESTORE_HINT}")


class StoreBase:
    """Connection, pragmas, migrations and transactions; the entity methods are mixins."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock | None = None) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0  # transaction nesting on the lock-holding thread
        self.db = sqlite_utils.Database(conn)  # for ad hoc queries and tooling

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = True,
        check: bool = True,
        clock: Clock | None = None,
    ) -> Self:
        """Open (creating if ``create`` and absent), check and migrate the database at ``path``.

        ``check`` runs SQLite's quick_check on the tables recovery reads (not the large
        append-only audit and metric tables, which backups verify in full). ``clock``
        stamps bookkeeping times that callers may omit (outbox created/done times);
        without one the wall clock is used.
        """
        path = Path(path)
        fresh = not path.exists()
        if fresh:
            if not create:
                raise StoreError(f"state database {path} does not exist")
            wal = path.with_name(path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise _refuse(
                    path,
                    f"is missing but its write-ahead log {wal.name} is not: the database was "
                    "deleted or moved while holding state",
                )
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            _check_file(path)
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise _refuse(path, f"cannot be opened ({exc})") from exc
        store = cls(conn, path, clock)
        try:
            # Look before touching: nothing below writes until the file is known to be ours.
            version = store.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"state database {path} has schema version {version}, newer than this vvtv "
                    f"supports ({SCHEMA_VERSION}): it was written by a newer vvtv. Upgrade vvtv, "
                    f"or {RESTORE_HINT[0].lower()}{RESTORE_HINT[1:]}"
                )
            if version == 0 and not fresh and store._has_tables():
                raise _refuse(
                    path,
                    "is an SQLite database but not a vvtv one (it has tables but no vvtv schema "
                    "version); point VVTV_STATE_DB at the right file",
                )
            if check and not fresh:
                store._quick_check()
            store._configure()
            store._migrate(version)
        except StoreError:
            conn.close()
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"state database {path} is locked by another process ({exc}); is another "
                    "vvtv running on it? Stop it, or point VVTV_STATE_DB elsewhere."
                ) from exc
            raise _refuse(path, f"is unreadable or corrupt ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _refuse(path, f"is unreadable or corrupt ({exc})") from exc
        return store

    def _configure(self) -> None:
        c = self._conn
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"state database {self.path}: cannot enable WAL (got {mode})")
        c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA foreign_keys=ON")

    def _has_tables(self) -> bool:
        row = self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        return bool(row.fetchone()[0])

    def _quick_check(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        problems: list[str] = []
        for table in ("sqlite_master", *RECOVERY_TABLES):
            if table != "sqlite_master" and table not in tables:
                continue
            rows = self._conn.execute(f"PRAGMA quick_check({table})").fetchall()
            problems += [r[0] for r in rows if r[0] != "ok"]
        if problems:
            raise _refuse(self.path, "failed its integrity check: " + "; ".join(problems[:5]))

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in _statements(MIGRATIONS[target - 1]):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={target}")

    def now(self) -> datetime:
        """The store's notion of now, for bookkeeping stamps callers did not give."""
        return self._clock.now() if self._clock else datetime.now(UTC)

    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def check_integrity(self, *, full: bool = True) -> list[str]:
        """SQLite's integrity_check (or quick_check) on the whole database; [] when healthy."""
        pragma = "integrity_check" if full else "quick_check"
        with self._lock:
            rows = self._conn.execute(f"PRAGMA {pragma}").fetchall()
        return [r[0] for r in rows if r[0] != "ok"]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: everything inside commits together or not at all.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so two processes never
        deadlock upgrading a read lock. A nested use is a savepoint: if it fails, its
        own writes are undone and the error propagates; the outer block may catch it
        and carry on with the rest of its transaction intact.
        """
        with self._lock:
            if self._depth:
                name = f"sp{self._depth}"
                self._conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self._conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # e.g. disk full: leave no transaction open
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _read_one(self, sql: str, params: Any = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A separate read-only connection for slow reads (sees a consistent snapshot)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("BEGIN")
            yield conn
        finally:
            conn.close()


def _check_file(path: Path) -> None:
    """Refuse what is clearly not a vvtv database before SQLite touches it."""
    if not path.is_file():
        raise _refuse(path, "exists but is not a regular file")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc})") from exc
    if not header:
        raise _refuse(
            path,
            "is empty (0 bytes), so it holds no channel state; it is refused rather than "
            "silently replaced. If a fresh channel is intended, delete the file",
        )
    if header != SQLITE_MAGIC:
        raise _refuse(path, "is not an SQLite database (bad header: corrupt or overwritten)")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (triggers contain ';' inside BEGIN…END)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
