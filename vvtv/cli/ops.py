"""The operator's commands: ``vvtv runbook <command>``, ``soak``, ``canary``, ``promote``,
``go-live phase1|phase2|phase3`` and ``status`` (SPEC §8, issue 9).

``register(subparsers)`` adds them to the ``vvtv`` parser; each sets ``func`` to a handler
``(args) -> int``. This module is the composition root for operations: it reads the
settings and the wall clock and hands explicit paths and times to ``vvtv.backup.keys``,
``vvtv.backup`` and ``vvtv.release``.

Output: ``key=value`` lines on stdout as in the original runbook (``--json``: one JSON
object instead); progress on stderr. Exit codes: 0 ok, 1 a check or verdict failed,
2 usage or configuration error. Every error says what is wrong and what to do.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from vvtv import backup
from vvtv.backup import keys
from vvtv.core.settings import Settings, SettingsError, process_env
from vvtv.ownercard.load import OwnerCardError, load_owner_card_file
from vvtv.release import (
    CanaryConfig,
    CanaryResult,
    DaemonHandle,
    GoLiveConfig,
    ReleaseError,
    SoakConfig,
    SoakResult,
    api,
    canary,
    latest_result,
    promote,
    run_phase,
    running_daemon,
    soak,
)

Handler = Callable[[argparse.Namespace], int]
Fields = Mapping[str, object]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class OpsError(Exception):
    """An operation that cannot go on; ``exit_code`` is 1 (check failed) or 2 (usage)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- output ---------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ",".join(_text(v) for v in value)
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def emit(args: argparse.Namespace, fields: Fields) -> None:
    """Print the result: ``key=value`` lines, or one JSON object with ``--json``."""
    if getattr(args, "json", False):
        print(json.dumps({k: _jsonable(v) for k, v in fields.items()}, sort_keys=False))
    else:
        for key, value in fields.items():
            print(f"{key}={_text(value)}")
    sys.stdout.flush()


