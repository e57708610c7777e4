"""Backup encryption keys: the current key, its id, and the archive of retired keys (SPEC §8).

Layout (every directory 0700, every file 0600)::

    <key_dir>/current.key        the key that encrypts new secure backups
    <key_dir>/current.key.id     its id, one line (kept for the original's tooling)
    <key_dir>/archive/<id>.key   retired keys, kept so older backups stay readable

A key file is a few ``name=value`` lines: ``id``, ``created_at`` (RFC 3339 UTC),
``key`` (64 hex digits = 32 bytes, AES-256) and, once archived, ``retired_at``.
The creation time is recorded *in* the file because a key's age decides rotation
(``ensure``) and an mtime changes on every copy or restore from offsite storage.
A legacy file holding only the raw key (32 bytes or 64 hex digits) is still read;
its age then falls back to the file's mtime.

Every change is written to a temporary file next to its target, fsynced and renamed,
so a crash mid-rotation leaves either the old or the new key in place, never half a key.
``current.key`` is authoritative for the current id; ``current.key.id`` is rewritten
after it and repaired by ``ensure`` if a crash left it stale.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

CURRENT_KEY = "current.key"
CURRENT_KEY_ID = "current.key.id"
ARCHIVE_DIR = "archive"
KEY_BYTES = 32
_HEADER = "# vvtv backup key: secret, keep mode 0600 and an offline copy\n"


class KeyStoreError(Exception):
    """A key directory that cannot be used; the message says what and what to do."""


class KeyNotFound(KeyStoreError):
    """The key a backup needs is neither current nor archived."""

    def __init__(self, key_id: str, key_dir: Path) -> None:
        super().__init__(
            f"backup key {key_id!r} is not in {key_dir} (neither {CURRENT_KEY} nor "
            f"{ARCHIVE_DIR}/{key_id}.key): copy it back from your offline key copy into "
            f"{key_dir / ARCHIVE_DIR / (key_id + '.key')} (mode 0600)"
        )
        self.key_id = key_id


@attrs.frozen
class KeyInfo:
    """One key as stored on disk (the secret itself is read only by ``load``)."""

    id: str
    path: Path
    created_at: datetime
    retired_at: datetime | None = None


@attrs.frozen
class PruneResult:
    """What ``prune`` removed and which expired keys it kept because a backup needs them."""

    pruned: list[str]
    kept_needed: list[str]


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str, path: Path, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KeyStoreError(f"{path}: {field}={text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def new_key_id(now: datetime) -> str:
    """A sortable, unique id: the creation time plus 32 random bits."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}): "
            f"run `chmod 600 {path}` (and `chmod 700 {path.parent}`), then retry"
        )


def _render(key_id: str, created_at: datetime, key: bytes, retired_at: datetime | None) -> bytes:
    lines = [f"id={key_id}", f"created_at={_rfc3339(created_at)}"]
    if retired_at is not None:
        lines.append(f"retired_at={_rfc3339(retired_at)}")
    lines.append(f"key={key.hex()}")
    return (_HEADER + "\n".join(lines) + "\n").encode()


def _read_file(path: Path, fallback_id: str | None) -> tuple[KeyInfo, bytes]:
    """Parse a key file (current or legacy format); raise ``KeyStoreError`` naming it."""
    _check_private(path)
    raw = path.read_bytes()
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    if len(raw) == KEY_BYTES and fallback_id is not None:
        return KeyInfo(fallback_id, path, mtime), raw
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyStoreError(
            f"{path}: not a vvtv key file (binary data of {len(raw)} bytes)"
        ) from None
    stripped = text.strip()
    if len(stripped) == 2 * KEY_BYTES and fallback_id is not None and "=" not in stripped:
        try:
            return KeyInfo(fallback_id, path, mtime), bytes.fromhex(stripped)
        except ValueError:
            pass
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise KeyStoreError(f"{path}:{number}: expected name=value, got {line[:40]!r}")
        fields[name.strip()] = value.strip()
    missing = [f for f in ("id", "created_at", "key") if f not in fields]
    if missing:
        raise KeyStoreError(f"{path}: missing {', '.join(missing)}; the key file is damaged")
    try:
        key = bytes.fromhex(fields["key"])
    except ValueError:
        raise KeyStoreError(f"{path}: key is not hexadecimal; the key file is damaged") from None
    if len(key) != KEY_BYTES:
        raise KeyStoreError(f"{path}: key has {len(key)} bytes, expected {KEY_BYTES}")
    retired = fields.get("retired_at")
    info = KeyInfo(
        id=fields["id"],
        path=path,
        created_at=_parse_time(fields["created_at"], path, "created_at"),
        retired_at=_parse_time(retired, path, "retired_at") if retired else None,
    )
    return info, key


