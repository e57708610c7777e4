"""``backup-metadata-secure`` and ``verify-backup-secure``: the same snapshot, encrypted at rest.

Scheme (all from ``cryptography``):

* a fresh 256-bit data key per backup encrypts the payload; it is stored in the manifest
  wrapped (AES-256-GCM) by the current backup key, whose id is recorded, so a backup is
  always decrypted with the key that made it, from ``archive/`` after a rotation;
* ``payload.enc`` is the OwnerCard then the database, concatenated, encrypted in 1 MiB
  chunks, each its own AES-256-GCM message whose nonce carries the chunk index and a
  "last chunk" flag: nothing is released before it is authenticated, and a reordered,
  dropped or truncated chunk fails;
* the manifest is sealed with an HMAC keyed from the data key, so its plaintext fields
  (row counts, sizes, checksums) cannot be altered without the backup key.

Plaintext on disk: the SQLite backup API needs a destination file, so the snapshot is
written to a 0600 file inside the backup's private (0700) staging directory, encrypted,
and unlinked; on any failure the staging directory is removed. A process killed at that
moment leaves the staging dir behind: the next backup removes staging dirs older than
six hours. Verification decrypts into a private temporary directory, removed afterwards.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vvtv.backup import keys
from vvtv.backup import manifest as mf
from vvtv.backup.errors import BackupError, BackupUsageError, BackupVerifyError
from vvtv.backup.plain import OWNER_CARD, STATE_DB, base_manifest
from vvtv.backup.snapshot import (
    Progress,
    check_db_facts,
    facts_of_file,
    fsync_dir,
    no_progress,
    publish,
    sha256_file,
    snapshot_db,
    staging_dir,
)

PAYLOAD = "payload.enc"
ALGORITHM = "AES-256-GCM"
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
_PAYLOAD_AAD = b"vvtv-backup-payload-v1"
_WRAP_AAD = b"vvtv-backup-dek-v1:"
_MAC_INFO = b"vvtv-backup-manifest-v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, where: Path, field: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise BackupVerifyError(where, f"encryption.{field} is not base64") from None


def _mac_key(data_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_INFO).derive(data_key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _plain_blocks(members: list[bytes | Path], digests: list[Any]) -> Iterator[bytes]:
    """The members concatenated, in whatever blocks the files yield; hashes each member."""
    for member, digest in zip(members, digests, strict=True):
        if isinstance(member, bytes):
            digest.update(member)
            yield member
            continue
        with open(member, "rb") as f:
            while block := f.read(CHUNK_SIZE):
                digest.update(block)
                yield block


def _chunks(blocks: Iterator[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Fixed-size chunks; the last one is the short (possibly empty) remainder."""
    buf = bytearray()
    for block in blocks:
        buf += block
        while len(buf) >= size:
            yield bytes(buf[:size]), False
            del buf[:size]
    yield bytes(buf), True


