"""``vvtv runbook <command>``: the runbook commands of SPEC §8 (keys, backups, the nightly
job, the audit export, emergency mode); ``ops/vvtv-runbook.sh`` forwards to these."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import trio

from vvtv import backup
from vvtv.backup import keys
from vvtv.backup.restore import daemon_holding_state
from vvtv.cli.context import daemon_cmd, settings_from_env, wall_now
from vvtv.cli.output import (
    EXIT_FAILED,
    EXIT_USAGE,
    Fields,
    Handler,
    OpsError,
    emit,
    guarded,
    progress,
    release_guard,
)
from vvtv.core.settings import Settings, process_env
from vvtv.release import api

# --- keys -----------------------------------------------------------------------------


def _key_rotate(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    info = keys.rotate(s.key_dir, wall_now())
    return {"backup_key_id": info.id, "backup_key_file": info.path}


def _key_ensure(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    rotated, info = keys.ensure(s.key_dir, wall_now(), s.backup_key_max_age_days)
    return {"backup_key_rotated": rotated, "backup_key_id": info.id, "backup_key_file": info.path}


def _key_prune(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    needed = backup.key_ids_in_use(s.backup_dir)
    result = keys.prune(s.key_dir, wall_now(), s.backup_key_archive_retention_days, needed)
    if result.kept_needed:
        progress(
            f"backup-key-prune: kept {len(result.kept_needed)} expired key(s) that secure "
            f"backups in {s.backup_dir} still need: {', '.join(result.kept_needed)} "
            "(delete those backups first if they are no longer wanted)"
        )
    return {
        "backup_key_pruned": len(result.pruned),
        "backup_key_pruned_ids": result.pruned,
        "backup_key_kept_needed": result.kept_needed,
    }


# --- backups --------------------------------------------------------------------------


def _backup_plain(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    target = backup.backup_metadata(
        s.state_db, s.owner_card_path, s.backup_dir, wall_now(), progress=progress
    )
    return {"backup_dir": target, "manifest": target / backup.MANIFEST}


def _backup_secure(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    target = backup.backup_metadata_secure(
        s.state_db, s.owner_card_path, s.backup_dir, s.key_dir, wall_now(), progress=progress
    )
    return {
        "secure_backup_dir": target,
        "secure_backup_payload": target / backup.PAYLOAD,
        "backup_key_id": backup.key_id_of(target),
    }


def _verify_plain(args: argparse.Namespace) -> Fields:
    manifest = backup.verify_backup(Path(args.dir), progress=progress)
    return {"backup_verified": True, "backup_dir": args.dir, "created_at": manifest["created_at"]}


def _verify_secure(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    manifest = backup.verify_backup_secure(Path(args.dir), s.key_dir, progress=progress)
    return {
        "backup_verified": True,
        "backup_dir": args.dir,
        "created_at": manifest["created_at"],
        "backup_key_id": manifest["encryption"]["key_id"],
    }


def _restored(result: backup.RestoreResult) -> Fields:
    return {
        "restored_state_db": result.state_db,
        "restored_owner_card": result.owner_card,
        "pre_restore_files": list(result.previous),
        "forced": result.forced,
    }


def _restore_plain(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    result = backup.restore_metadata(
        Path(args.dir),
        s.state_db,
        s.owner_card_path,
        wall_now(),
        force=args.force,
        pid_file=s.pid_file,
        progress=progress,
    )
    return _restored(result)


def _restore_secure(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    result = backup.restore_metadata_secure(
        Path(args.dir),
        s.state_db,
        s.owner_card_path,
        s.key_dir,
        wall_now(),
        force=args.force,
        pid_file=s.pid_file,
        progress=progress,
    )
    return _restored(result)


# --- daemon jobs ----------------------------------------------------------------------


def _force_nightly(args: argparse.Namespace) -> Fields | int:
    """The nightly job now: through the running service's signed ``nightly`` control call
    when a service holds the state (the channel stays on air), else a one-shot daemon
    (``vvtv run --once --force-nightly``, which also delivers the reports before exiting)."""
    s = settings_from_env()  # a broken environment is a usage error before anything runs
    holder = daemon_holding_state(s.state_db, s.pid_file, wall_now())
    if holder is not None:
        return _nightly_on_the_service(args, s, holder)
    env = process_env(VVTV_RUN_ONCE="1", VVTV_FORCE_NIGHTLY="1")
    cmd = [*daemon_cmd(args), "--once", "--force-nightly"]
    progress(f"force-nightly: running {' '.join(cmd)}")
    # The child's stdout is progress for us: keep our stdout for the key=value result.
    sys.stderr.flush()
    code = subprocess.call(cmd, env=env, stdout=2)
    fields = {
        "nightly_via": "once",
        "nightly_exit_code": code,
        "nightly": "ok" if code == 0 else "failed",
    }
    if code != 0:
        emit(args, fields)
        print(
            f"vvtv: error: the nightly run exited with {code}; read its output above and "
            "`journalctl -u vvtv` for the cause",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return fields


def _nightly_on_the_service(args: argparse.Namespace, s: Settings, holder: str) -> Fields | int:
    progress(f"force-nightly: {holder}; asking it (signed POST {s.api_url}/v1/control/nightly)")
    reply = trio.run(
        api.run_nightly, s.api_url, s.control_token, s.control_secret, True, wall_now()
    )
    ran = reply.get("ran") is True
    fields: Fields = {
        "nightly_via": "api",
        "nightly": "ok" if ran else "failed",
        "nightly_local_date": reply.get("local_date", ""),
        "nightly_report_day": reply.get("report_day", ""),
        "nightly_weekly": reply.get("weekly") or "",
        "nightly_export": reply.get("export", ""),
    }
    if not ran:
        emit(args, fields)
        why = reply.get("reason") or reply.get("error") or "see `journalctl -u vvtv`"
        print(f"vvtv: error: the service did not run the nightly job: {why}", file=sys.stderr)
        return EXIT_FAILED
    return fields


def _export_audits(args: argparse.Namespace) -> Fields:
    s = settings_from_env()
    day = args.date or wall_now().date()
    from vvtv.store import Store, StoreError

    if not s.state_db.is_file():
        raise OpsError(
            f"state db not found at {s.state_db}: set VVTV_STATE_DB to the daemon's database",
            EXIT_USAGE,
        )
    try:
        store = Store.open(s.state_db, create=False)
    except StoreError as exc:
        raise OpsError(str(exc), EXIT_FAILED) from exc
    try:
        path = store.export_audit(day, s.exports_dir)
    finally:
        store.close()
    return {"audit_export": path, "audit_export_date": day.isoformat()}


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}, use YYYY-MM-DD") from None


def _emergency(enabled: bool | None) -> Handler:
    """emergency-on forces emergency mode (held until released); emergency-off releases the
    override, so the buffer rule decides again (emergency ends once the buffer is at target,
    and comes back by itself if the buffer runs dry later)."""
    word = "on" if enabled else "off"

    def handler(args: argparse.Namespace) -> Fields:
        s = settings_from_env()
        result = trio.run(
            api.set_emergency, s.api_url, s.control_token, s.control_secret, enabled, wall_now()
        )
        fields: dict[str, Any] = {"emergency_mode": word, **result}
        if enabled is None:
            fields["override"] = "released"
            fields["result"] = _released(result)
        return fields

    handler.__name__ = f"emergency_{word}"
    return release_guard(handler)


def _released(status: dict[str, Any]) -> str:
    """emergency-off's verdict: the release worked, whatever state the buffer rule keeps."""
    if status.get("state") != "EMERGENCY":
        return "ok: override released, emergency mode is off"
    return (
        "ok: override released; the buffer rule keeps emergency mode on "
        f"(buffer {status.get('buffer_minutes')} min, it ends by itself at the target of "
        f"{status.get('buffer_target_minutes')} min): this is not a failure. "
        "`vvtv runbook emergency-toggle` forces it off"
    )


