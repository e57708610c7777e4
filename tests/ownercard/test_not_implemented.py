"""A setting vvtv does not implement is never silent (issue 17): with
``safety_policy.reject_suspicious_watermark: true`` the card still loads, and every reader
says by the field's name that nothing acts on it: ``vvtv owner-card validate``, the
daemon's log at start and at every reload (the dashboard: ``tests/daemon``)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.cards import card_yaml, write_card
from vvtv.core.clock import utc
from vvtv.ownercard.holder import OwnerCardHolder
from vvtv.ownercard.load import OwnerCardError, parse_owner_card, validate_file
from vvtv.ownercard.rules import NOT_IMPLEMENTED, not_implemented
from vvtv.store import Store

FIELD = "safety_policy.reject_suspicious_watermark"
T0 = utc(2026, 3, 1, 12)
WATERMARKS = {"safety_policy": {"reject_suspicious_watermark": True}}
NO_WATERMARKS = {"safety_policy": {"reject_suspicious_watermark": False}}


def named(messages: list[str]) -> list[str]:
    return [m for m in messages if m.startswith(FIELD + ":")]


def test_asking_for_watermark_rejection_loads_with_a_warning_naming_the_field() -> None:
    loaded = parse_owner_card(card_yaml(**WATERMARKS))
    (warning,) = named(loaded.warnings)
    assert "not implemented" in warning and "watermark" in warning
    assert loaded.card.safety_policy.reject_suspicious_watermark is True
    # Off (the default) matches what vvtv does: nothing to warn about.
    assert named(parse_owner_card(card_yaml(**NO_WATERMARKS)).warnings) == []
    assert FIELD in NOT_IMPLEMENTED and not_implemented(loaded.card) == [warning]


def test_owner_card_validate_warns_by_name_and_still_says_valid(tmp_path: Path) -> None:
    path = write_card(tmp_path / "card.yaml", **WATERMARKS)
    out, err = io.StringIO(), io.StringIO()
    assert validate_file(path, out, err) == 0
    assert f"warning: {FIELD}: true is not implemented" in err.getvalue()
    assert out.getvalue().splitlines()[0] == "owner_card_valid=true"
    out = io.StringIO()
    validate_file(path, out, io.StringIO(), as_json=True)
    assert named(json.loads(out.getvalue())["warnings"])


def test_the_command_line_prints_the_warning(tmp_path: Path) -> None:
    """The real ``vvtv owner-card validate`` an owner runs."""
    path = write_card(tmp_path / "card.yaml", **WATERMARKS)
    done = subprocess.run(
        [sys.executable, "-m", "vvtv", "owner-card", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"warning: {FIELD}: true is not implemented" in done.stderr
    assert "owner_card_valid=true" in done.stdout


def test_the_daemon_logs_it_at_start_and_at_every_reload(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_card(tmp_path / "card.yaml", **WATERMARKS)
    caplog.set_level(logging.WARNING, logger="vvtv.ownercard")
    holder, _ = OwnerCardHolder.boot(path, store, T0)
    assert [r.getMessage() for r in caplog.records if FIELD in r.getMessage()]
    caplog.clear()

    write_card(path, **NO_WATERMARKS)
    assert holder.reload(path, now=T0 + timedelta(minutes=1)).ok
    assert not [r for r in caplog.records if FIELD in r.getMessage()]

    write_card(path, **WATERMARKS)
    result = holder.reload(path, now=T0 + timedelta(minutes=2))
    assert result.ok and named(result.warnings)
    (record,) = [r for r in caplog.records if FIELD in r.getMessage()]
    assert record.levelno == logging.WARNING and str(path) in record.getMessage()


def test_empty_music_tags_are_refused_by_position() -> None:
    with pytest.raises(OwnerCardError) as info:
        parse_owner_card(card_yaml(music_policy={"music_tags": ["music", " "]}))
    assert info.value.errors == ["music_policy.music_tags[1] must not be empty"]
