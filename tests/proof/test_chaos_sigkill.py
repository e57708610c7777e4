"""SIGKILL a real ``vvtv run`` mid-step, restart it over the same runtime, check nothing broke.

Each test waits until the step is observably in progress (a prepare's hidden ``.tmp-*``
directory has output in it, a commit window has committed one item but not finished),
kills the daemon with SIGKILL (no cleanup runs), restarts it and checks SPEC's promises:
no queue entry duplicated or lost, the live playlist's media sequence continues, no
partial asset left behind.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

from actors.daemon import LOCK_TTL_S

try:
    from .chaos_fixtures import clips, slate
    from .daemon_process import Channel, wait_for
except ImportError:  # tests/proof is not a package: pytest put this folder on sys.path
    from chaos_fixtures import clips, slate
    from daemon_process import Channel, wait_for

__all__ = ["clips", "slate"]  # session fixtures, re-exported so pytest finds them here

N_CLIPS = 3


def assert_queue_consistent(channel: Channel) -> None:
    """Each committed plan has exactly one live queue entry, and entries never overlap."""
    entries = [e for e in channel.main_entries() if e[5] != "SKIPPED"]
    per_plan = Counter(e[1] for e in entries)
    assert all(n == 1 for n in per_plan.values()), f"duplicate queue entries: {per_plan}"
    committed = {
        row[0]
        for row in channel.query("SELECT plan_id FROM plans WHERE state IN ('COMMITTED', 'AIRED')")
    }
    assert committed == set(per_plan), (
        f"committed plans without an entry: {committed - set(per_plan)}; "
        f"entries without a committed plan: {set(per_plan) - committed}"
    )
    for before, after in itertools.pairwise(entries):
        assert before[4] <= after[3], f"overlapping entries {before} and {after}"


def wait_all_committed(channel: Channel) -> None:
    """Every clip either queued or dropped with a reason (the folder holds N_CLIPS)."""

    def settled() -> bool:
        queued = {e[1] for e in channel.main_entries()}
        dropped = channel.query("SELECT plan_id FROM plans WHERE state = 'DROPPED'")
        return len(queued) + len(dropped) >= N_CLIPS

    wait_for("every clip to be committed", settled, timeout=60)


def restart_after_kill(channel: Channel) -> None:
    """Restart at once, as systemd would; the dead holder's lock must not keep it waiting."""
    started = time.monotonic()
    channel.start()
    assert time.monotonic() - started < LOCK_TTL_S / 2, "the restart waited out the lock TTL"
    assert "is no longer running; taking over" in channel.log()


def live_sequence(channel: Channel) -> int:
    """The live playlist's media sequence (it may be 0, hence the tuple for ``wait_for``)."""
    found = wait_for("a live playlist", lambda: _some(channel.media_sequence()), timeout=20)
    return found[0]


def _some(value: int | None) -> tuple[int] | None:
    return None if value is None else (value,)


def test_sigkill_during_prepare_leaves_no_partial_asset_and_loses_nothing(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    channel = Channel(tmp_path, clips, slate)
    channel.start()
    try:
        before = live_sequence(channel)
        busy = wait_for(
            "a prepare with output in its temp dir",
            lambda: [d for d in channel.temp_dirs() if any(d.iterdir())],
            timeout=30,
            every=0.02,
        )
        seq_at_kill = channel.hls_cursor().get("media_sequence", before)
        channel.kill()
        assert all(d.exists() for d in busy), "the prepare finished before the kill"

        restart_after_kill(channel)
        assert not any(d.exists() for d in busy), "a crashed prepare's temp dir survived"
        assert live_sequence(channel) >= max(before, seq_at_kill)
        wait_all_committed(channel)
        assert_queue_consistent(channel)
        published = {p.name for p in (channel.runtime / "hls").iterdir()}
        assets = {row[0] for row in channel.query("SELECT asset_id FROM assets")}
        assert published <= assets, f"asset dirs with no asset record: {published - assets}"
    finally:
        channel.stop()


def test_sigkill_in_the_middle_of_a_commit_window_neither_repeats_nor_loses_items(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    channel = Channel(tmp_path, clips, slate)
    channel.start()
    try:
        wait_for(
            "one item of the commit window through QA",
            lambda: channel.audit("qa_result", "committer"),
            timeout=30,
            every=0.02,
        )
        done = channel.audit("commit_window", "committer")
        before = live_sequence(channel)
        channel.kill()
        assert not done, "the commit window finished before the kill"
        first_run = {e[1] for e in channel.main_entries()}

        restart_after_kill(channel)
        assert live_sequence(channel) >= before
        wait_all_committed(channel)
        assert_queue_consistent(channel)
        assert first_run <= {e[1] for e in channel.main_entries()}, "a queued item was lost"
    finally:
        channel.stop()
