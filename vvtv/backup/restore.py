"""``restore-metadata`` and ``restore-metadata-secure``: put a verified backup back in place.

Order of work, so that a failure at any point leaves the live files as they were:

1. refuse while a daemon holds the state (``--force`` overrides this check only,
   never verification): a live pid in ``runtime/vvtv.pid`` or an unexpired row in
   the store's ``scheduler_lock`` table;
2. verify the backup (the secure one is decrypted and verified in the same pass);
3. write each restored file next to its target (0600), fsync, check it;
4. keep the replaced files as ``<name>.pre-restore-<UTC ts>`` (a hard link, so the
   target never disappears), move the database's ``-wal``/``-shm``/``-journal`` aside
   with the same suffix (a stale WAL or hot journal would otherwise be replayed onto the
   restored database), and rename the new file over the target; fsync the directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import attrs

from vvtv.backup import manifest as mf
from vvtv.backup.errors import BackupVerifyError, DaemonRunning
from vvtv.backup.plain import verify_backup
from vvtv.backup.secure import decrypt_to
from vvtv.backup.snapshot import (
    Progress,
    backup_name,
    fsync_dir,
    fsync_file,
    no_progress,
    open_readonly,
    sha256_file,
)

LOCK_TABLE = "scheduler_lock"


@attrs.frozen
class RestoreResult:
    """Where the backup went, and where the files it replaced were kept."""

    state_db: Path
    owner_card: Path
    previous: tuple[Path, ...]
    forced: bool


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` is a running vvtv process (not a recycled pid of something else)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell (no /proc): assume the pid file is right
    return b"vvtv" in cmdline


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lock_holder(state_db: Path, now: datetime) -> str | None:
    if not state_db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{state_db.resolve()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute(
            f"SELECT name, owner, expires_at FROM {LOCK_TABLE} WHERE owner IS NOT NULL"
        ).fetchall()
    except sqlite3.Error:
        return None  # no lock table (older schema) or unreadable: the pid file decides
    finally:
        conn.close()
    for name, owner, expires_at in rows:
        expires = _parse_time(str(expires_at)) if expires_at else None
        if expires is not None and expires > now:
            return (
                f"the scheduler lock {name!r} in {state_db} is held by {owner!r} until {expires_at}"
            )
    return None


def daemon_holding_state(state_db: Path, pid_file: Path | None, now: datetime) -> str | None:
    """A description of the live daemon that owns the state, or None when there is none."""
    if pid_file is not None and Path(pid_file).is_file():
        text = Path(pid_file).read_text().strip()
        if text.isdigit() and _pid_alive(int(text)):
            return f"a vvtv daemon is running (pid {text}, from {pid_file})"
    return _lock_holder(Path(state_db), now)


def _refuse_if_live(state_db: Path, pid_file: Path | None, now: datetime, force: bool) -> bool:
    holder = daemon_holding_state(state_db, pid_file, now)
    if holder and not force:
        raise DaemonRunning(holder)
    return bool(holder)


def _temp_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(2, 1000):
        candidate = path.with_name(f"{path.name}-{n}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)


def _install(new: Path, target: Path, stamp: str, *, sqlite_sidecars: bool) -> list[Path]:
    """Atomically replace ``target`` by ``new``, keeping the old file(s) aside."""
    kept: list[Path] = []
    if target.exists():
        keep = _free_name(target.with_name(f"{target.name}.pre-restore-{stamp}"))
        try:
            os.link(target, keep)
        except OSError:
            shutil.copy2(target, keep)
        kept.append(keep)
        # A restore run as root must not leave files the service user cannot write.
        info = target.stat()
        with contextlib.suppress(OSError):
            os.chmod(new, info.st_mode & 0o777)
        if os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.chown(new, info.st_uid, info.st_gid)
    if sqlite_sidecars:
        for suffix in ("-wal", "-shm", "-journal"):
            side = target.with_name(target.name + suffix)
            if side.exists():
                aside = _free_name(side.with_name(f"{side.name}.pre-restore-{stamp}"))
                os.replace(side, aside)
                kept.append(aside)
    os.replace(new, target)
    fsync_dir(target.parent)
    return kept


def _copy_checked(source: Path, dest: Path, sha256: str) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
    fsync_file(dest)
    digest, _ = sha256_file(dest)
    if digest != sha256:
        raise BackupVerifyError(dest, f"the copy of {source} does not match its SHA-256")


def _check_restored_db(path: Path) -> None:
    conn = open_readonly(path)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
    finally:
        conn.close()
    if rows != ["ok"]:
        raise BackupVerifyError(path, f"restored copy fails PRAGMA quick_check: {rows[:3]}")


def _finish(
    temps: dict[str, Path], state_db: Path, owner_card: Path, now: datetime, forced: bool
) -> RestoreResult:
    _check_restored_db(temps["state_db"])
    stamp = backup_name(now)
    kept = _install(temps["state_db"], state_db, stamp, sqlite_sidecars=True)
    kept += _install(temps["owner_card"], owner_card, stamp, sqlite_sidecars=False)
    return RestoreResult(state_db, owner_card, tuple(kept), forced)


def _cleanup(temps: dict[str, Path]) -> None:
    for path in temps.values():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def restore_metadata(
    backup_dir: Path,
    state_db: Path,
    owner_card: Path,
    now: datetime,
    *,
    force: bool = False,
    pid_file: Path | None = None,
    progress: Progress = no_progress,
) -> RestoreResult:
    """Verify a plain backup, then atomically replace the state db and the OwnerCard."""
    backup_dir, state_db, owner_card = Path(backup_dir), Path(state_db), Path(owner_card)
    mf.read(backup_dir)  # not a backup at all: say so before looking at the daemon
    forced = _refuse_if_live(state_db, pid_file, now, force)
    manifest = verify_backup(backup_dir, progress=progress)
    temps: dict[str, Path] = {}
    try:
        for role, target in (("state_db", state_db), ("owner_card", owner_card)):
            name = mf.file_by_role(backup_dir, manifest, role)
            temps[role] = _temp_beside(target)
            progress(f"restore: copying {backup_dir / name} next to {target}")
            _copy_checked(backup_dir / name, temps[role], manifest["files"][name]["sha256"])
        result = _finish(temps, state_db, owner_card, now, forced)
    finally:
        _cleanup(temps)
    progress(f"restore: done, {state_db} and {owner_card} replaced")
    return result


def restore_metadata_secure(
    backup_dir: Path,
    state_db: Path,
    owner_card: Path,
    key_dir: Path,
    now: datetime,
    *,
    force: bool = False,
    pid_file: Path | None = None,
    progress: Progress = no_progress,
) -> RestoreResult:
    """Decrypt and verify a secure backup beside its targets, then replace them atomically."""
    backup_dir, state_db, owner_card = Path(backup_dir), Path(state_db), Path(owner_card)
    mf.read(backup_dir)
    forced = _refuse_if_live(state_db, pid_file, now, force)
    temps: dict[str, Path] = {}
    targets = {"state_db": state_db, "owner_card": owner_card}

    def dest_for(role: str) -> Path:
        temps[role] = _temp_beside(targets[role])
        return temps[role]

    try:
        decrypt_to(backup_dir, key_dir, dest_for, progress=progress)
        result = _finish(temps, state_db, owner_card, now, forced)
    finally:
        _cleanup(temps)
    progress(f"restore: done, {state_db} and {owner_card} replaced")
    return result
