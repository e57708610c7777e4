"""Backups of the channel's metadata (state db + OwnerCard), plain or encrypted (SPEC §8).

The public surface, re-exported here:

* ``backup_metadata(state_db, owner_card, backup_root, now) -> Path``
* ``backup_metadata_secure(state_db, owner_card, backup_root, key_dir, now) -> Path``
* ``verify_backup(dir) -> manifest`` / ``verify_backup_secure(dir, key_dir) -> manifest``
* ``restore_metadata(dir, state_db, owner_card, now, force=, pid_file=) -> RestoreResult``
* ``restore_metadata_secure(dir, state_db, owner_card, key_dir, now, ...) -> RestoreResult``
* ``daemon_holding_state(state_db, pid_file, now) -> str | None``
* ``key_ids_in_use(backup_root) -> set[str]`` (for ``keys.prune``)

All of them are synchronous and may take seconds on a large database: call them from
async code through ``trio.to_thread.run_sync``.
"""

from vvtv.backup.errors import BackupError, BackupUsageError, BackupVerifyError, DaemonRunning
from vvtv.backup.manifest import MANIFEST
from vvtv.backup.plain import OWNER_CARD, STATE_DB, backup_metadata, verify_backup
from vvtv.backup.restore import (
    RestoreResult,
    daemon_holding_state,
    restore_metadata,
    restore_metadata_secure,
)
from vvtv.backup.secure import (
    PAYLOAD,
    backup_metadata_secure,
    key_id_of,
    key_ids_in_use,
    verify_backup_secure,
)

__all__ = [
    "MANIFEST",
    "OWNER_CARD",
    "PAYLOAD",
    "STATE_DB",
    "BackupError",
    "BackupUsageError",
    "BackupVerifyError",
    "DaemonRunning",
    "RestoreResult",
    "backup_metadata",
    "backup_metadata_secure",
    "daemon_holding_state",
    "key_id_of",
    "key_ids_in_use",
    "restore_metadata",
    "restore_metadata_secure",
    "verify_backup",
    "verify_backup_secure",
]