def encrypt_stream(
    out: BinaryIO,
    aead: AESGCM,
    prefix: bytes,
    blocks: Iterator[bytes],
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Write ``blocks`` to ``out`` as chunked AES-GCM (see the module docstring)."""
    for index, (chunk, last) in enumerate(_chunks(blocks, chunk_size)):
        out.write(aead.encrypt(_nonce(prefix, index, last), chunk, _PAYLOAD_AAD))


def backup_metadata_secure(
    state_db: Path,
    owner_card: Path,
    backup_root: Path,
    key_dir: Path,
    now: datetime,
    *,
    progress: Progress = no_progress,
) -> Path:
    """Encrypted snapshot into ``backup_root/<UTC ts>/`` (``payload.enc`` + manifest)."""
    state_db, owner_card, backup_root = Path(state_db), Path(owner_card), Path(backup_root)
    if not owner_card.is_file():
        raise BackupUsageError(
            f"OwnerCard not found at {owner_card}: set VVTV_OWNER_CARD_PATH to the card in use"
        )
    try:
        key_info, master = keys.load_current(Path(key_dir))
    except keys.KeyStoreError as exc:
        raise BackupUsageError(str(exc)) from exc
    card = owner_card.read_bytes()
    with staging_dir(backup_root, now) as staging:
        plain_db = staging / f".{STATE_DB}.plaintext"
        try:
            progress(f"backup: snapshotting {state_db}")
            snapshot_db(state_db, plain_db)
            progress("backup: checking the snapshot (PRAGMA integrity_check)")
            facts = facts_of_file(plain_db)
            if facts.integrity != "ok":
                raise BackupError(
                    f"the snapshot of {state_db} failed PRAGMA integrity_check "
                    f"({facts.integrity}): the live database is damaged; stop the daemon and "
                    "restore the newest good backup"
                )
            data_key = AESGCM.generate_key(bit_length=256)
            prefix = secrets.token_bytes(7)
            wrap_nonce = secrets.token_bytes(12)
            wrapped = AESGCM(master).encrypt(wrap_nonce, data_key, _WRAP_AAD + key_info.id.encode())
            digests = [hashlib.sha256(), hashlib.sha256()]
            progress(f"backup: encrypting with key {key_info.id}")
            fd = os.open(staging / PAYLOAD, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "wb") as out:
                encrypt_stream(
                    out, AESGCM(data_key), prefix, _plain_blocks([card, plain_db], digests)
                )
                out.flush()
                os.fsync(out.fileno())
            db_size = plain_db.stat().st_size
        finally:
            with contextlib.suppress(FileNotFoundError):
                plain_db.unlink()
        payload_sha, payload_size = sha256_file(staging / PAYLOAD)
        manifest = base_manifest("secure", now, state_db, owner_card)
        manifest.update(
            files={
                OWNER_CARD: {
                    "role": "owner_card",
                    "sha256": digests[0].hexdigest(),
                    "size": len(card),
                },
                STATE_DB: {"role": "state_db", "sha256": digests[1].hexdigest(), "size": db_size},
            },
            row_counts=facts.row_counts,
            database={"user_version": facts.user_version, "integrity_check": facts.integrity},
            payload={
                "name": PAYLOAD,
                "sha256": payload_sha,
                "size": payload_size,
                "members": [OWNER_CARD, STATE_DB],
            },
            encryption={
                "algorithm": ALGORITHM,
                "key_id": key_info.id,
                "wrapped_key": _b64(wrapped),
                "wrap_nonce": _b64(wrap_nonce),
                "nonce_prefix": _b64(prefix),
                "chunk_size": CHUNK_SIZE,
            },
        )
        manifest["mac"] = mf.mac(manifest, _mac_key(data_key))
        mf.write(staging, manifest)
        fsync_dir(staging)
        target = publish(staging, backup_root, now)
    progress(f"backup: done, {target}")
    return target


def key_id_of(backup_dir: Path) -> str | None:
    """The key id a secure backup needs, or None (plain backup, unreadable manifest)."""
    try:
        manifest = mf.read(Path(backup_dir))
    except Exception:
        return None
    encryption = manifest.get("encryption")
    if manifest.get("kind") != "secure" or not isinstance(encryption, dict):
        return None
    key_id = encryption.get("key_id")
    return key_id if isinstance(key_id, str) else None


def key_ids_in_use(backup_root: Path) -> set[str]:
    """Ids of every key that some secure backup under ``backup_root`` needs."""
    root = Path(backup_root)
    if not root.is_dir():
        return set()
    found = (key_id_of(d) for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    return {k for k in found if k}


def _open(backup_dir: Path, key_dir: Path) -> tuple[dict[str, Any], bytes]:
    """Read the manifest, unwrap the data key with the key that made it, check the seal."""
    manifest = mf.read(backup_dir)
    where = backup_dir / mf.MANIFEST
    if manifest.get("kind") != "secure":
        raise BackupUsageError(
            f"{backup_dir} is a {manifest.get('kind')!r} backup, not a secure one: "
            "use verify-backup / restore-metadata"
        )
    enc = manifest.get("encryption")
    payload = manifest.get("payload")
    if not isinstance(enc, dict) or not isinstance(payload, dict):
        raise BackupVerifyError(where, "has no 'encryption'/'payload' section")
    if enc.get("algorithm") != ALGORITHM or enc.get("chunk_size") != CHUNK_SIZE:
        raise BackupVerifyError(where, f"unsupported encryption {enc.get('algorithm')!r}")
    key_id = str(enc.get("key_id", ""))
    try:
        master = keys.load(Path(key_dir), key_id)
    except keys.KeyStoreError as exc:
        raise BackupUsageError(f"cannot verify {backup_dir}: {exc}") from exc
    wrapped = _unb64(enc.get("wrapped_key"), where, "wrapped_key")
    wrap_nonce = _unb64(enc.get("wrap_nonce"), where, "wrap_nonce")
    try:
        data_key = AESGCM(master).decrypt(wrap_nonce, wrapped, _WRAP_AAD + key_id.encode())
    except (InvalidTag, ValueError):
        raise BackupVerifyError(
            where,
            f"the data key does not open with backup key {key_id}: the manifest was modified "
            f"or {key_dir} holds a different key under that id",
        ) from None
    mf.check_mac(backup_dir, manifest, _mac_key(data_key))
    return manifest, data_key


def _decrypt(
    backup_dir: Path,
    manifest: dict[str, Any],
    data_key: bytes,
    dest_for: Callable[[str], Path],
    progress: Progress,
) -> dict[str, Path]:
    """Authenticate and decrypt ``payload.enc`` into one new 0600 file per member."""
    payload = manifest["payload"]
    path = backup_dir / str(payload.get("name", PAYLOAD))
    if not path.is_file():
        raise BackupVerifyError(path, "missing")
    digest, size = sha256_file(path)
    if size != payload.get("size"):
        raise BackupVerifyError(path, f"size {size} differs from the manifest's")
    if digest != payload.get("sha256"):
        raise BackupVerifyError(path, "SHA-256 differs from the manifest's")
    members = [str(m) for m in payload.get("members", [])]
    if sorted(members) != sorted(manifest["files"]):
        raise BackupVerifyError(backup_dir / mf.MANIFEST, "payload members differ from files")
    enc = manifest["encryption"]
    prefix = _unb64(enc.get("nonce_prefix"), backup_dir / mf.MANIFEST, "nonce_prefix")
    aead = AESGCM(data_key)
    plain = decrypted_blocks(path, aead, prefix, progress=progress)
    written: dict[str, Path] = {}
    leftover = b""
    for name in members:
        entry = manifest["files"][name]
        dest = dest_for(entry["role"])
        remaining = int(entry["size"])
        hasher = hashlib.sha256()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        written[entry["role"]] = dest
        with os.fdopen(fd, "wb") as out:
            while remaining:
                if not leftover:
                    leftover = next(plain, b"")
                    if not leftover:
                        raise BackupVerifyError(path, f"ends before member {name} is complete")
                part, leftover = leftover[:remaining], leftover[remaining:]
                out.write(part)
                hasher.update(part)
                remaining -= len(part)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != entry["sha256"]:
            raise BackupVerifyError(path, f"decrypted {name} does not match its SHA-256")
    if leftover or next(plain, b""):
        raise BackupVerifyError(path, "holds more data than the manifest lists")
    return written


def decrypted_blocks(
    path: Path,
    aead: AESGCM,
    prefix: bytes,
    *,
    progress: Progress = no_progress,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Authenticated plaintext chunks of ``path``; ``BackupVerifyError`` naming it on damage."""
    step = chunk_size + TAG_SIZE
    with open(path, "rb") as f:
        index = 0
        while True:
            block = f.read(step)
            # The final chunk is the short one; a payload cut at a chunk boundary ends
            # with an empty read that fails authentication as a "last" chunk.
            last = len(block) < step
            try:
                chunk = aead.decrypt(_nonce(prefix, index, last), block, _PAYLOAD_AAD)
            except InvalidTag:
                raise BackupVerifyError(
                    path, f"chunk {index} failed authentication (modified or truncated)"
                ) from None
            if index and index % 256 == 0:
                progress(f"verify: decrypted {index} MiB")
            yield chunk
            if last:
                return
            index += 1


def _check_db(path: Path, manifest: dict[str, Any], payload: Path) -> None:
    problem = check_db_facts(path, manifest)
    if problem:
        raise BackupVerifyError(payload, f"the decrypted database: {problem}")


def decrypt_to(
    backup_dir: Path,
    key_dir: Path,
    dest_for: Callable[[str], Path],
    *,
    progress: Progress = no_progress,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Fully verify a secure backup while decrypting it into ``dest_for(role)`` paths.

    The caller owns (and on failure removes) the written files; they are trustworthy
    only when this returns.
    """
    backup_dir = Path(backup_dir)
    progress(f"verify: opening {backup_dir}")
    manifest, data_key = _open(backup_dir, Path(key_dir))
    written = _decrypt(backup_dir, manifest, data_key, dest_for, progress)
    progress("verify: PRAGMA integrity_check on the decrypted database")
    _check_db(written["state_db"], manifest, backup_dir / PAYLOAD)
    return manifest, written


def verify_backup_secure(
    backup_dir: Path, key_dir: Path, *, progress: Progress = no_progress
) -> dict[str, Any]:
    """Check a secure backup end to end; returns the manifest or raises naming the file.

    Decrypts into a private temporary directory beside the backup, deleted afterwards.
    """
    backup_dir = Path(backup_dir)
    mf.read(backup_dir)  # a usage error (not a backup) before touching anything
    scratch = Path(tempfile.mkdtemp(prefix=".vvtv-verify-", dir=backup_dir.parent))
    try:
        manifest, _ = decrypt_to(
            backup_dir, key_dir, lambda role: scratch / role, progress=progress
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return manifest
