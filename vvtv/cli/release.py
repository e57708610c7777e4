"""``vvtv soak``, ``canary``, ``promote`` and ``go-live phase1|phase2|phase3``: the release
tooling of SPEC §8, configured from ``Settings`` and run with ``trio.run``."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from vvtv.cli.context import (
    daemon_cmd,
    daemon_options,
    settings_from_env,
    stamp,
    wall_now,
)
from vvtv.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Fields,
    OpsError,
    emit,
    progress,
    release_guard,
)
from vvtv.core.settings import Settings, process_env
from vvtv.ownercard.load import OwnerCardError, load_owner_card_file
from vvtv.release import (
    CanaryConfig,
    CanaryResult,
    DaemonHandle,
    GoLiveConfig,
    SoakConfig,
    SoakResult,
    canary,
    latest_result,
    promote,
    run_phase,
    running_daemon,
    soak,
)

MiB = 1024 * 1024
#: The repository the daemon runs from: go-live phase1 runs its test suite there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


async def _maybe_daemon(args: argparse.Namespace, s: Settings, log_path: Path, body: Any) -> Any:
    """Run ``body(daemon_or_None)``, inside a daemon we start when --start-daemon is given."""
    if not getattr(args, "start_daemon", False):
        return await body(None)
    async with running_daemon(daemon_cmd(args), process_env(), s.api_url, log_path) as d:
        return await body(d)


def pid_from_file(path: Path) -> int | None:
    """The daemon's pid from its pid file, for RSS when ``/metrics`` does not export it."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _soak(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    config = soak_config(s)
    out = Path(args.out) if args.out else s.runtime_dir / "soak" / stamp()

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

    log = s.canary_dir / f"daemon-{stamp()}.log"
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
        daemon_cmd=daemon_cmd(args),
        project_root=PROJECT_ROOT,
        start_daemon=args.start_daemon,
        with_tests=args.phase == "phase1" and not getattr(args, "skip_tests", False),
        cloud_check=getattr(args, "cloud_check", False),
        cloud_base_url=s.cloudflare_base_url,
    )
    result = trio.run(partial(run_phase, args.phase, config, clock=wall_now, progress=progress))
    emit(args, {**result.fields, "summary": result.summary})
    return EXIT_OK if result.status == "PASS" else EXIT_FAILED


# --- registration ---------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``soak``, ``canary``, ``promote`` and ``go-live``."""
    soak_p = subparsers.add_parser(
        "soak",
        parents=[common],
        help="sample the daemon's API for VVTV_SOAK_HOURS and give a PASS/FAIL verdict",
    )
    soak_p.add_argument("--out", default=None, help="output dir (default runtime/soak/<UTC ts>)")
    daemon_options(soak_p)
    soak_p.set_defaults(func=release_guard(_soak))
    canary_p = subparsers.add_parser(
        "canary",
        parents=[common],
        help="backup, verify, soak; roll back on FAIL; promote when VVTV_CANARY_AUTO_PROMOTE=1",
    )
    daemon_options(canary_p)
    canary_p.set_defaults(func=release_guard(_canary))
    promote_p = subparsers.add_parser(
        "promote",
        parents=[common],
        help="promote a canary that passed, unless a high/critical alert is active",
    )
    promote_p.add_argument(
        "result_env", nargs="?", default=None, help="canary result.env (default: the newest)"
    )
    promote_p.set_defaults(func=release_guard(_promote))
    go_live = subparsers.add_parser("go-live", help="the go-live checks, phase by phase")
    phases = go_live.add_subparsers(dest="phase", required=True, metavar="PHASE")
    for phase, what in (
        ("phase1", "tests, one cycle, API status/alerts/metrics"),
        ("phase2", "nightly, export, keys, backups verify+restore, emergency on/off, short soak"),
        ("phase3", "canary with promotion, optional cloud check"),
    ):
        parser = phases.add_parser(phase, parents=[common], help=what, description=what)
        daemon_options(parser)
        if phase == "phase1":
            parser.add_argument(
                "--skip-tests",
                action="store_true",
                help="do not run `bash ops/bootstrap.sh test` first (it runs by default)",
            )
        if phase == "phase3":
            parser.add_argument(
                "--cloud-check",
                action="store_true",
                help="check the edge at VVTV_CLOUDFLARE_BASE_URL answers its /v1/status (2xx)",
            )
        parser.set_defaults(func=release_guard(_go_live))
