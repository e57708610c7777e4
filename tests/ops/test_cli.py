"""The operator's commands: key=value and --json output, exit codes, errors that say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.loopback import closed_port
from vvtv.cli import ops

from .conftest import FakeApi, spawn_fake_daemon

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, str], str]:
    """Exit code, the key=value lines parsed, and stderr."""
    code = ops.main(list(argv))
    out = capsys.readouterr()
    fields = dict(line.split("=", 1) for line in out.out.splitlines() if "=" in line)
    return code, fields, out.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = ops.main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


def test_backup_metadata_prints_the_original_keys(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, fields, err = run(capsys, "runbook", "backup-metadata")
    assert code == 0
    assert list(fields) == ["backup_dir", "manifest"]
    assert Path(fields["backup_dir"]).parent == ops_env["backups"]
    assert fields["manifest"] == f"{fields['backup_dir']}/manifest.json"
    assert "backup: snapshotting" in err  # progress goes to stderr, never mixed with results
    code, fields, _ = run(capsys, "runbook", "verify-backup", fields["backup_dir"])
    assert code == 0 and fields["backup_verified"] == "true"


def test_json_output_is_one_object_with_the_same_keys(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, key = run_json(capsys, "runbook", "backup-key-ensure")
    assert code == 0 and key["backup_key_rotated"] is True
    code, made = run_json(capsys, "runbook", "backup-metadata-secure")
    assert code == 0
    assert made["secure_backup_payload"] == f"{made['secure_backup_dir']}/payload.enc"
    assert made["backup_key_id"] == key["backup_key_id"]
    code, verified = run_json(capsys, "runbook", "verify-backup-secure", made["secure_backup_dir"])
    assert code == 0 and verified["backup_verified"] is True


def test_key_commands_print_rotate_ensure_and_prune_results(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, rotated, _ = run(capsys, "runbook", "backup-key-rotate")
    assert code == 0 and Path(rotated["backup_key_file"]).name == "current.key"
    assert oct(os.stat(rotated["backup_key_file"]).st_mode & 0o777) == "0o600"
    code, ensured, _ = run(capsys, "runbook", "backup-key-ensure")
    assert ensured["backup_key_rotated"] == "false"
    assert ensured["backup_key_id"] == rotated["backup_key_id"]
    code, pruned, _ = run(capsys, "runbook", "backup-key-prune")
    assert code == 0 and pruned["backup_key_pruned"] == "0"
    assert pruned["backup_key_kept_needed"] == ""


@pytest.mark.parametrize("command", ["verify-backup", "verify-backup-secure", "restore-metadata"])
def test_a_missing_or_non_backup_dir_is_a_usage_error(
    ops_env: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
) -> None:
    code, _, err = run(capsys, "runbook", command, str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "runbook", command, str(tmp_path))
    assert code == 2 and "not a vvtv backup" in err


def test_a_corrupt_manifest_fails_verification_with_exit_1(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, made, _ = run(capsys, "runbook", "backup-metadata")
    manifest = Path(made["manifest"])
    manifest.write_text(manifest.read_text()[:-20])
    code, _, err = run(capsys, "runbook", "verify-backup", made["backup_dir"])
    assert code == 1
    assert "manifest.json" in err and "not valid JSON" in err
    code, body = run_json(capsys, "runbook", "verify-backup", made["backup_dir"])
    assert code == 1 and body["ok"] is False and "manifest.json" in str(body["error"])


def test_restore_prints_what_it_restored_and_refuses_a_live_daemon(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, made, _ = run(capsys, "runbook", "backup-metadata")
    daemon = spawn_fake_daemon()
    (ops_env["root"] / "vvtv.pid").write_text(str(daemon.pid))
    try:
        code, _, err = run(capsys, "runbook", "restore-metadata", made["backup_dir"])
        assert code == 1 and "systemctl stop vvtv" in err
        code, fields, _ = run(capsys, "runbook", "restore-metadata", made["backup_dir"], "--force")
    finally:
        daemon.kill()
        daemon.wait()
    assert code == 0
    assert fields["restored_state_db"] == str(ops_env["state_db"])
    assert fields["restored_owner_card"] == str(ops_env["owner_card"])
    assert fields["forced"] == "true"


def test_a_missing_argument_is_an_argparse_usage_error(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        ops.main(["runbook", "verify-backup"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        ops.main(["runbook", "no-such-command"])


def test_a_malformed_setting_is_a_usage_error_naming_the_variable(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VVTV_SOAK_MAX_SAMPLES", "many")
    code, _, err = run(capsys, "soak")
    assert code == 2 and "VVTV_SOAK_MAX_SAMPLES" in err


def test_soak_short_run_from_the_original_env_vars(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VVTV_SOAK_HOURS", "0")
    monkeypatch.setenv("VVTV_SOAK_MAX_SAMPLES", "3")
    monkeypatch.setenv("VVTV_SOAK_INTERVAL_SECS", "0.01")
    code, fields, _ = run(capsys, "soak")
    assert code == 0 and fields["verdict"] == "PASS" and fields["samples"] == "3"
    assert Path(fields["summary"]).parent.parent == ops_env["root"] / "soak"
    fake_api.buffers = [3.0]
    code, fields, _ = run(capsys, "soak")
    assert code == 1 and fields["verdict"] == "FAIL"


def test_canary_then_promote_exit_codes_follow_the_gate(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VVTV_CANARY_SOAK_HOURS", "0")
    monkeypatch.setenv("VVTV_CANARY_SOAK_MAX_SAMPLES", "2")
    monkeypatch.setenv("VVTV_CANARY_SOAK_INTERVAL_SECS", "0.01")
    code, fields, _ = run(capsys, "canary")
    assert code == 0 and fields["status"] == "PASS" and fields["promotion_status"] == "SKIPPED"
    fake_api.alerts = [{"code": "QA_PASS_RATE_LOW", "severity": "high", "message": "qa 0.7"}]
    code, fields, _ = run(capsys, "promote")  # the newest result.env by default
    assert code == 1 and fields["promotion_status"] == "BLOCKED"
    fake_api.alerts = []
    code, fields, _ = run(capsys, "promote", fields["canary_result"])
    assert code == 0 and fields["promotion_status"] == "PROMOTED"


def test_emergency_on_forces_and_emergency_off_releases_with_signed_calls(
    ops_env: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, fields, _ = run(capsys, "runbook", "emergency-on")
    assert code == 0
    assert fields["emergency_mode"] == "on" and fields["state"] == "EMERGENCY"
    code, fields, _ = run(capsys, "runbook", "emergency-off")
    assert code == 0 and fields["state"] == "RUNNING"
    assert fake_api.control == [
        {"path": "/v1/control/emergency-mode", "enabled": True},
        {"path": "/v1/control/emergency-mode", "enabled": None},
    ]
    assert fields["emergency_override"] == ""  # null: released, the buffer rule decides again


def test_emergency_off_says_the_release_worked_when_the_buffer_rule_keeps_emergency_on(
    ops_env: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.status.update(buffer_minutes=4.0, buffer_target_minutes=60)
    run(capsys, "runbook", "emergency-on")
    code, fields, err = run(capsys, "runbook", "emergency-off")
    assert (code, err, fields["state"], fields["override"]) == (0, "", "EMERGENCY", "released")
    # One line that cannot be read as a failure, and says why the state is what it is.
    assert fields["result"].startswith("ok: override released; the buffer rule keeps")
    assert "not a failure" in fields["result"] and "4.0 min" in fields["result"]
    fake_api.status.update(buffer_minutes=55.0)
    run(capsys, "runbook", "emergency-on")
    code, fields, _ = run(capsys, "runbook", "emergency-off")
    assert fields["result"] == "ok: override released, emergency mode is off"


def test_emergency_toggle_sends_the_originals_empty_body_and_prints_the_state_it_left(
    ops_env: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, fields, _ = run(capsys, "runbook", "emergency-toggle")
    assert (code, fields["emergency_mode"], fields["state"]) == (0, "on", "EMERGENCY")
    # Twice in the same second: a fresh nonce each time, so not refused as a replay.
    code, fields, _ = run(capsys, "runbook", "emergency-toggle")
    assert (code, fields["emergency_mode"], fields["state"]) == (0, "off", "RUNNING")
    assert fake_api.control == [{"path": "/v1/control/emergency-mode", "toggle": True}] * 2


def test_emergency_with_a_wrong_secret_says_which_settings_to_fix(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VVTV_CONTROL_SECRET", "wrong")
    code, _, err = run(capsys, "runbook", "emergency-on")
    assert code == 1 and "VVTV_CONTROL_SECRET" in err and "401" in err
    assert not fake_api.control


def test_status_summarises_state_buffer_and_alerts(
    ops_env: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.alerts = [{"code": "BUFFER_CRITICAL", "severity": "critical", "message": "low"}]
    fake_api.status["now_playing"] = {"title": "Ocean", "start_at": "2026-11-22T04:00:00Z"}
    fake_api.status["next"] = [{"title": "Slate"}, {"title": "Slate"}]
    code = ops.main(["status"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"vvtv at {fake_api.url}: RUNNING" in out
    assert "buffer:       55.0 min" in out
    assert "BUFFER_CRITICAL: low" in out and "1 active" in out
    assert "now playing:  Ocean (from 2026-11-22T04:00:00Z)" in out
    assert "next:         Slate (+1 more)" in out
    assert "card warnings" not in out


def test_status_lists_the_cards_warnings_by_field(
    ops_env: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    warning = "safety_policy.reject_suspicious_watermark: true is not implemented: ..."
    fake_api.status["card_warnings"] = [warning]
    assert ops.main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"card warnings: 1\n  {warning}\n" in out


def test_status_of_a_stopped_daemon_exits_1_with_what_to_check(
    ops_env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VVTV_API_URL", "http://127.0.0.1:9")
    code, _, err = run(capsys, "status")
    assert code == 1 and "systemctl status vvtv" in err


def test_the_runbook_wrapper_keeps_the_original_invocation(
    ops_env: dict[str, Path], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items()}
    done = subprocess.run(
        ["bash", str(REPO / "ops" / "vvtv-runbook.sh"), "backup-metadata"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup_dir=")
    missing = subprocess.run(
        ["bash", str(REPO / "ops" / "vvtv-runbook.sh"), "verify-backup", str(tmp_path / "x")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


RECORDER = """
import json, os, sys
json.dump({"argv": sys.argv[1:], "once": os.environ.get("VVTV_RUN_ONCE"),
           "nightly": os.environ.get("VVTV_FORCE_NIGHTLY")}, open(sys.argv[1], "w"))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


