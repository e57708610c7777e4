"""Go-live checks, phase by phase, as the original's ``vvtv-phaseN-go-live.sh`` (issue 9).

* ``phase1``: the test suite (``vvtv go-live phase1`` runs it unless ``--skip-tests``;
  the suite's own tests of phase1 skip it, or it would recurse), one daemon cycle
  (``vvtv run --once``), then the API captured: status, alerts, metrics.
* ``phase2``: the nightly job, an audit export, key rotate/ensure/prune, a plain and a
  secure backup each verified and restored, emergency mode on then off, a short soak.
  The restores are drills into the phase's artifacts directory: they prove a backup
  restores without replacing the live state under a running channel.
* ``phase3``: a canary with the promotion gate, then (``--cloud-check``) the edge at
  ``VVTV_CLOUDFLARE_BASE_URL`` answers its ``/v1/status`` (a 2xx with the status body).

Each run writes ``runtime/go-live/phaseN/<UTC ts>/``: one ``NN-<step>.env`` per step
(its outputs and ``status=``), logs and captures, and ``summary.txt`` with
``status=PASS|FAIL`` and, on failure, ``failed_step=`` and ``error=``. It stops at the
first failing step. Steps that need the API start the daemon first with
``--start-daemon`` (stopped at the end); otherwise they use the one at ``VVTV_API_URL``.
Offline steps (nightly, backups) run before any daemon is started.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import attrs
import httpx
import trio

from vvtv import backup
from vvtv.backup import keys
from vvtv.release import api
from vvtv.release.canary import CanaryConfig, canary
from vvtv.release.daemon import DaemonHandle, running_daemon
from vvtv.release.envfile import unique_dir, write_env
from vvtv.release.errors import ReleaseError
from vvtv.release.soak import Progress, SoakConfig, _quiet, soak, wall_clock

PHASES = ("phase1", "phase2", "phase3")
T = TypeVar("T")
SKIPPED = "SKIPPED"


@attrs.frozen
class GoLiveConfig:
    api_url: str
    control_token: str
    control_secret: str
    state_db: Path
    owner_card: Path
    backup_root: Path
    key_dir: Path
    exports_dir: Path
    pid_file: Path | None
    go_live_root: Path
    canary_root: Path
    promotions_dir: Path
    key_max_age_days: float
    key_retention_days: float
    soak: SoakConfig
    canary_soak: SoakConfig
    canary_auto_rollback: bool
    env: Mapping[str, str]
    daemon_cmd: Sequence[str]
    project_root: Path
    start_daemon: bool = False
    with_tests: bool = False
    cloud_check: bool = False
    cloud_base_url: str | None = None
    command_timeout_s: float = 3600.0


@attrs.define
class StepContext:
    config: GoLiveConfig
    out: Path
    clock: Callable[[], datetime]
    progress: Progress
    daemon: DaemonHandle | None = None


StepResult = dict[str, object] | str  # fields, or SKIPPED
StepFn = Callable[[StepContext], Awaitable[StepResult]]


@attrs.frozen
class Step:
    name: str
    run: StepFn
    needs_api: bool = False


@attrs.frozen
class PhaseResult:
    phase: str
    status: str
    directory: Path
    summary: Path
    fields: dict[str, object]


class StepFailed(Exception):
    """A step's check did not hold; the message is the summary's ``error=``."""


# --- helpers ----------------------------------------------------------------------------


async def _command(
    ctx: StepContext, name: str, cmd: Sequence[str], extra_env: dict[str, str]
) -> dict[str, object]:
    log_path = ctx.out / f"{name}.log"
    ctx.progress(f"go-live: {name}: {' '.join(cmd)} (log {log_path})")
    with open(log_path, "wb") as log, trio.move_on_after(ctx.config.command_timeout_s) as scope:
        done = await trio.run_process(
            list(cmd),
            env={**ctx.config.env, **extra_env},
            cwd=str(ctx.config.project_root),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if scope.cancelled_caught:
        raise StepFailed(f"{' '.join(cmd)} ran longer than {ctx.config.command_timeout_s:g}s")
    if done.returncode != 0:
        raise StepFailed(f"{' '.join(cmd)} exited with {done.returncode}: read {log_path}")
    return {"exit_code": done.returncode, "log": log_path}


async def _thread(fn: Callable[[], T]) -> T:
    """Slow file and SQLite work off the event loop."""
    return await trio.to_thread.run_sync(fn)


# --- phase 1 ----------------------------------------------------------------------------


async def step_tests(ctx: StepContext) -> StepResult:
    if not ctx.config.with_tests:
        return SKIPPED
    return await _command(ctx, "tests", ["bash", "ops/bootstrap.sh", "test"], {})


async def step_run_once(ctx: StepContext) -> StepResult:
    cmd = [*ctx.config.daemon_cmd, "--once"]
    return await _command(ctx, "run-once", cmd, {"VVTV_RUN_ONCE": "1"})


def _capture(path: str, filename: str) -> StepFn:
    async def capture(ctx: StepContext) -> StepResult:
        async with api.client() as http:
            try:
                text = await api.get_text(http, ctx.config.api_url, path)
            except api.ApiError as exc:
                raise StepFailed(str(exc)) from exc
        target = ctx.out / filename
        target.write_text(text, encoding="utf-8")
        if filename.endswith(".json"):
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise StepFailed(f"GET {path} did not return JSON ({exc})") from exc
        elif "vvtv_buffer_minutes" not in text:
            raise StepFailed(f"GET {path} has no vvtv_buffer_minutes metric")
        return {"capture": target}

    return capture


# --- phase 2 ----------------------------------------------------------------------------


async def step_nightly(ctx: StepContext) -> StepResult:
    cmd = [*ctx.config.daemon_cmd, "--once", "--force-nightly"]
    return await _command(ctx, "nightly", cmd, {"VVTV_RUN_ONCE": "1", "VVTV_FORCE_NIGHTLY": "1"})


async def step_export(ctx: StepContext) -> StepResult:
    from vvtv.store import Store

    def export() -> Path:
        store = Store.open(ctx.config.state_db, create=False)
        try:
            return Path(store.export_audit(ctx.clock().date(), ctx.config.exports_dir))
        finally:
            store.close()

    path = await _thread(export)
    return {"audit_export": path}


async def step_key_rotate(ctx: StepContext) -> StepResult:
    info = keys.rotate(ctx.config.key_dir, ctx.clock())
    return {"backup_key_id": info.id, "backup_key_file": info.path}


async def step_key_ensure(ctx: StepContext) -> StepResult:
    rotated, info = keys.ensure(ctx.config.key_dir, ctx.clock(), ctx.config.key_max_age_days)
    return {"backup_key_rotated": rotated, "backup_key_id": info.id}


async def step_key_prune(ctx: StepContext) -> StepResult:
    needed = backup.key_ids_in_use(ctx.config.backup_root)
    result = keys.prune(ctx.config.key_dir, ctx.clock(), ctx.config.key_retention_days, needed)
    return {"backup_key_pruned": len(result.pruned), "backup_key_kept_needed": result.kept_needed}


def _drill_targets(ctx: StepContext, name: str) -> tuple[Path, Path]:
    drill = ctx.out / name
    drill.mkdir(exist_ok=True)
    return drill / "state.db", drill / "owner_card.yaml"


async def step_backup_verify_restore(ctx: StepContext) -> StepResult:
    c = ctx.config
    made = await _thread(
        lambda: backup.backup_metadata(
            c.state_db, c.owner_card, c.backup_root, ctx.clock(), progress=ctx.progress
        )
    )
    await _thread(lambda: backup.verify_backup(made, progress=ctx.progress))
    db, card = _drill_targets(ctx, "restore-drill")
    await _thread(lambda: backup.restore_metadata(made, db, card, ctx.clock()))
    return {"backup_dir": made, "backup_verified": True, "restored_state_db": db}


async def step_secure_backup_verify_restore(ctx: StepContext) -> StepResult:
    c = ctx.config
    made = await _thread(
        lambda: backup.backup_metadata_secure(
            c.state_db, c.owner_card, c.backup_root, c.key_dir, ctx.clock(), progress=ctx.progress
        )
    )
    await _thread(lambda: backup.verify_backup_secure(made, c.key_dir, progress=ctx.progress))
    db, card = _drill_targets(ctx, "restore-drill-secure")
    await _thread(lambda: backup.restore_metadata_secure(made, db, card, c.key_dir, ctx.clock()))
    return {"secure_backup_dir": made, "backup_verified": True, "restored_state_db": db}


def _emergency(enabled: bool | None) -> StepFn:
    async def toggle(ctx: StepContext) -> StepResult:
        c = ctx.config
        try:
            state = await api.set_emergency(
                c.api_url, c.control_token, c.control_secret, enabled, ctx.clock()
            )
        except api.ApiError as exc:
            raise StepFailed(str(exc)) from exc
        if state.get("emergency_override") not in (enabled, None):
            raise StepFailed(
                f"emergency-mode {'on' if enabled else 'release'} answered "
                f"emergency_override={state.get('emergency_override')}"
            )
        return {"emergency_mode": "on" if enabled else "off", **state}

    return toggle


async def step_soak(ctx: StepContext) -> StepResult:
    pid = ctx.daemon.pid if ctx.daemon else None
    result = await soak(
        ctx.config.api_url,
        ctx.out / "soak",
        ctx.config.soak,
        pid=pid,
        clock=ctx.clock,
        progress=ctx.progress,
    )
    if not result.passed:
        raise StepFailed(f"soak FAIL: {'; '.join(result.reasons)} ({result.summary_path})")
    return {"soak_summary": result.summary_path, "soak_verdict": result.verdict}


# --- phase 3 ----------------------------------------------------------------------------


async def step_canary(ctx: StepContext) -> StepResult:
    c = ctx.config
    config = CanaryConfig(
        api_url=c.api_url,
        state_db=c.state_db,
        owner_card=c.owner_card,
        backup_root=c.backup_root,
        canary_root=c.canary_root,
        promotions_dir=c.promotions_dir,
        pid_file=c.pid_file,
        soak=c.canary_soak,
        auto_rollback=c.canary_auto_rollback,
        auto_promote=True,
    )
    result = await canary(config, daemon=ctx.daemon, clock=ctx.clock, progress=ctx.progress)
    fields = {"canary_result": result.result_env, **result.fields}
    if not result.ok or result.fields.get("promotion_status") != "PROMOTED":
        raise StepFailed(
            f"canary {result.status}, promotion {result.fields.get('promotion_status')}: "
            f"{result.fields.get('reasons')} ({result.result_env})"
        )
    return fields


async def step_cloud(ctx: StepContext) -> StepResult:
    """The edge answers for this channel: ``GET <VVTV_CLOUDFLARE_BASE_URL>/v1/status`` is a
    2xx whose body is the edge's public status (a JSON object with a string ``state`` and a
    numeric ``buffer_minutes``). Anything else fails, a 404 or a login page included: a
    base URL that reaches a server but not the Worker is not a cloud."""
    if not ctx.config.cloud_check:
        return SKIPPED
    base = ctx.config.cloud_base_url
    if not base:
        raise StepFailed("--cloud-check needs VVTV_CLOUDFLARE_BASE_URL")
    url = base.rstrip("/") + "/v1/status"
    async with api.client() as http:
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            raise StepFailed(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise StepFailed(f"GET {url}: HTTP {response.status_code}, expected 2xx")
    status = _edge_status(response)
    if status is None:
        raise StepFailed(
            f"GET {url}: HTTP {response.status_code} but not the edge's status (a JSON object "
            f"with state and buffer_minutes): {response.text[:120]!r}"
        )
    return {
        "cloud_url": base,
        "status_url": url,
        "http_status": response.status_code,
        "edge_state": status["state"],
        "edge_stale": status.get("stale"),
    }


def _edge_status(response: httpx.Response) -> dict[str, object] | None:
    try:
        body = response.json()
    except ValueError:  # not JSON (json.JSONDecodeError, or undecodable bytes)
        return None
    if not isinstance(body, dict):
        return None
    state, minutes = body.get("state"), body.get("buffer_minutes")
    if not isinstance(state, str) or not state:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return None
    return body


def steps_for(phase: str) -> list[Step]:
    if phase == "phase1":
        return [
            Step("tests", step_tests),
            Step("run-once", step_run_once),
            Step("api-status", _capture("/v1/status", "status.json"), needs_api=True),
            Step("api-alerts", _capture("/v1/alerts", "alerts.json"), needs_api=True),
            Step("api-metrics", _capture("/metrics", "metrics.txt"), needs_api=True),
        ]
    if phase == "phase2":
        return [
            Step("nightly", step_nightly),
            Step("export-audits", step_export),
            Step("backup-key-rotate", step_key_rotate),
            Step("backup-key-ensure", step_key_ensure),
            Step("backup-key-prune", step_key_prune),
            Step("backup-verify-restore", step_backup_verify_restore),
            Step("secure-backup-verify-restore", step_secure_backup_verify_restore),
            Step("emergency-on", _emergency(True), needs_api=True),
            Step("emergency-off", _emergency(None), needs_api=True),
            Step("soak", step_soak, needs_api=True),
        ]
    if phase == "phase3":
        return [Step("canary", step_canary, needs_api=True), Step("cloud-check", step_cloud)]
    raise ReleaseError(f"unknown go-live phase {phase!r}: use one of {', '.join(PHASES)}", 2)


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_phase(
    phase: str,
    config: GoLiveConfig,
    *,
    clock: Callable[[], datetime] = wall_clock,
    progress: Progress = _quiet,
    steps: list[Step] | None = None,
) -> PhaseResult:
    """Run a phase's steps in order, stopping at the first failure; writes ``summary.txt``."""
    steps = steps_for(phase) if steps is None else steps
    started = clock()
    out = unique_dir(
        config.go_live_root / phase, started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    )
    ctx = StepContext(config, out, clock, progress)
    outcomes: dict[str, str] = {s.name: "NOT_RUN" for s in steps}
    failed, error = "", ""
    async with contextlib.AsyncExitStack() as stack:
        for number, step in enumerate(steps, 1):
            if step.needs_api and config.start_daemon and ctx.daemon is None:
                progress(f"go-live: starting the daemon ({' '.join(config.daemon_cmd)})")
                try:
                    ctx.daemon = await stack.enter_async_context(
                        running_daemon(
                            config.daemon_cmd, config.env, config.api_url, out / "daemon.log"
                        )
                    )
                except ReleaseError as exc:
                    failed, error = step.name, f"cannot start the daemon: {exc}"
                    outcomes[step.name] = "FAIL"
                    break
            progress(f"go-live: {phase} step {number}/{len(steps)}: {step.name}")
            try:
                result = await step.run(ctx)
            except (
                StepFailed,
                ReleaseError,
                backup.BackupError,
                keys.KeyStoreError,
                api.ApiError,
                OSError,
            ) as exc:
                failed, error = step.name, str(exc)
                outcomes[step.name] = "FAIL"
                write_env(out / f"{number:02d}-{step.name}.env", {"status": "FAIL", "error": error})
                break
            except Exception as exc:  # an unexpected bug still gets a verdict on disk
                failed, error = step.name, f"{type(exc).__name__}: {exc}"
                outcomes[step.name] = "FAIL"
                write_env(out / f"{number:02d}-{step.name}.env", {"status": "FAIL", "error": error})
                break
            outcome = SKIPPED if result == SKIPPED else "PASS"
            outcomes[step.name] = outcome
            fields = {"status": outcome, **(result if isinstance(result, dict) else {})}
            write_env(out / f"{number:02d}-{step.name}.env", fields)
    status = "FAIL" if failed else "PASS"
    summary: dict[str, object] = {
        "status": status,
        "phase": phase,
        "failed_step": failed,
        "error": error,
        "steps": [s.name for s in steps],
        **{f"step_{name.replace('-', '_')}": outcome for name, outcome in outcomes.items()},
        "artifacts": out,
        "started_at": _utc(started),
        "finished_at": _utc(clock()),
    }
    path = write_env(out / "summary.txt", summary)
    progress(f"go-live: {phase} {status}" + (f" at step {failed}: {error}" if failed else ""))
    return PhaseResult(phase, status, out, path, summary)