def fail(args: argparse.Namespace, message: str, exit_code: int) -> int:
    """Report an error on stderr (and as JSON on stdout with ``--json``); return the code."""
    print(f"vvtv: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message, "exit_code": exit_code}))
    return exit_code


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    try:
        return Settings.from_env(env)
    except SettingsError as exc:
        message = f"{exc}\nfix the environment (see ops/vvtv.env.example)"
        raise OpsError(message, EXIT_USAGE) from exc


def wall_now() -> datetime:
    """The operator tools' clock: this module is a composition root, so it reads the wall."""
    return datetime.now(UTC)


def guarded(handler: Callable[[argparse.Namespace], Fields | int]) -> Handler:
    """Run a handler that returns its fields; map every known failure to its exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            result = handler(args)
        except OpsError as exc:
            return fail(args, str(exc), exc.exit_code)
        except backup.BackupError as exc:
            return fail(args, str(exc), exc.exit_code)
        except keys.KeyStoreError as exc:
            return fail(args, str(exc), EXIT_USAGE)
        except OSError as exc:
            return fail(args, f"{exc}: check the path and its permissions", EXIT_FAILED)
        if isinstance(result, int):
            return result
        emit(args, result)
        return EXIT_OK

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


# --- runbook: keys --------------------------------------------------------------------


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


# --- runbook: backups -----------------------------------------------------------------


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


# --- runbook: daemon jobs -------------------------------------------------------------


def daemon_command() -> list[str]:
    """How to start this vvtv: the same interpreter, so the same install and venv."""
    return [sys.executable, "-m", "vvtv", "run"]


def _force_nightly(args: argparse.Namespace) -> Fields | int:
    settings_from_env()  # a broken environment is a usage error before anything runs
    env = process_env(VVTV_RUN_ONCE="1", VVTV_FORCE_NIGHTLY="1")
    cmd = [*_daemon_cmd(args), "--once", "--force-nightly"]
    progress(f"force-nightly: running {' '.join(cmd)}")
    # The child's stdout is progress for us: keep our stdout for the key=value result.
    sys.stderr.flush()
    code = subprocess.call(cmd, env=env, stdout=2)
    fields = {"nightly_exit_code": code, "nightly": "ok" if code == 0 else "failed"}
    if code != 0:
        emit(args, fields)
        print(
            f"vvtv: error: the nightly run exited with {code}; read its output above and "
            "`journalctl -u vvtv` for the cause",
            file=sys.stderr,
        )
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
        return {"emergency_mode": word, **result}

    handler.__name__ = f"emergency_{word}"
    return _release_guard(handler)


# --- release tooling ------------------------------------------------------------------

MiB = 1024 * 1024


def card_critical_minutes(owner_card: Path) -> float:
    """The OwnerCard's buffer_critical_minutes, for a daemon whose status does not say it.

    Read with the daemon's own loader: a card the daemon would refuse is a usage error
    here too, named the same way, rather than a silent default."""
    try:
        loaded = load_owner_card_file(owner_card)
    except OwnerCardError as exc:
        raise OpsError(
            f"{exc}\nfix the card (`vvtv owner-card validate {owner_card}`) or point "
            "VVTV_OWNER_CARD_PATH at the daemon's card",
            EXIT_USAGE,
        ) from exc
    return float(loaded.card.schedule_policy.buffer_critical_minutes)


def soak_config(s: Settings, *, canary: bool = False) -> SoakConfig:
    """The soak settings (``VVTV_SOAK_*``, or ``VVTV_CANARY_SOAK_*`` for a canary), with
    the growth bounds ``VVTV_SOAK_MAX_RSS_GROWTH_MB`` and ``VVTV_SOAK_MAX_RESTARTS``."""
    hours, interval, samples = s.soak_hours, s.soak_interval_secs, s.soak_max_samples
    if canary:
        hours = s.canary_soak_hours
        if s.canary_soak_interval_secs is not None:
            interval = s.canary_soak_interval_secs
        if s.canary_soak_max_samples is not None:
            samples = s.canary_soak_max_samples
    return SoakConfig(
        hours=hours,
        interval_s=interval,
        max_samples=samples,
        critical_minutes=card_critical_minutes(s.owner_card_path),
        max_rss_growth_bytes=int(s.soak_max_rss_growth_mb * MiB),
        max_restart_growth=s.soak_max_restarts,
    )


def _daemon_cmd(args: argparse.Namespace) -> list[str]:
    given = getattr(args, "daemon_cmd", None)
    return shlex.split(given) if given else daemon_command()


async def _maybe_daemon(args: argparse.Namespace, s: Settings, log_path: Path, body: Any) -> Any:
    """Run ``body(daemon_or_None)``, inside a daemon we start when --start-daemon is given."""
    if not getattr(args, "start_daemon", False):
        return await body(None)
    async with running_daemon(_daemon_cmd(args), process_env(), s.api_url, log_path) as d:
        return await body(d)


def _release_guard(handler: Callable[[argparse.Namespace], Fields | int]) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return guarded(handler)(args)
        except ReleaseError as exc:
            return fail(args, str(exc), exc.exit_code)
        except api.ApiError as exc:
            return fail(args, str(exc), EXIT_FAILED)

    run.__name__ = handler.__name__
    return run


def pid_from_file(path: Path) -> int | None:
    """The daemon's pid from its pid file, for RSS when ``/metrics`` does not export it."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stamp() -> str:
    return wall_now().strftime("%Y%m%dT%H%M%SZ")


def _soak(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    config = soak_config(s)
    out = Path(args.out) if args.out else s.runtime_dir / "soak" / _stamp()

    async def body(daemon: DaemonHandle | None) -> SoakResult:
        return await soak(
            s.api_url,
            out,
            config,
            pid=daemon.pid if daemon else pid_from_file(s.pid_file),
            clock=wall_now,
            progress=progress,
        )

    result = trio.run(_maybe_daemon, args, s, out / "daemon.log", body)
    emit(args, {**result.fields, "summary": result.summary_path})
    return EXIT_OK if result.passed else EXIT_FAILED


def _canary(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    config = CanaryConfig(
        api_url=s.api_url,
        state_db=s.state_db,
        owner_card=s.owner_card_path,
        backup_root=s.backup_dir,
        canary_root=s.canary_dir,
        promotions_dir=s.promotions_dir,
        pid_file=s.pid_file,
        soak=soak_config(s, canary=True),
        auto_rollback=s.canary_auto_rollback,
        auto_promote=s.canary_auto_promote,
    )

    async def body(daemon: DaemonHandle | None) -> CanaryResult:
        return await canary(config, daemon=daemon, clock=wall_now, progress=progress)

    log = s.canary_dir / f"daemon-{_stamp()}.log"
    result = trio.run(_maybe_daemon, args, s, log, body)
    emit(args, {**result.fields, "result_env": result.result_env})
    return EXIT_OK if result.ok else EXIT_FAILED


def _promote(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    result_env = Path(args.result_env) if args.result_env else latest_result(s.canary_dir)
    decision = trio.run(promote, result_env, s.api_url, s.promotions_dir, wall_now())
    emit(args, decision.fields)
    return EXIT_OK if decision.promoted else EXIT_FAILED


def _go_live(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    short = soak_config(s)
    if short.max_samples <= 0:  # phase2's soak is a short one unless told otherwise
        short = attrs.evolve(short, hours=0, max_samples=3)
    config = GoLiveConfig(
        api_url=s.api_url,
        control_token=s.control_token,
        control_secret=s.control_secret,
        state_db=s.state_db,
        owner_card=s.owner_card_path,
        backup_root=s.backup_dir,
        key_dir=s.key_dir,
        exports_dir=s.exports_dir,
        pid_file=s.pid_file,
        go_live_root=s.go_live_dir,
        canary_root=s.canary_dir,
        promotions_dir=s.promotions_dir,
        key_max_age_days=s.backup_key_max_age_days,
        key_retention_days=s.backup_key_archive_retention_days,
        soak=short,
        canary_soak=soak_config(s, canary=True),
        canary_auto_rollback=s.canary_auto_rollback,
        env=process_env(),
        daemon_cmd=_daemon_cmd(args),
        project_root=Path(__file__).resolve().parent.parent,
        start_daemon=args.start_daemon,
        with_tests=args.phase == "phase1" and not getattr(args, "skip_tests", False),
        cloud_check=getattr(args, "cloud_check", False),
        cloud_base_url=s.cloudflare_base_url,
    )
    result = trio.run(partial(run_phase, args.phase, config, clock=wall_now, progress=progress))
    emit(args, {**result.fields, "summary": result.summary})
    return EXIT_OK if result.status == "PASS" else EXIT_FAILED


def _describe(item: object) -> str:
    """One line for a queue entry (or the first of a list of them)."""
    if isinstance(item, list):
        if not item:
            return "-"
        more = f" (+{len(item) - 1} more)" if len(item) > 1 else ""
        return _describe(item[0]) + more
    if isinstance(item, dict):
        title = item.get("title") or item.get("asset_id") or item.get("plan_id") or ""
        start = item.get("start_at")
        return f"{title} (from {start})" if start else str(title)
    return "-" if item is None else str(item)


def _status(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    try:
        status, alerts = trio.run(api.status_and_alerts, s.api_url)
    except api.ApiError as exc:
        raise OpsError(
            f"the daemon does not answer: {exc}. Is it running? (`systemctl status vvtv`, "
            "`journalctl -u vvtv -n 50`)",
            EXIT_FAILED,
        ) from exc
    if args.json:
        emit(args, {"api_url": s.api_url, "status": status, "alerts": alerts})
        return EXIT_OK
    lines = [f"vvtv at {s.api_url}: {status.get('state', '?')}"]
    lines.append(f"  buffer:       {status.get('buffer_minutes', '?')} min")
    lines.append(f"  now playing:  {_describe(status.get('now_playing'))}")
    lines.append(f"  next:         {_describe(status.get('next'))}")
    override = status.get("emergency_override")
    if override is not None:
        lines.append(f"  emergency override: {'on' if override else 'off'}")
    if status.get("last_segment_age_s") is not None:
        lines.append(f"  last segment: {status['last_segment_age_s']} s ago")
    lines.append(f"  as of:        {status.get('timestamp', '?')}")
    if not alerts:
        lines.append("alerts: none")
    else:
        lines.append(f"alerts: {len(alerts)} active")
        for alert in alerts:
            severity = str(alert.get("severity", "?"))
            lines.append(f"  [{severity:>8}] {alert.get('code')}: {alert.get('message', '')}")
    print("\n".join(lines))
    return EXIT_OK


# --- registration ---------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object")
    return common


def _add_runbook(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
    nightly = add("force-nightly", guarded(_force_nightly), "run the nightly job once, now")
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


def _daemon_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-daemon",
        action="store_true",
        help="start `vvtv run` with this environment for the check, stop it afterwards",
    )
    parser.add_argument(
        "--daemon-cmd",
        default=None,
        help="command line that starts the daemon (default: this Python's `-m vvtv run`)",
    )


def _add_release(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    soak_p = subparsers.add_parser(
        "soak",
        parents=[common],
        help="sample the daemon's API for VVTV_SOAK_HOURS and give a PASS/FAIL verdict",
    )
    soak_p.add_argument("--out", default=None, help="output dir (default runtime/soak/<UTC ts>)")
    _daemon_options(soak_p)
    soak_p.set_defaults(func=_release_guard(_soak))
    canary_p = subparsers.add_parser(
        "canary",
        parents=[common],
        help="backup, verify, soak; roll back on FAIL; promote when VVTV_CANARY_AUTO_PROMOTE=1",
    )
    _daemon_options(canary_p)
    canary_p.set_defaults(func=_release_guard(_canary))
    promote_p = subparsers.add_parser(
        "promote",
        parents=[common],
        help="promote a canary that passed, unless a high/critical alert is active",
    )
    promote_p.add_argument(
        "result_env", nargs="?", default=None, help="canary result.env (default: the newest)"
    )
    promote_p.set_defaults(func=_release_guard(_promote))
    go_live = subparsers.add_parser("go-live", help="the go-live checks, phase by phase")
    phases = go_live.add_subparsers(dest="phase", required=True, metavar="PHASE")
    for phase, what in (
        ("phase1", "tests, one cycle, API status/alerts/metrics"),
        ("phase2", "nightly, export, keys, backups verify+restore, emergency on/off, short soak"),
        ("phase3", "canary with promotion, optional cloud check"),
    ):
        parser = phases.add_parser(phase, parents=[common], help=what, description=what)
        _daemon_options(parser)
        if phase == "phase1":
            parser.add_argument(
                "--skip-tests",
                action="store_true",
                help="do not run `bash ops/bootstrap.sh test` first (it runs by default)",
            )
        if phase == "phase3":
            parser.add_argument(
                "--cloud-check", action="store_true", help="check VVTV_CLOUDFLARE_BASE_URL answers"
            )
        parser.set_defaults(func=_release_guard(_go_live))
    status = subparsers.add_parser(
        "status", parents=[common], help="a human summary of the channel's status and alerts"
    )
    status.set_defaults(func=_release_guard(_status))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``runbook``, ``soak``, ``canary``, ``promote``, ``go-live`` and ``status``."""
    common = _common()
    _add_runbook(subparsers, common)
    _add_release(subparsers, common)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (tests, and ``python -m vvtv.cli.ops``)."""
    parser = argparse.ArgumentParser(prog="vvtv")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
