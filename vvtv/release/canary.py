"""Canary: backup → verify → soak → on FAIL restore the backup; optionally promote (SPEC §8).

Artifacts in ``runtime/canary/<UTC ts>/``: ``result.env`` (status
PASS | FAIL_ROLLBACK_APPLIED | FAIL_ROLLBACK_SKIPPED, backup_dir, rollback_applied,
soak_summary, promotion_status SKIPPED | PROMOTED | BLOCKED, and the reasons) and
``soak/`` (the soak's summary and samples).

Rollback restores the pre-canary state db and OwnerCard. A restore is refused while a
daemon holds the state: when this canary started the daemon (``--start-daemon``) it stops
it first; against an external daemon (systemd) the rollback is skipped with the command
to run once the service is stopped (``rollback_command=``), never forced under it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio

from vvtv import backup
from vvtv.release import promote as promote_mod
from vvtv.release.daemon import DaemonHandle
from vvtv.release.envfile import unique_dir, write_env
from vvtv.release.soak import Progress, SoakConfig, _quiet, soak, wall_clock


@attrs.frozen
class CanaryConfig:
    api_url: str
    state_db: Path
    owner_card: Path
    backup_root: Path
    canary_root: Path
    promotions_dir: Path
    pid_file: Path | None
    soak: SoakConfig
    auto_rollback: bool = True
    auto_promote: bool = False


@attrs.frozen
class CanaryResult:
    status: str
    directory: Path
    result_env: Path
    fields: dict[str, object]

    @property
    def ok(self) -> bool:
        return self.status == "PASS" and self.fields.get("promotion_status") != "BLOCKED"


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def canary(
    config: CanaryConfig,
    *,
    daemon: DaemonHandle | None = None,
    clock: Callable[[], datetime] = wall_clock,
    progress: Progress = _quiet,
) -> CanaryResult:
    """Run one canary; always writes ``result.env``, whatever happened."""
    started = clock()
    out = unique_dir(Path(config.canary_root), _ts(started))
    fields: dict[str, object] = {
        "status": "FAIL_ROLLBACK_SKIPPED",
        "started_at": started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "backup_dir": "",
        "backup_verified": False,
        "soak_summary": out / "soak" / "summary.txt",
        "soak_verdict": "",
        "rollback_applied": False,
        "rollback_reason": "",
        "rollback_command": "",
        "promotion_status": "SKIPPED",
        "promotion_record": "",
        "reasons": "",
    }
    result_env = out / "result.env"
    try:
        await _run(config, out, fields, daemon, clock, progress)
    except (backup.BackupError, OSError) as exc:
        fields["reasons"] = f"canary aborted: {exc}"
        progress(f"canary: aborted: {exc}")
    fields["finished_at"] = clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_env(result_env, fields)
    progress(f"canary: {fields['status']} (promotion {fields['promotion_status']}), {result_env}")
    return CanaryResult(str(fields["status"]), out, result_env, fields)


async def _run(
    config: CanaryConfig,
    out: Path,
    fields: dict[str, object],
    daemon: DaemonHandle | None,
    clock: Callable[[], datetime],
    progress: Progress,
) -> None:
    progress("canary: backing up the current state")
    backup_dir = await trio.to_thread.run_sync(
        lambda: backup.backup_metadata(
            config.state_db, config.owner_card, config.backup_root, clock(), progress=progress
        )
    )
    fields["backup_dir"] = backup_dir
    await trio.to_thread.run_sync(lambda: backup.verify_backup(backup_dir, progress=progress))
    fields["backup_verified"] = True
    result = await soak(
        config.api_url,
        out / "soak",
        config.soak,
        pid=daemon.pid if daemon else None,
        clock=clock,
        progress=progress,
    )
    fields["soak_summary"] = result.summary_path
    fields["soak_verdict"] = result.verdict
    if result.passed:
        fields["status"] = "PASS"
        if config.auto_promote:
            write_env(out / "result.env", fields)  # the gate reads the canary's own result
            decision = await promote_mod.promote(
                out / "result.env", config.api_url, config.promotions_dir, clock()
            )
            fields["promotion_status"] = decision.status
            fields["promotion_record"] = decision.record
            fields["reasons"] = "; ".join(decision.reasons)
        return
    fields["reasons"] = "; ".join(result.reasons)
    fields["rollback_command"] = f"vvtv runbook restore-metadata {backup_dir}"
    if not config.auto_rollback:
        fields["rollback_reason"] = "VVTV_CANARY_AUTO_ROLLBACK=0"
        return
    if daemon is not None:
        progress(f"canary: stopping the daemon (pid {daemon.pid}) before the rollback")
        await daemon.stop()
    progress(f"canary: soak failed, restoring {backup_dir}")
    try:
        await trio.to_thread.run_sync(
            lambda: backup.restore_metadata(
                backup_dir,
                config.state_db,
                config.owner_card,
                clock(),
                # A daemon this canary started and has just stopped may leave its lock
                # row until the TTL runs out; nobody else holds the state.
                force=daemon is not None and not daemon.running,
                pid_file=config.pid_file,
                progress=progress,
            )
        )
    except backup.DaemonRunning as exc:
        fields["rollback_reason"] = (
            f"{exc.holder}: stop the service, then run `{fields['rollback_command']}`"
        )
        return
    fields["status"] = "FAIL_ROLLBACK_APPLIED"
    fields["rollback_applied"] = True
