"""The deployment files say what the runbook promises: unit signals, no secret defaults, metrics."""

from __future__ import annotations

import json
from pathlib import Path

from vvtv.core.settings import Settings
from vvtv.notify.alerts import RULES

OPS = Path(__file__).resolve().parents[2] / "ops"


def test_the_systemd_unit_restarts_on_failure_stops_with_sigterm_and_reloads_with_sighup() -> None:
    unit = (OPS / "systemd" / "vvtv.service").read_text()
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert lines["Restart"] == "on-failure"
    assert lines["KillSignal"] == "SIGTERM"
    assert lines["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert lines["ExecStart"].endswith("vvtv run")
    assert lines["NoNewPrivileges"] == "yes" and lines["ProtectSystem"] == "strict"


def test_the_systemd_unit_bounds_memory_and_denies_link_local_and_metadata_addresses() -> None:
    unit = (OPS / "systemd" / "vvtv.service").read_text()
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert lines["MemoryMax"] == "3G" and lines["MemoryHigh"] == "2G"
    denied = lines["IPAddressDeny"].split()
    assert {"169.254.0.0/16", "fe80::/10"} <= set(denied)
    assert "IPAddressAllow" not in lines  # an operator's drop-in, never the default
    assert "allow_private_addresses" in unit  # the comment says what a LAN source needs


def _env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1) for line in path.read_text().splitlines() if line and line[0] != "#"
    )
    return {key: value for key, value in pairs}


def test_the_production_env_example_parses_and_refuses_to_start_until_secrets_are_set() -> None:
    env = _env_file(OPS / "vvtv.env.example")
    settings = Settings.from_env(env)
    assert settings.env != "dev"
    problems = " ".join(settings.startup_problems())
    for secret in ("VVTV_CONTROL_TOKEN", "VVTV_CONTROL_SECRET", "VVTV_CLOUDFLARE_TOKEN"):
        assert env[secret] == "" and secret in problems
    secrets = (
        "VVTV_CONTROL_TOKEN",
        "VVTV_CONTROL_SECRET",
        "VVTV_CLOUDFLARE_TOKEN",
        "VVTV_CLOUDFLARE_SECRET",
    )
    # Each its own 32+ bytes (token == secret is refused too).
    filled = {k: (f"{k}-{'x' * 32}" if k in secrets else v) for k, v in env.items()}
    assert Settings.from_env(filled).startup_problems() == []


def test_the_dashboard_charts_every_channel_metric() -> None:
    dashboard = json.loads((OPS / "grafana" / "vvtv-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for name in (
        "vvtv_buffer_minutes",
        "vvtv_plans_created",
        "vvtv_plans_committed",
        "vvtv_qa_pass_rate",
        "vvtv_fallback_rate",
        "vvtv_curator_actions",
        "vvtv_stream_disruptions",
        "vvtv_event_loop_lag_seconds",
        "actor_restarts_total",
        "actor_mailbox_depth",
        "actor_handle_seconds",
        "vvtv_output_connected",
        "vvtv_output_bitrate_kbps",
        "vvtv_output_reconnects_total",
    ):
        assert name in exprs, name
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_runbook_covers_every_alert_code_and_runbook_command() -> None:
    runbook = (OPS / "runbook.md").read_text()
    for code in [rule.code for rule in RULES]:  # every alert the channel can raise
        assert f"### {code}" in runbook or f"/ {code}" in runbook, code
    for command in (
        "backup-key-rotate",
        "backup-key-ensure",
        "backup-key-prune",
        "force-nightly",
        "export-audits",
        "backup-metadata",
        "backup-metadata-secure",
        "verify-backup",
        "verify-backup-secure",
        "restore-metadata",
        "restore-metadata-secure",
        "emergency-on",
        "emergency-off",
        "emergency-toggle",
    ):
        assert command in runbook, command
