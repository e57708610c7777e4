"""`vvtv run --once --force-nightly` with a cloud configured delivers what it produced before
exiting: the status snapshot, the daily and the weekly report reach the ingest API (a real
loopback receiver), or the run says how many did not and exits 1 (SPEC §4, §6)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.daemon import boot, run
from tests.daemon.harness import CARD, make_settings
from tests.support.loopback import Loopback, Reply, json_reply
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.settings import Settings
from vvtv.store import open_store

TUESDAY = utc(2026, 3, 3, 12)  # not the Monday of a weekly report: a forced run makes one
INGEST = ["/v1/ingest/daily", "/v1/ingest/status", "/v1/ingest/weekly"]  # sorted


def once_settings(root: Path, slate: Path, receiver: Loopback, **env: str) -> Settings:
    card = {**CARD, "schedule_policy": {"timezone": "UTC"}}
    return make_settings(
        root,
        slate,
        card,
        VVTV_CLOUDFLARE_BASE_URL=receiver.url,
        VVTV_CLOUDFLARE_TOKEN="cloud-token",
        VVTV_CLOUDFLARE_SECRET="cloud-secret",
        # The receiver stands in for the ingest API only: no live upload, no command poll.
        VVTV_EDGE_HLS="0",
        VVTV_EDGE_AGENT="0",
        **env,
    )


async def run_once(settings: Settings) -> tuple[int, float]:
    """One ``--once --force-nightly`` cycle on Trio's clock; its exit code and duration."""
    started = trio.current_time()
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(TUESDAY), run_once=True, force_nightly=True)
        code = await run(ch, signals=False)
    return code, trio.current_time() - started


def delivered(receiver: Loopback) -> list[str]:
    """The ingest paths the receiver took in; each report once (status snapshots are sent
    whenever what is on air changes, so there may be several)."""
    paths = [r.path for r in receiver.accepted]
    assert paths.count("/v1/ingest/daily") <= 1 and paths.count("/v1/ingest/weekly") <= 1
    return sorted(set(paths))


def pending(settings: Settings) -> int:
    with open_store(settings.state_db) as store:
        return store.pending_count("cloud")


async def test_once_delivers_the_status_and_both_reports_before_exiting(
    tmp_path: Path, slate_template: Path, receiver: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    settings = once_settings(tmp_path, slate_template, receiver)
    code, _ = await run_once(settings)
    assert code == 0
    assert delivered(receiver) == INGEST
    weekly = next(r for r in receiver.accepted if r.path == "/v1/ingest/weekly").json()
    assert weekly["week"] == "2026-W09"  # the last complete ISO week before Tuesday 3 March
    daily = next(r for r in receiver.accepted if r.path == "/v1/ingest/daily").json()
    assert daily["date"] == "2026-03-02"
    assert pending(settings) == 0


async def test_a_cloud_that_recovers_within_the_wait_still_gets_everything(
    tmp_path: Path, slate_template: Path, receiver: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    # Down for the first eight attempts (the status snapshot's retries and a second round).
    receiver.then(*[Reply(503)] * 8)
    settings = once_settings(tmp_path, slate_template, receiver)
    code, _ = await run_once(settings)
    assert code == 0
    assert delivered(receiver) == INGEST
    assert pending(settings) == 0


async def test_a_cloud_that_stays_down_is_counted_and_the_exit_code_is_1(
    tmp_path: Path,
    slate_template: Path,
    receiver: Loopback,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.answer_always(json_reply(500))
    settings = once_settings(tmp_path, slate_template, receiver, VVTV_ONCE_DRAIN_SECS="45")
    with caplog.at_level(logging.ERROR, logger="actors.scheduler"):
        code, took = await run_once(settings)
    assert code == 1
    assert receiver.requests and receiver.accepted == []
    assert "3 document(s) still undelivered after 45 s (cloudsync: 3)" in caplog.text
    assert took < 45 + 30  # bounded: the wait, not the retry schedule, decides
    assert pending(settings) == 3  # kept for the next run, nothing lost


async def test_without_a_cloud_once_has_nothing_to_wait_for(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = make_settings(
        tmp_path, slate_template, {**CARD, "schedule_policy": {"timezone": "UTC"}}
    )
    code, took = await run_once(settings)
    assert code == 0
    assert took < 5


def test_the_wait_is_a_setting_with_bounds() -> None:
    from vvtv.core.settings import SettingsError

    assert Settings.from_env({}).once_drain_secs == 60.0
    assert Settings.from_env({"VVTV_ONCE_DRAIN_SECS": "5"}).once_drain_secs == 5.0
    for bad in ("-1", "abc", "7200", "nan"):
        with pytest.raises(SettingsError, match="VVTV_ONCE_DRAIN_SECS"):
            Settings.from_env({"VVTV_ONCE_DRAIN_SECS": bad})
