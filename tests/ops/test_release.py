"""Soak, canary, promote and go-live against a loopback stand-in for the daemon's API."""

from __future__ import annotations

import sqlite3
import sys
from datetime import datetime
from pathlib import Path

import pytest
import trio

from tests.support.loopback import Reply, closed_port, json_reply, start_loopback
from vvtv.backup import keys
from vvtv.core.clock import utc
from vvtv.release import (
    CanaryConfig,
    GoLiveConfig,
    ReleaseError,
    SoakConfig,
    canary,
    promote,
    read_env,
    run_phase,
    running_daemon,
    soak,
)
from vvtv.release.golive import StepContext, StepFailed, StepResult, step_cloud
from vvtv.release.soak import metric_value, total_restarts

from .conftest import SECRET, TOKEN, FakeApi, MiB

FAST = SoakConfig(hours=0, interval_s=0.01, max_samples=3)
NOW = utc(2026, 11, 22, 4, 0)


def clock() -> datetime:
    return NOW


async def test_soak_passes_when_every_request_succeeds_and_the_buffer_stays_healthy(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    result = await soak(fake_api.url, tmp_path / "soak", FAST, clock=clock)
    summary = read_env(tmp_path / "soak" / "summary.txt")
    assert result.passed and summary["verdict"] == "PASS"
    assert summary["samples"] == "3"
    assert summary["request_failures"] == "0"
    assert summary["buffer_critical_observations"] == "0"
    assert summary["rss_growth_bytes"] == "0"
    assert summary["restart_growth"] == "0"
    assert len((tmp_path / "soak" / "samples.jsonl").read_text().splitlines()) == 3
    paths = [p for _, p in fake_api.requests]
    assert paths.count("/v1/status") == paths.count("/metrics") == paths.count("/v1/alerts") == 3


async def test_soak_fails_when_the_buffer_goes_below_critical(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.buffers = [50.0, 19.5, 45.0]
    result = await soak(fake_api.url, tmp_path, FAST, clock=clock)
    summary = read_env(result.summary_path)
    assert summary["verdict"] == "FAIL"
    assert summary["buffer_critical_observations"] == "1"
    assert summary["min_buffer_minutes"] == "19.5"


async def test_soak_uses_the_critical_threshold_the_daemon_reports(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.status["buffer_critical_minutes"] = 30
    fake_api.buffers = [25.0]
    result = await soak(fake_api.url, tmp_path, FAST, clock=clock)
    assert result.fields["buffer_critical_observations"] == 1
    assert result.fields["buffer_critical_minutes"] == 30.0


async def test_soak_fails_when_a_request_fails(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.failures["/metrics"] = 1
    result = await soak(fake_api.url, tmp_path, FAST, clock=clock)
    assert result.verdict == "FAIL"
    assert result.fields["request_failures"] == 1
    assert "1 request(s) failed" in result.fields["fail_reasons"]


async def test_soak_fails_when_the_daemon_is_unreachable(tmp_path: Path) -> None:
    result = await soak("http://127.0.0.1:9", tmp_path, FAST, clock=clock)
    assert result.verdict == "FAIL" and result.fields["request_failures"] == 12


async def test_soak_fails_on_memory_growth_beyond_the_bound(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.rss = [100 * MiB] * 3 + [400 * MiB] * 3
    config = SoakConfig(hours=0, interval_s=0.01, max_samples=6, max_rss_growth_bytes=128 * MiB)
    result = await soak(fake_api.url, tmp_path, config, clock=clock)
    assert result.verdict == "FAIL"
    assert result.fields["rss_growth_bytes"] == 300 * MiB
    assert any("RSS grew" in r for r in result.reasons)


async def test_soak_fails_on_a_restart_storm_or_a_daemon_restart(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.restarts = [0, 5, 12]
    storm = await soak(fake_api.url, tmp_path / "storm", FAST, clock=clock)
    assert storm.verdict == "FAIL" and storm.fields["restart_growth"] == 12
    fake_api.restarts = [3, 3, 0]
    restarted = await soak(fake_api.url, tmp_path / "restarted", FAST, clock=clock)
    assert restarted.verdict == "FAIL"
    assert any("went backwards" in r for r in restarted.reasons)


def test_prometheus_values_and_runtime_restarts_are_read_from_their_formats() -> None:
    text = (
        "# HELP vvtv_buffer_minutes_total x\n"
        "vvtv_buffer_minutes_total 9\n"
        'vvtv_buffer_minutes{channel="a"} 12.5\n'
        "vvtv_buffer_minutes 2.5\n"
    )
    assert metric_value(text, "vvtv_buffer_minutes") == 15.0
    assert metric_value(text, "absent") is None
    tree = {"restarts": 1, "children": [{"restarts": 2, "children": [{"restarts": 3}]}]}
    assert total_restarts(tree) == 6
    assert total_restarts({"name": "x"}) is None


def canary_config(runtime: dict[str, Path], api: FakeApi, **overrides: object) -> CanaryConfig:
    values: dict[str, object] = dict(
        api_url=api.url,
        state_db=runtime["state_db"],
        owner_card=runtime["owner_card"],
        backup_root=runtime["backups"],
        canary_root=runtime["root"] / "canary",
        promotions_dir=runtime["root"] / "promotions",
        pid_file=runtime["root"] / "vvtv.pid",
        soak=FAST,
    )
    values.update(overrides)
    return CanaryConfig(**values)  # type: ignore[arg-type]


def plan_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM plans").fetchone()[0])
    finally:
        conn.close()


async def test_canary_rolls_back_the_backup_when_the_soak_fails(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    db = runtime["state_db"]
    before = plan_count(db)

    def canary_writes() -> None:  # the release under test changes the state...
        conn = sqlite3.connect(db)
        conn.execute("INSERT INTO plans (title) VALUES ('written by the canary')")
        conn.commit()
        conn.close()

    fake_api.on_status = canary_writes
    fake_api.buffers = [40.0, 10.0]  # ...and lets the buffer fall below critical
    result = await canary(canary_config(runtime, fake_api), clock=clock)
    env = read_env(result.result_env)
    assert env["status"] == "FAIL_ROLLBACK_APPLIED"
    assert env["rollback_applied"] == "true"
    assert env["promotion_status"] == "SKIPPED"
    assert read_env(Path(env["soak_summary"]))["verdict"] == "FAIL"
    assert Path(env["backup_dir"]).parent == runtime["backups"]
    assert plan_count(db) == before
    assert result.result_env.parent.parent == runtime["root"] / "canary"


async def test_canary_without_auto_rollback_reports_the_rollback_skipped(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    fake_api.buffers = [5.0]
    result = await canary(canary_config(runtime, fake_api, auto_rollback=False), clock=clock)
    env = read_env(result.result_env)
    assert env["status"] == "FAIL_ROLLBACK_SKIPPED"
    assert env["rollback_applied"] == "false"
    assert env["rollback_command"] == f"vvtv runbook restore-metadata {env['backup_dir']}"


async def test_canary_that_passes_is_promoted_when_auto_promote_is_on(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    result = await canary(canary_config(runtime, fake_api, auto_promote=True), clock=clock)
    env = read_env(result.result_env)
    assert env["status"] == "PASS" and env["promotion_status"] == "PROMOTED"
    record = read_env(Path(env["promotion_record"]))
    assert record["promotion_status"] == "PROMOTED"
    assert (runtime["root"] / "promotions" / "latest.env").is_file()


async def test_promote_is_blocked_by_a_critical_alert(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    result = await canary(canary_config(runtime, fake_api), clock=clock)
    assert result.status == "PASS"
    fake_api.alerts = [
        {"code": "FALLBACK_RATE_GROWING", "severity": "medium", "message": "m"},
        {"code": "BUFFER_CRITICAL", "severity": "critical", "message": "buffer 12 < 20"},
    ]
    decision = await promote(result.result_env, fake_api.url, runtime["root"] / "prom", NOW)
    assert decision.status == "BLOCKED"
    assert decision.fields["blocking_alerts"] == ["BUFFER_CRITICAL:critical"]
    assert read_env(decision.record)["promotion_status"] == "BLOCKED"
    assert not (runtime["root"] / "prom" / "latest.env").exists()
    fake_api.alerts = fake_api.alerts[:1]  # a medium alert does not block
    later = await promote(result.result_env, fake_api.url, runtime["root"] / "prom", NOW)
    assert later.status == "PROMOTED" and later.record != decision.record


async def test_promote_is_blocked_unless_the_canary_passed(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    result_env = tmp_path / "result.env"
    result_env.write_text("status=FAIL_ROLLBACK_APPLIED\nbackup_dir=/x\n")
    decision = await promote(result_env, fake_api.url, tmp_path / "prom", NOW)
    assert decision.status == "BLOCKED"
    assert "not PASS" in decision.fields["reasons"]


async def test_promote_is_blocked_when_the_alerts_cannot_be_read(tmp_path: Path) -> None:
    result_env = tmp_path / "result.env"
    result_env.write_text("status=PASS\n")
    decision = await promote(result_env, "http://127.0.0.1:9", tmp_path / "prom", NOW)
    assert decision.status == "BLOCKED" and "cannot read active alerts" in decision.reasons[0]


async def test_promote_refuses_a_malformed_result_env_naming_the_line(tmp_path: Path) -> None:
    result_env = tmp_path / "result.env"
    result_env.write_text("status=PASS\nthis line is wrong\n")
    with pytest.raises(ReleaseError, match=r"result.env:2") as caught:
        await promote(result_env, "http://127.0.0.1:9", tmp_path, NOW)
    assert caught.value.exit_code == 2


def golive_config(
    runtime: dict[str, Path], api: FakeApi, daemon_cmd: list[str], **overrides: object
) -> GoLiveConfig:
    api.now = NOW.timestamp  # the tools sign with the test's clock
    values: dict[str, object] = dict(
        api_url=api.url,
        control_token=TOKEN,
        control_secret=SECRET,
        state_db=runtime["state_db"],
        owner_card=runtime["owner_card"],
        backup_root=runtime["backups"],
        key_dir=runtime["keys"],
        exports_dir=runtime["root"] / "exports",
        pid_file=runtime["root"] / "vvtv.pid",
        go_live_root=runtime["root"] / "go-live",
        canary_root=runtime["root"] / "canary",
        promotions_dir=runtime["root"] / "promotions",
        key_max_age_days=30,
        key_retention_days=180,
        soak=FAST,
        canary_soak=FAST,
        canary_auto_rollback=True,
        env={},
        daemon_cmd=daemon_cmd,
        project_root=runtime["root"],
    )
    values.update(overrides)
    return GoLiveConfig(**values)  # type: ignore[arg-type]


OK_CMD = [sys.executable, "-c", "import sys; sys.exit(0)"]


async def test_go_live_phase2_runs_every_step_and_writes_a_passing_summary(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    from vvtv.store import Store

    db = runtime["root"] / "state" / "store.db"
    Store.open(db).close()
    config = golive_config(runtime, fake_api, OK_CMD, state_db=db)
    result = await run_phase("phase2", config, clock=clock)
    summary = read_env(result.summary)
    assert summary["status"] == "PASS", summary
    assert summary["failed_step"] == ""
    for step in ("nightly", "export_audits", "secure_backup_verify_restore", "soak"):
        assert summary[f"step_{step}"] == "PASS"
    assert result.directory.parent == runtime["root"] / "go-live" / "phase2"
    assert [c["enabled"] for c in fake_api.control] == [True, None]  # on, then released
    assert (runtime["root"] / "exports" / "audit-2026-11-22.json").is_file()
    assert keys.current(runtime["keys"]) is not None
    assert (result.directory / "restore-drill-secure" / "state.db").is_file()


async def test_go_live_stops_at_the_first_failing_step_and_names_it(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    result = await run_phase("phase2", golive_config(runtime, fake_api, failing), clock=clock)
    summary = read_env(result.summary)
    assert summary["status"] == "FAIL"
    assert summary["failed_step"] == "nightly"
    assert "exited with 3" in summary["error"]
    assert summary["step_export_audits"] == "NOT_RUN"
    assert not fake_api.control


async def test_go_live_phase1_captures_the_api_and_skips_tests_unless_asked(
    fake_api: FakeApi, runtime: dict[str, Path]
) -> None:
    result = await run_phase("phase1", golive_config(runtime, fake_api, OK_CMD), clock=clock)
    summary = read_env(result.summary)
    assert summary["status"] == "PASS" and summary["step_tests"] == "SKIPPED"
    assert "vvtv_buffer_minutes" in (result.directory / "metrics.txt").read_text()
    assert (result.directory / "status.json").is_file()


DAEMON_SCRIPT = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"state": "RUNNING", "buffer_minutes": 50}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


async def test_start_daemon_spawns_the_daemon_waits_for_its_api_and_stops_it(
    tmp_path: Path,
) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", DAEMON_SCRIPT, str(port)]
    async with running_daemon(cmd, {}, base, tmp_path / "daemon.log", stop_timeout=5) as daemon:
        assert daemon.running
        result = await soak(base, tmp_path / "soak", FAST, pid=daemon.pid, clock=clock)
        assert result.fields["rss_last_bytes"]  # read from /proc/<pid> without /metrics
    assert not daemon.running


def test_promote_defaults_to_the_newest_canary_run_including_same_second_ones(
    tmp_path: Path,
) -> None:
    from vvtv.release import latest_result

    for name in (
        "20261122T040000Z",
        "20261122T040000Z-2",
        "20261122T040000Z-10",
        "20261121T235959Z",
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.env").write_text("status=PASS\n")
    assert latest_result(tmp_path).parent.name == "20261122T040000Z-10"
    with pytest.raises(ReleaseError, match="run `vvtv canary` first"):
        latest_result(tmp_path / "none")


# --- go-live phase3 --cloud-check: the edge, not just any server ---------------------------

EDGE_STATUS = {"channel": "main", "state": "RUNNING", "buffer_minutes": 57.2, "stale": False}


async def cloud_check(base: str, runtime: dict[str, Path], fake_api: FakeApi) -> StepResult:
    config = golive_config(
        runtime, fake_api, OK_CMD, cloud_check=True, cloud_base_url=base.rstrip("/") + "/"
    )
    out = runtime["root"] / "go-live-step"
    out.mkdir(exist_ok=True)
    return await step_cloud(StepContext(config, out, clock, lambda _line: None))


async def test_cloud_check_passes_on_the_edges_status(
    runtime: dict[str, Path], fake_api: FakeApi, nursery: trio.Nursery
) -> None:
    edge = await start_loopback(nursery)
    edge.serve("/v1/status", json_reply(200, EDGE_STATUS))
    fields = await cloud_check(edge.url, runtime, fake_api)
    assert isinstance(fields, dict)
    assert fields["http_status"] == 200 and fields["edge_state"] == "RUNNING"
    assert fields["status_url"] == edge.url + "/v1/status"
    assert edge.targets() == ["/v1/status"]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (json_reply(404, {"error": "not found"}), "HTTP 404, expected 2xx"),  # passed before
        (Reply(301, b"", location="https://example.com/"), "HTTP 301, expected 2xx"),
        (json_reply(503, {"error": "down"}), "HTTP 503"),
        (Reply(200, b"<html>Sign in</html>", "text/html"), "not the edge's status"),
        (json_reply(200, {"ok": True}), "not the edge's status"),
        (json_reply(200, [EDGE_STATUS]), "not the edge's status"),
        (json_reply(200, {**EDGE_STATUS, "buffer_minutes": "57"}), "not the edge's status"),
        (json_reply(200, {**EDGE_STATUS, "buffer_minutes": True}), "not the edge's status"),
        (json_reply(200, {**EDGE_STATUS, "state": ""}), "not the edge's status"),
        (Reply(200, b"\xff\xfe{", "application/json"), "not the edge's status"),
    ],
)
async def test_cloud_check_fails_on_anything_but_a_2xx_with_the_edges_status(
    runtime: dict[str, Path], fake_api: FakeApi, nursery: trio.Nursery, reply: Reply, says: str
) -> None:
    edge = await start_loopback(nursery)
    edge.serve("/v1/status", reply)
    with pytest.raises(StepFailed, match=says):
        await cloud_check(edge.url, runtime, fake_api)


async def test_cloud_check_fails_on_a_closed_port_and_without_a_base_url(
    runtime: dict[str, Path], fake_api: FakeApi
) -> None:
    with pytest.raises(StepFailed, match="ConnectError"):
        await cloud_check(f"http://127.0.0.1:{closed_port()}", runtime, fake_api)
    config = golive_config(runtime, fake_api, OK_CMD, cloud_check=True, cloud_base_url=None)
    with pytest.raises(StepFailed, match="needs VVTV_CLOUDFLARE_BASE_URL"):
        await step_cloud(StepContext(config, runtime["root"], clock, lambda _line: None))