def _read_id_file(key_dir: Path) -> str | None:
    try:
        text = (key_dir / CURRENT_KEY_ID).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def _read_current(key_dir: Path) -> tuple[KeyInfo, bytes] | None:
    path = key_dir / CURRENT_KEY
    if not path.exists():
        return None
    return _read_file(path, _read_id_file(key_dir))


def current(key_dir: Path) -> KeyInfo | None:
    """The current key's description, or None when there is none yet."""
    found = _read_current(Path(key_dir))
    return found[0] if found else None


def load(key_dir: Path, key_id: str) -> bytes:
    """The secret of key ``key_id``, current or archived; ``KeyNotFound`` otherwise."""
    key_dir = Path(key_dir)
    found = _read_current(key_dir)
    if found is not None and found[0].id == key_id:
        return found[1]
    if "/" in key_id or key_id.startswith("."):
        raise KeyStoreError(f"invalid key id {key_id!r}")
    archived = key_dir / ARCHIVE_DIR / f"{key_id}.key"
    if not archived.exists():
        raise KeyNotFound(key_id, key_dir)
    info, key = _read_file(archived, key_id)
    if info.id != key_id:
        raise KeyStoreError(f"{archived} holds key {info.id!r}, not {key_id!r}")
    return key


def load_current(key_dir: Path) -> tuple[KeyInfo, bytes]:
    """The current key and its secret; ``KeyStoreError`` telling how to create one."""
    found = _read_current(Path(key_dir))
    if found is None:
        raise KeyStoreError(
            f"no backup key in {key_dir}: create one with `vvtv runbook backup-key-ensure`"
        )
    return found


def rotate(key_dir: Path, now: datetime) -> KeyInfo:
    """Make a fresh current key; the previous one moves to ``archive/<id>.key``."""
    key_dir = Path(key_dir)
    _ensure_private_dir(key_dir)
    try:
        previous = _read_current(key_dir)
    except KeyStoreError as exc:
        raise KeyStoreError(
            f"{exc}. Rotation would lose it: move {key_dir / CURRENT_KEY} aside (keep it, "
            "older backups may need it), then rotate again"
        ) from exc
    if previous is not None:
        old, old_key = previous
        archive = key_dir / ARCHIVE_DIR
        _ensure_private_dir(archive)
        # Written before the new current key replaces the old one: there is no moment
        # when the old secret exists nowhere.
        write_private(archive / f"{old.id}.key", _render(old.id, old.created_at, old_key, now))
    key_id = new_key_id(now)
    path = key_dir / CURRENT_KEY
    write_private(path, _render(key_id, now, secrets.token_bytes(KEY_BYTES), None))
    write_private(key_dir / CURRENT_KEY_ID, f"{key_id}\n".encode())
    return KeyInfo(key_id, path, now.astimezone(UTC))


def ensure(key_dir: Path, now: datetime, max_age_days: float) -> tuple[bool, KeyInfo]:
    """Rotate when there is no current key or it is older than ``max_age_days``."""
    if max_age_days <= 0:
        raise KeyStoreError(f"max_age_days must be positive (got {max_age_days})")
    key_dir = Path(key_dir)
    info = current(key_dir)
    if info is None or now - info.created_at > timedelta(days=max_age_days):
        return True, rotate(key_dir, now)
    if _read_id_file(key_dir) != info.id:
        write_private(key_dir / CURRENT_KEY_ID, f"{info.id}\n".encode())
    return False, info


def archived(key_dir: Path) -> list[KeyInfo]:
    """Every archived key, oldest first."""
    archive = Path(key_dir) / ARCHIVE_DIR
    if not archive.is_dir():
        return []
    infos = [_read_file(p, p.stem)[0] for p in sorted(archive.glob("*.key"))]
    return sorted(infos, key=lambda i: i.created_at)


def prune(
    key_dir: Path, now: datetime, retention_days: float, still_needed: Iterable[str]
) -> PruneResult:
    """Delete archived keys retired more than ``retention_days`` ago.

    Retention counts from retirement (when the key stopped encrypting new backups),
    falling back to creation for legacy files. A key that an existing backup still
    needs is never deleted: it is listed in ``kept_needed`` so the operator knows
    why it stays and which backups to expire first.
    """
    if retention_days < 0:
        raise KeyStoreError(f"retention_days must not be negative (got {retention_days})")
    needed = set(still_needed)
    cutoff = now - timedelta(days=retention_days)
    pruned: list[str] = []
    kept: list[str] = []
    for info in archived(key_dir):
        if (info.retired_at or info.created_at) >= cutoff:
            continue
        if info.id in needed:
            kept.append(info.id)
            continue
        info.path.unlink()
        pruned.append(info.id)
    if pruned:
        _fsync_dir(Path(key_dir) / ARCHIVE_DIR)
    return PruneResult(pruned, kept)
