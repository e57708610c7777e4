"""``vvtv cloud ...`` against the real edge: what the operator reads, and every refusal.

The round trip through a running channel (the command applied, its result printed) is in
test_edge_channel.py; here the edge alone, so each case is quick: reads of what the channel
published, and the ways a command can go wrong (a wait that times out, a refused
credential, input the CLI refuses before sending anything).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import attrs
import httpx
import pytest

from tests.support.edge import EdgeWorker, running_edge
from tests.support.loopback import closed_port
from vvtv.cli.run import main


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeWorker]:
    with running_edge(tmp_path_factory.mktemp("edge")) as shared:
        publish(shared, "/v1/ingest/status",
                {"state": "RUNNING", "buffer_minutes": 61.5,
                 "now_playing": {"title": "Night owls", "start_at": "2026-03-01T11:58:00+00:00"},
                 "next": [{"title": "Dawn"}]})  # fmt: skip
        publish(shared, "/v1/ingest/daily",
                {"date": "2026-03-01", "summary": {"aired": 40, "top": ["a", "b"]},
                 "metrics": {"qa_pass_rate": 0.95}})  # fmt: skip
        publish(shared, "/v1/ingest/alerts",
                {"event": "alert", "code": "EDGE_LAGGING", "severity": "high",
                 "message": "behind", "id": "alert-1"})  # fmt: skip
        yield shared


def publish(edge: EdgeWorker, path: str, document: dict) -> None:
    body = json.dumps(document).encode()
    reply = httpx.post(edge.url + path, content=body, headers=edge.headers("POST", path, body))
    assert reply.is_success, reply.text


@attrs.frozen
class Done:
    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Done]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``vvtv cloud ARGS`` in this process (the operator's environment set from ``edge``)."""

    def run(edge: EdgeWorker | str | None, *args: str, **env: str) -> Done:
        for name in [k for k in os.environ if k.startswith("VVTV_")]:
            monkeypatch.delenv(name)
        if edge is not None:
            url = edge if isinstance(edge, str) else edge.url
            monkeypatch.setenv("VVTV_CLOUDFLARE_BASE_URL", url)
            if isinstance(edge, EdgeWorker):
                operator = edge.credential(role="control")
                monkeypatch.setenv("VVTV_CLOUDFLARE_CONTROL_TOKEN", operator.token)
                monkeypatch.setenv("VVTV_CLOUDFLARE_CONTROL_SECRET", operator.secret)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            code = main(["cloud", *args])
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


def fields(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_status_shows_what_the_channel_published_and_the_alerts_at_the_edge(
    edge: EdgeWorker, cli
) -> None:
    done = cli(edge, "status")
    assert done.returncode == 0, done.stderr
    got = fields(done.stdout)
    assert got["state"] == "RUNNING" and got["buffer_minutes"] == "61.5"
    assert got["now_playing"] == "Night owls (from 2026-03-01T11:58:00+00:00)"
    assert got["next"] == "Dawn" and got["alerts"] == "EDGE_LAGGING"
    as_json = json.loads(cli(edge, "status", "--json").stdout)
    assert as_json["status"]["state"] == "RUNNING"
    assert as_json["alerts"][0]["code"] == "EDGE_LAGGING"


def test_a_report_as_published_and_one_that_is_not(edge: EdgeWorker, cli: Cli) -> None:
    done = cli(edge, "report", "daily", "2026-03-01")
    assert done.returncode == 0, done.stderr
    got = fields(done.stdout)
    assert got["report"] == "daily" and got["date"] == "2026-03-01"
    assert got["summary.aired"] == "40" and got["summary.top"] == '["a", "b"]'
    assert got["metrics.qa_pass_rate"] == "0.95"
    document = json.loads(cli(edge, "report", "daily", "2026-03-01", "--json").stdout)
    assert document["summary"]["aired"] == 40
    absent = cli(edge, "report", "weekly", "2026-W09")
    assert absent.returncode == 1
    assert "no weekly report for 2026-W09" in absent.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "daily", "2026-02-30"), "invalid date format, use YYYY-MM-DD"),
        (("report", "weekly", "2026-W54"), "invalid iso week"),
        (("command", "emergency-mode", "{enabled: true}"), "the command body is not JSON"),
        (("command", "emergency-mode", "NaN"), "the command body is not JSON"),
        (("command-status", "cmd_../../x"), "is not a command id"),
    ],
)
def test_input_the_cli_refuses_never_reaches_the_edge(
    edge: EdgeWorker, cli: Cli, args: tuple[str, ...], message: str
) -> None:
    done = cli(edge, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr


def test_an_unknown_command_or_no_edge_configured_is_a_usage_error(
    edge: EdgeWorker, cli: Cli
) -> None:
    unknown = cli(edge, "command", "shutdown")
    assert unknown.returncode == 2 and "invalid choice: 'shutdown'" in unknown.stderr
    nowhere = cli(None, "status")
    assert nowhere.returncode == 2 and "VVTV_CLOUDFLARE_BASE_URL is not set" in nowhere.stderr


def test_a_credential_the_edge_refuses_says_which_one(edge: EdgeWorker, cli: Cli) -> None:
    done = cli(edge, "command", "nightly", VVTV_CLOUDFLARE_CONTROL_SECRET="x" * 64)
    assert done.returncode == 2
    assert "signature mismatch" in done.stderr and "VVTV_CLOUDFLARE_CONTROL_TOKEN" in done.stderr


def test_a_command_nobody_applies_in_time_is_reported_with_its_id(
    edge: EdgeWorker, cli: Cli
) -> None:
    """No channel polls this edge: the wait ends, the command is still pending there."""
    done = cli(edge, "command", "curator-mode", '{"mode": "advise"}', "--timeout", "1")
    assert done.returncode == 1, done.stderr
    got = fields(done.stdout)
    assert got["command_state"] == "pending" and got["command_id"].startswith("cmd_")
    assert f"vvtv cloud command-status {got['command_id']}" in done.stderr
    again = cli(edge, "command-status", got["command_id"], "--json")
    assert json.loads(again.stdout)["command_state"] == "pending"
    assert again.returncode == 1


def test_the_edge_is_down(cli: Cli) -> None:
    done = cli(f"http://127.0.0.1:{closed_port()}", "status")
    assert done.returncode == 1
    assert "the edge did not answer" in done.stderr


def test_the_installed_command_answers_key_value_lines(edge: EdgeWorker) -> None:
    """The real entry point, once: a new process, the environment as the operator sets it."""
    operator = edge.credential(role="control")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VVTV_")}
    env |= {
        "VVTV_CLOUDFLARE_BASE_URL": edge.url,
        "VVTV_CLOUDFLARE_CONTROL_TOKEN": operator.token,
        "VVTV_CLOUDFLARE_CONTROL_SECRET": operator.secret,
    }
    done = subprocess.run(
        [sys.executable, "-m", "vvtv", "cloud", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert fields(done.stdout)["state"] == "RUNNING"