def test_force_nightly_runs_the_daemon_once_with_the_original_flags(
    ops_env: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    record = tmp_path / "record.json"
    script = tmp_path / "fake_daemon.py"
    script.write_text(RECORDER)
    cmd = f"{sys.executable} {script} {record}"
    code, fields, _ = run(capsys, "runbook", "force-nightly", "--daemon-cmd", cmd)
    assert code == 0 and fields["nightly"] == "ok" and fields["nightly_via"] == "once"
    seen = json.loads(record.read_text())
    assert seen == {"argv": [str(record), "--once", "--force-nightly"], "once": "1", "nightly": "1"}
    monkeypatch.setenv("FAKE_EXIT", "4")
    code, fields, err = run(capsys, "runbook", "force-nightly", "--daemon-cmd", cmd)
    assert code == 1 and fields["nightly_exit_code"] == "4" and "exited with 4" in err


def test_force_nightly_asks_the_running_service_with_a_signed_call_instead_of_stopping_it(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    record = tmp_path / "record.json"
    script = tmp_path / "fake_daemon.py"
    script.write_text(RECORDER)
    cmd = f"{sys.executable} {script} {record}"
    service = spawn_fake_daemon()  # the service: its pid file says it holds the state
    try:
        (ops_env["root"] / "vvtv.pid").write_text(f"{service.pid}\n")
        code, fields, err = run(capsys, "runbook", "force-nightly", "--daemon-cmd", cmd)
        assert code == 0, err
        assert fields["nightly_via"] == "api" and fields["nightly"] == "ok"
        assert fields["nightly_report_day"] == "2026-11-21"
        assert fields["nightly_weekly"] == "2026-W47"
        assert fake_api.control == [{"path": "/v1/control/nightly", "force": True}]
        assert not record.exists()  # no second daemon was started beside the service
        assert f"pid {service.pid}" in err

        # The service's job failed: the reply says so, the exit code is 1.
        fake_api.nightly_reply = {"ran": False, "error": "StoreError('disk full')"}
        code, fields, err = run(capsys, "runbook", "force-nightly")
        assert code == 1 and fields["nightly"] == "failed" and "disk full" in err
    finally:
        service.kill()
        service.wait()


def test_force_nightly_on_a_service_says_why_when_the_call_is_refused(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = spawn_fake_daemon()
    try:
        (ops_env["root"] / "vvtv.pid").write_text(f"{service.pid}\n")
        monkeypatch.setenv("VVTV_CONTROL_SECRET", "wrong")
        code, _, err = run(capsys, "runbook", "force-nightly")
        assert code == 1 and "401" in err and "VVTV_CONTROL_SECRET" in err
        monkeypatch.setenv("VVTV_API_URL", f"http://127.0.0.1:{closed_port()}")
        code, _, err = run(capsys, "runbook", "force-nightly")
        assert code == 1 and "is the daemon running?" in err
        assert not fake_api.control
    finally:
        service.kill()
        service.wait()


def test_export_audits_writes_the_days_file_through_the_store(
    ops_env: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vvtv.core.clock import utc
    from vvtv.core.model import AuditEvent
    from vvtv.store import Store

    db = ops_env["root"] / "state" / "store.db"
    store = Store.open(db)
    store.append_audit(AuditEvent("e1", utc(2026, 3, 1, 12), "qa_result", "QA_REJECTED"))
    store.close()
    monkeypatch.setenv("VVTV_STATE_DB", str(db))
    code, fields, _ = run(capsys, "runbook", "export-audits", "--date", "2026-03-01")
    assert code == 0
    assert fields["audit_export"] == str(ops_env["root"] / "exports" / "audit-2026-03-01.json")
    [event] = json.loads(Path(fields["audit_export"]).read_text())
    assert event["reason_code"] == "QA_REJECTED"
    with pytest.raises(SystemExit):
        ops.main(["runbook", "export-audits", "--date", "01/03/2026"])
    monkeypatch.setenv("VVTV_STATE_DB", str(ops_env["root"] / "absent.db"))
    code, _, err = run(capsys, "runbook", "export-audits")
    assert code == 2 and "VVTV_STATE_DB" in err


def test_go_live_phases_from_the_cli_write_their_summary_and_exit_by_status(
    ops_env: dict[str, Path],
    fake_api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ok = f"{sys.executable} -c 'import sys; sys.exit(0)'"
    # --skip-tests: this is the test suite; phase1 would otherwise run it again, inside it.
    code, fields, _ = run(capsys, "go-live", "phase1", "--skip-tests", "--daemon-cmd", ok)
    assert code == 0 and fields["status"] == "PASS"
    assert Path(fields["summary"]).parent.parent == ops_env["root"] / "go-live" / "phase1"
    monkeypatch.setenv("VVTV_CANARY_SOAK_HOURS", "0")
    monkeypatch.setenv("VVTV_CANARY_SOAK_MAX_SAMPLES", "1")
    fake_api.alerts = [{"code": "STREAM_STALE", "severity": "critical", "message": "frozen"}]
    code, fields, _ = run(capsys, "go-live", "phase3")
    assert code == 1 and fields["status"] == "FAIL" and fields["failed_step"] == "canary"
    assert "BLOCKED" in fields["error"] and "STREAM_STALE" in fields["error"]


@pytest.mark.parametrize(
    "argv",
    [
        ["owner-card", "validate", "config/owner_card.sample.yaml"],
        ["owner-card", "validate", "config/owner_card.sample.yaml", "--json"],
        ["runbook", "emergency-on"],  # fails (nothing listens): the error path prints too
        ["--help"],
    ],
)
def test_a_reader_that_goes_away_gets_no_broken_pipe_traceback(argv: list[str]) -> None:
    """``vvtv ... | head``: the pipe's reader is gone before vvtv writes (a real pipe)."""
    env = {**os.environ, "VVTV_API_URL": "http://127.0.0.1:9", "VVTV_ENV": "dev"}
    vvtv = Path(sys.executable).parent / "vvtv"
    child = subprocess.Popen(
        [str(vvtv), *argv], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader exits at once, as `head -n 0` would
    err = child.stderr.read().decode()
    code = child.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code in (0, 1, 141), (code, err)
