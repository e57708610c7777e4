"""``backup-metadata`` and ``verify-backup``: an unencrypted, checksummed snapshot.

A backup directory holds ``state.db`` (the snapshot), ``owner_card.yaml`` (the card as
it was on disk) and ``manifest.json``.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from vvtv.backup import manifest as mf
from vvtv.backup.errors import BackupError, BackupUsageError, BackupVerifyError
from vvtv.backup.snapshot import (
    Progress,
    check_db_facts,
    facts_of_file,
    fsync_file,
    no_progress,
    publish,
    sha256_file,
    snapshot_db,
    staging_dir,
)

STATE_DB = "state.db"
OWNER_CARD = "owner_card.yaml"


def _version() -> str:
    try:
        return metadata.version("vvtv")
    except metadata.PackageNotFoundError:
        return "unknown"


def _require_card(owner_card: Path) -> None:
    if not owner_card.is_file():
        raise BackupUsageError(
            f"OwnerCard not found at {owner_card}: set VVTV_OWNER_CARD_PATH to the card in use"
        )


def base_manifest(kind: str, now: datetime, state_db: Path, owner_card: Path) -> dict[str, Any]:
    return {
        "format": mf.FORMAT,
        "schema_version": mf.SCHEMA_VERSION,
        "kind": kind,
        "created_at": mf.utc_text(now),
        "vvtv_version": _version(),
        "source": {"state_db": str(state_db.resolve()), "owner_card": str(owner_card.resolve())},
    }


def backup_metadata(
    state_db: Path,
    owner_card: Path,
    backup_root: Path,
    now: datetime,
    *,
    progress: Progress = no_progress,
) -> Path:
    """Snapshot the state db and the OwnerCard into ``backup_root/<UTC ts>/``; its path."""
    state_db, owner_card, backup_root = Path(state_db), Path(owner_card), Path(backup_root)
    _require_card(owner_card)
    with staging_dir(backup_root, now) as staging:
        progress(f"backup: snapshotting {state_db}")
        snapshot_db(state_db, staging / STATE_DB)
        progress("backup: checking the snapshot (PRAGMA integrity_check)")
        facts = facts_of_file(staging / STATE_DB)
        if facts.integrity != "ok":
            raise BackupError(
                f"the snapshot of {state_db} failed PRAGMA integrity_check ({facts.integrity}): "
                "the live database is damaged; stop the daemon and restore the newest good backup"
            )
        shutil.copyfile(owner_card, staging / OWNER_CARD)
        fsync_file(staging / OWNER_CARD)
        files: dict[str, dict[str, Any]] = {}
        for name, role in ((STATE_DB, "state_db"), (OWNER_CARD, "owner_card")):
            digest, size = sha256_file(staging / name)
            files[name] = {"role": role, "sha256": digest, "size": size}
        manifest = base_manifest("plain", now, state_db, owner_card)
        manifest.update(
            files=files,
            row_counts=facts.row_counts,
            database={"user_version": facts.user_version, "integrity_check": facts.integrity},
        )
        manifest["checksum"] = mf.checksum(manifest)
        mf.write(staging, manifest)
        target = publish(staging, backup_root, now)
    progress(f"backup: done, {target}")
    return target


def verify_backup(backup_dir: Path, *, progress: Progress = no_progress) -> dict[str, Any]:
    """Check a plain backup: manifest seal, every file's size and SHA-256, the db copy.

    Returns the manifest; raises ``BackupVerifyError`` naming the first damaged file.
    """
    backup_dir = Path(backup_dir)
    manifest = mf.read(backup_dir)
    if manifest.get("kind") != "plain":
        raise BackupUsageError(
            f"{backup_dir} is a {manifest.get('kind')!r} backup: use verify-backup-secure"
            if manifest.get("kind") == "secure"
            else f"{backup_dir / mf.MANIFEST}: unknown backup kind {manifest.get('kind')!r}"
        )
    mf.check_checksum(backup_dir, manifest)
    for name, entry in manifest["files"].items():
        path = backup_dir / name
        progress(f"verify: checking {path}")
        if not path.is_file():
            raise BackupVerifyError(path, "missing")
        digest, size = sha256_file(path)
        if size != entry["size"]:
            raise BackupVerifyError(
                path, f"size {size} differs from the manifest's {entry['size']}"
            )
        if digest != entry["sha256"]:
            raise BackupVerifyError(path, "SHA-256 differs from the manifest's")
    db_name = mf.file_by_role(backup_dir, manifest, "state_db")
    progress("verify: PRAGMA integrity_check on the database copy")
    problem = check_db_facts(backup_dir / db_name, manifest)
    if problem:
        raise BackupVerifyError(backup_dir / db_name, problem)
    return manifest
