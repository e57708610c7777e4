"""Logs an operator can grep (issue 17): the runbook's examples, run on a real daemon's log.

The shared daemon (``api_daemon``) is started as systemd starts it (``INVOCATION_ID`` set, no
``VVTV_LOG_FORMAT``), so it logs JSON lines; it airs a folder of clips, which it fetches,
prepares and QA-checks, and an emergency is forced and released through the signed control
call. Each grep example of ops/runbook.md's "Logs" section then runs, with a real ``grep``,
over its log in place of ``journalctl -u vvtv``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.proof.conftest import SECRET, TOKEN
from tests.proof.daemon_process import REPO, Channel
from tests.support.waiting import wait_for
from vvtv.core.audit import AuditType
from vvtv.core.logs import LogEvent
from vvtv.core.signing import new_nonce, signed_headers

RUNBOOK = REPO / "ops" / "runbook.md"
ITEM_EVENTS = {LogEvent.FETCH_DONE, LogEvent.PREPARE_DONE, AuditType.QA_RESULT}


def _events(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if "event" in line]


def _examples() -> list[str]:
    """The ``journalctl -u vvtv | grep ...`` lines of the runbook's "Logs" section."""
    section = RUNBOOK.read_text().split("\n## Logs\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [
        line.split("  #", 1)[0].strip()
        for line in block.splitlines()
        if line.startswith("journalctl -u vvtv | grep")
    ]


def _traced_through(events: list[dict[str, Any]]) -> str | None:
    """The trace id of an item with every step of ITEM_EVENTS in the log, if there is one
    (items are made ready concurrently: the first fetched need not be the first checked)."""
    steps: dict[str, set[str]] = {}
    for e in events:
        if e.get("trace_id"):
            steps.setdefault(e["trace_id"], set()).add(e["event"])
    return next((t for t, seen in steps.items() if seen >= ITEM_EVENTS), None)


def _control(daemon: Channel, body: bytes) -> httpx.Response:
    path = "/v1/control/emergency-mode"
    headers = signed_headers(TOKEN, SECRET, "POST", path, body, time.time(), nonce=new_nonce())
    return httpx.post(f"{daemon.base_url}{path}", content=body, headers=headers, timeout=20)


def test_the_runbooks_grep_examples_find_the_pipeline_in_a_real_daemons_log(
    api_daemon: Channel, tmp_path: Path
) -> None:
    wait_for(
        "an item fetched, prepared and QA-checked",
        lambda: _traced_through(_events(api_daemon.log())) is not None,
        timeout=240,
        every=0.5,
        show=lambda: api_daemon.log()[-3000:],
    )
    # Three short clips keep the buffer below critical: the buffer rule has it in emergency.
    # Forced off (emergency_exited), then released (the rule enters it again).
    assert _control(api_daemon, b'{"enabled": false}').status_code == 200
    assert _control(api_daemon, b'{"enabled": null}').status_code == 200
    wait_for(
        "emergency_exited in the log",
        lambda: AuditType.EMERGENCY_EXITED in api_daemon.log(),
        timeout=60,
        every=0.2,
    )
    log = api_daemon.log()
    journal = tmp_path / "journal.log"
    journal.write_text(log)

    # Under systemd: every line is one JSON object (tracebacks included).
    assert all(line.startswith("{") for line in log.splitlines() if line.strip()), log[:2000]
    events = _events(log)
    trace_id = _traced_through(events)
    assert trace_id, "no item with every step in the log"
    item = next(
        e for e in events if e["event"] == LogEvent.FETCH_DONE and e.get("trace_id") == trace_id
    )
    for name in ITEM_EVENTS:  # one item's steps carry its trace id
        assert any(e["event"] == name and e.get("trace_id") for e in events), name

    found: dict[str, str] = {}
    for example in _examples():
        example = example.replace("TRACE_ID", item["trace_id"])
        command = example.replace("journalctl -u vvtv", f"cat {journal}", 1)
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        found[example] = done.stdout
    assert len(found) >= 6, found.keys()
    fetch_prepare = found["journalctl -u vvtv | grep -i -e fetch -e prepare"]
    assert '"event":"fetch_done"' in fetch_prepare and '"event":"prepare_done"' in fetch_prepare
    emergency = found["journalctl -u vvtv | grep -e emergency_entered -e emergency_exited"]
    assert '"event":"emergency_entered"' in emergency and '"event":"emergency_exited"' in emergency
    one_item = found[f"journalctl -u vvtv | grep {item['trace_id']}"]
    steps = {json.loads(line)["event"] for line in one_item.splitlines() if line.startswith("{")}
    assert {LogEvent.FETCH_DONE, LogEvent.PREPARE_DONE, AuditType.QA_RESULT} <= steps, steps
    # Nothing failed in this run: the failure-only example finds nothing (and says so).
    assert found["journalctl -u vvtv | grep -e fetch_failed -e prepare_failed"] == ""
