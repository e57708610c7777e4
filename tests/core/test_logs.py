"""The log format (vvtv/core/logs.py): JSON lines under systemd, text on a terminal, stable
event names and the item's trace id on every line about an item."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from vvtv.core import logs
from vvtv.core.logs import LogEvent, log_event
from vvtv.core.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("env", "as_json"),
    [
        ({}, False),  # a terminal, a test, cron: text
        ({"JOURNAL_STREAM": "8:12345"}, True),  # systemd's journal
        ({"INVOCATION_ID": "0123abcd"}, True),  # any systemd unit
        ({"INVOCATION_ID": "0123abcd", "VVTV_LOG_FORMAT": "text"}, False),
        ({"VVTV_LOG_FORMAT": "JSON"}, True),
        ({"VVTV_LOG_FORMAT": ""}, False),  # empty: the default
    ],
)
def test_json_under_systemd_text_elsewhere_and_the_variable_overrides(
    env: dict[str, str], as_json: bool
) -> None:
    assert Settings.from_env(env).log_json is as_json


def test_an_unknown_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="VVTV_LOG_FORMAT='yaml': must be json or text"):
        Settings.from_env({"VVTV_LOG_FORMAT": "yaml"})


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    logs.configure("INFO", as_json=True)
    root.handlers[0].setStream(out)  # type: ignore[attr-defined]
    try:
        yield out, logging.getLogger("vvtv.test")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_a_json_line_carries_the_event_the_trace_id_and_the_fields(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    log_event(log, LogEvent.FETCH_FAILED, "HTTP 404\nsecond line", trace_id="trace-1",
              level=logging.WARNING, plan_id="plan-1", size_bytes=3)  # fmt: skip
    log.info("plain %s", "message")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it broke")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # a message's newlines and a traceback stay inside their line
    first, plain, broken = map(json.loads, lines)
    assert first["event"] == "fetch_failed" and first["trace_id"] == "trace-1"
    assert (first["level"], first["logger"], first["msg"]) == (
        "WARNING",
        "vvtv.test",
        "HTTP 404\nsecond line",
    )
    assert (first["plan_id"], first["size_bytes"]) == ("plan-1", 3)
    assert "event" not in plain and plain["msg"] == "plain message"
    assert "Traceback" in broken["exc"] and "ValueError: boom" in broken["exc"]


def test_a_text_line_names_the_event_then_the_message_and_the_plain_fields() -> None:
    record = logging.LogRecord("vvtv.test", logging.INFO, __file__, 1, "%s", ("why",), None)
    record.vvtv_event = "prepare_failed"
    record.vvtv_trace_id = "trace-9"
    record.vvtv_fields = {"plan_id": "plan-9", "details": {"nested": 1}, "empty": ""}
    text = logs.TextFormatter().format(record)
    assert text.endswith(" INFO vvtv.test: prepare_failed: why trace_id=trace-9 plan_id=plan-9")


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("VVTV_SOAK_OUT_DIR", "vvtv soak --out DIR"),
        ("VVTV_CANARY_OUT_DIR", "VVTV_RUNTIME_DIR"),
        ("VVTV_PHASE2_OUT_DIR", "go-live/phaseN"),
        ("VVTV_PHASE1_SKIP_TESTS", "vvtv go-live PHASE --help"),
        ("VVTV_PHASE3_CLOUD_CHECK", "vvtv go-live phase1|phase2|phase3"),
        ("VVTV_PROMOTE_RESULT_ENV", "result.env as its argument"),
        ("VVTV_SOAK_BASE_URL", "VVTV_SOAK_HOURS"),
        ("VVTV_CANARY_BACKUP_DIR", "VVTV_CANARY_AUTO_ROLLBACK"),
    ],
)
def test_an_original_release_variable_vvtv_does_not_read_is_refused_naming_its_replacement(
    name: str, replacement: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: "x"})
    assert f"{name} is not read by vvtv" in str(refused.value)
    assert replacement in str(refused.value)


def test_the_original_release_variables_vvtv_reads_are_honoured() -> None:
    s = Settings.from_env(
        {
            "VVTV_SOAK_HOURS": "0",
            "VVTV_SOAK_INTERVAL_SECS": "10",
            "VVTV_SOAK_MAX_SAMPLES": "3",
            "VVTV_CANARY_SOAK_HOURS": "1",
            "VVTV_CANARY_SOAK_INTERVAL_SECS": "10",
            "VVTV_CANARY_SOAK_MAX_SAMPLES": "3",
            "VVTV_CANARY_AUTO_PROMOTE": "1",
        }
    )
    assert (s.soak_hours, s.soak_interval_secs, s.soak_max_samples) == (0, 10, 3)
    assert (s.canary_soak_hours, s.canary_soak_max_samples, s.canary_auto_promote) == (1, 3, True)