def _emergency_toggle(args: argparse.Namespace) -> Fields:
    """The original's emergency-mode call (an empty body): flips the mode, held until
    emergency-off; prints the state it left."""
    s = settings_from_env()
    result = trio.run(
        api.toggle_emergency, s.api_url, s.control_token, s.control_secret, wall_now()
    )
    on = result["state"] == "EMERGENCY"
    return {"emergency_mode": "on" if on else "off", **result}


# --- registration ---------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``runbook`` and its commands."""
    runbook = subparsers.add_parser(
        "runbook",
        help="operator runbook commands (backups, keys, nightly, emergency)",
        description="The runbook commands of SPEC §8; ops/vvtv-runbook.sh forwards to these.",
    )
    sub = runbook.add_subparsers(dest="runbook_command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        parser.set_defaults(func=handler)
        return parser

    add("backup-key-rotate", guarded(_key_rotate), "make a new backup key, archive the old one")
    add(
        "backup-key-ensure",
        guarded(_key_ensure),
        "rotate the backup key if missing or older than VVTV_BACKUP_KEY_MAX_AGE_DAYS",
    )
    add(
        "backup-key-prune",
        guarded(_key_prune),
        "delete archived keys past VVTV_BACKUP_KEY_ARCHIVE_RETENTION_DAYS "
        "(never one a backup still needs)",
    )
    nightly = add(
        "force-nightly",
        release_guard(_force_nightly),
        "run the nightly job once, now (through the running service's signed control call "
        "when one holds the state)",
    )
    nightly.add_argument(
        "--daemon-cmd",
        default=None,
        help="command line that starts the daemon (default: this Python's `-m vvtv run`)",
    )
    export = add("export-audits", guarded(_export_audits), "export a day of the audit trail")
    export.add_argument(
        "--date", type=_parse_date, default=None, help="UTC day YYYY-MM-DD (default: today)"
    )
    add("backup-metadata", guarded(_backup_plain), "snapshot state db + OwnerCard + manifest")
    add(
        "backup-metadata-secure",
        guarded(_backup_secure),
        "the same snapshot, encrypted with the current backup key",
    )
    for name, handler, what in (
        ("verify-backup", _verify_plain, "verify a plain backup"),
        ("verify-backup-secure", _verify_secure, "verify (decrypt) a secure backup"),
    ):
        add(name, guarded(handler), what).add_argument("dir", help="the backup directory")
    for name, handler, what in (
        ("restore-metadata", _restore_plain, "verify then restore a plain backup"),
        ("restore-metadata-secure", _restore_secure, "verify then restore a secure backup"),
    ):
        parser = add(name, guarded(handler), what)
        parser.add_argument("dir", help="the backup directory")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore even while a daemon holds the state (never skips verification)",
        )
    add(
        "emergency-on",
        _emergency(True),
        "force emergency mode on until emergency-off (signed control call)",
    )
    add(
        "emergency-off",
        _emergency(None),
        "release the override: the buffer rule decides again (signed control call)",
    )
    add(
        "emergency-toggle",
        release_guard(_emergency_toggle),
        "flip emergency mode, as the original's empty-body call did; held until "
        "emergency-off (signed control call)",
    )
