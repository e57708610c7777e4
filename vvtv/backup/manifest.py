"""``manifest.json``: what a backup holds, written so that any changed byte is detected.

The manifest is written in one canonical form (sorted keys, two-space indent, trailing
newline). Verification re-serialises what it parsed and requires the same bytes, then
checks a seal over the content: a SHA-256 checksum for plain backups (against
accidents) or an HMAC keyed from the backup's data key for secure ones (against
tampering too). So a flipped byte anywhere in the manifest fails verification and
names ``manifest.json``, even where it would still parse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vvtv.backup.errors import BackupUsageError, BackupVerifyError

MANIFEST = "manifest.json"
FORMAT = "vvtv-backup"
SCHEMA_VERSION = 1
SEAL_FIELDS = ("checksum", "mac")


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def _body(manifest: dict[str, Any]) -> bytes:
    """The sealed content: everything but the seal itself, compact and sorted."""
    rest = {k: v for k, v in manifest.items() if k not in SEAL_FIELDS}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def checksum(manifest: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_body(manifest)).hexdigest()


def mac(manifest: dict[str, Any], mac_key: bytes) -> str:
    return "hmac-sha256:" + hmac.new(mac_key, _body(manifest), hashlib.sha256).hexdigest()


def write(directory: Path, manifest: dict[str, Any]) -> Path:
    path = directory / MANIFEST
    with open(path, "wb") as f:
        f.write(canonical_bytes(manifest))
        f.flush()
        os.fsync(f.fileno())
    return path


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(directory: Path) -> dict[str, Any]:
    """Parse and shape-check a manifest; the seal is checked by the caller.

    ``BackupUsageError`` when ``directory`` is not a backup at all (missing, not a
    directory, no manifest); ``BackupVerifyError`` naming the manifest when it is
    one but its manifest is damaged.
    """
    directory = Path(directory)
    if not directory.exists():
        raise BackupUsageError(
            f"{directory} does not exist: pass a backup directory such as "
            "runtime/backups/<UTC %Y%m%dT%H%M%SZ> (list them with `ls runtime/backups`)"
        )
    if not directory.is_dir():
        raise BackupUsageError(f"{directory} is not a directory: pass a backup directory")
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupUsageError(
            f"{directory} is not a vvtv backup (no {MANIFEST}): pass a directory made by "
            "`vvtv runbook backup-metadata` or `backup-metadata-secure`"
        )
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupVerifyError(path, f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BackupVerifyError(path, "not a JSON object")
    if canonical_bytes(manifest) != raw:
        raise BackupVerifyError(path, "modified since it was written (not in canonical form)")
    if manifest.get("format") != FORMAT:
        raise BackupVerifyError(path, f"format is {manifest.get('format')!r}, not {FORMAT!r}")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise BackupVerifyError(path, f"schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise BackupUsageError(
            f"{path}: schema_version {version} is newer than this vvtv understands "
            f"({SCHEMA_VERSION}): use the vvtv release that made the backup"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BackupVerifyError(path, "has no 'files' table")
    for name, entry in files.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("size"), int)
            or "/" in name
            or name.startswith(".")
        ):
            raise BackupVerifyError(path, f"malformed entry for file {name!r}")
    if not isinstance(manifest.get("row_counts"), dict):
        raise BackupVerifyError(path, "has no 'row_counts' table")
    return manifest


def check_checksum(directory: Path, manifest: dict[str, Any]) -> None:
    path = Path(directory) / MANIFEST
    if not hmac.compare_digest(str(manifest.get("checksum", "")), checksum(manifest)):
        raise BackupVerifyError(path, "checksum mismatch: the manifest was modified")


def check_mac(directory: Path, manifest: dict[str, Any], mac_key: bytes) -> None:
    path = Path(directory) / MANIFEST
    if not hmac.compare_digest(str(manifest.get("mac", "")), mac(manifest, mac_key)):
        raise BackupVerifyError(path, "authentication failed: the manifest was modified")


def file_by_role(directory: Path, manifest: dict[str, Any], role: str) -> str:
    for name, entry in manifest["files"].items():
        if entry.get("role") == role:
            return str(name)
    raise BackupVerifyError(Path(directory) / MANIFEST, f"lists no file with role {role!r}")
