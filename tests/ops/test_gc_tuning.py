"""`vvtv run` raises the young and middle GC thresholds (see vvtv.cli.run.GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from vvtv.cli import run


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_tune_gc_raises_the_young_and_middle_thresholds(
    thresholds: tuple[int, int, int],
) -> None:
    run.tune_gc()
    assert gc.get_threshold() == (run.GC_YOUNG_THRESHOLD, run.GC_MIDDLE_THRESHOLD, thresholds[2])
    assert gc.isenabled()  # tuned, not switched off: cyclic garbage is still collected


def test_the_daemon_command_tunes_gc_before_it_starts(
    thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    def fake_run(_: object) -> int:  # stands for trio.run(run_channel(...))
        seen.append(gc.get_threshold())
        return 0

    monkeypatch.setattr("trio.run", fake_run)
    monkeypatch.setattr(run.Settings, "from_env", classmethod(lambda cls, env=None: cls()))
    assert run.main(["run"]) == 0
    assert seen[0][:2] == (run.GC_YOUNG_THRESHOLD, run.GC_MIDDLE_THRESHOLD)
