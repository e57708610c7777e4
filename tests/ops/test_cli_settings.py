"""The commands take their configuration from ``Settings`` and the OwnerCard from its real
loader: a malformed variable or card is a usage error that names it, never a silent default."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cards import card_yaml, write_card
from vvtv.cli import ops, run

from .conftest import FakeApi


def soak(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    code = ops.main(["soak"])
    out = capsys.readouterr()
    return code, dict(line.split("=", 1) for line in out.out.splitlines() if "=" in line), out.err


@pytest.fixture
def short_soak(ops_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("VVTV_SOAK_HOURS", "0")
    monkeypatch.setenv("VVTV_SOAK_MAX_SAMPLES", "2")
    monkeypatch.setenv("VVTV_SOAK_INTERVAL_SECS", "0.01")
    return ops_env


def test_the_soak_judges_the_buffer_by_the_cards_critical_minutes(
    short_soak: dict[str, Path], fake_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.buffers = [30.0, 30.0]
    code, fields, _ = soak(capsys)
    assert code == 0 and fields["verdict"] == "PASS"  # critical 20: 30 min is fine
    write_card(short_soak["owner_card"], schedule_policy={"buffer_critical_minutes": 40})
    fake_api.buffers = [30.0, 30.0]
    code, fields, _ = soak(capsys)
    assert code == 1 and fields["verdict"] == "FAIL"  # critical 40: 30 min is not


@pytest.mark.parametrize(
    ("card", "needle"),
    [
        (card_yaml(schedule_policy={"buffer_critical_minutes": "lots"}), "lots"),
        ("schedule_policy: [", "YAML"),
        (None, "file not found"),
    ],
)
def test_a_card_the_daemon_would_refuse_is_a_usage_error_naming_it(
    short_soak: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    card: str | None,
    needle: str,
) -> None:
    path = short_soak["owner_card"]
    if card is None:
        path.unlink()
    else:
        path.write_text(card)
    code, _, err = soak(capsys)
    assert code == 2
    assert "invalid OwnerCard" in err and needle in err
    assert f"vvtv owner-card validate {path}" in err


@pytest.mark.parametrize(
    ("name", "value"),
    [("VVTV_SOAK_MAX_RSS_GROWTH_MB", "lots"), ("VVTV_SOAK_MAX_RESTARTS", "-3")],
)
def test_the_soak_growth_bounds_are_settings(
    short_soak: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch, name, value
) -> None:
    monkeypatch.setenv(name, value)
    code, _, err = soak(capsys)
    assert code == 2 and f"{name}={value!r}" in err


def test_vvtv_run_refuses_a_malformed_log_level_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VVTV_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("VVTV_LOG_LEVEL", "chatty")
    assert run.main(["run", "--once"]) == 2
    err = capsys.readouterr().err
    assert "cannot start" in err and "VVTV_LOG_LEVEL='chatty'" in err
    assert not (tmp_path / "runtime").exists()  # refused before touching anything
