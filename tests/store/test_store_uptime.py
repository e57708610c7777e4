"""The air's heartbeat: stretches of continuous air, a gap wherever the air stopped."""

from __future__ import annotations

from datetime import timedelta

from tests.store.state_builders import T0
from vvtv.store import Store
from vvtv.store.uptime import GAP_S, HEARTBEAT_S


def s(seconds: float):
    return T0 + timedelta(seconds=seconds)


def beat_every(store: Store, run: str, start: float, end: float) -> None:
    t = start
    while t <= end:
        store.beat(run, s(t))
        t += HEARTBEAT_S


def test_beats_close_together_are_one_stretch_however_long(store: Store) -> None:
    beat_every(store, "host:1:a", 0, 7200)
    assert store.uptime_between(s(0), s(7200), now=s(9000)) == [(s(0), s(7200))]
    assert store.first_beat() == s(0)


def test_a_stop_a_crash_or_a_stall_leaves_a_gap(store: Store) -> None:
    beat_every(store, "host:1:a", 0, 600)  # the first daemon, killed after 600 s
    beat_every(store, "host:2:b", 900, 1200)  # the next one, started 300 s later
    store.beat("host:2:b", s(1200 + GAP_S + 1))  # its event loop stalled past the gap
    assert store.uptime_between(s(0), s(2000), now=s(5000)) == [
        (s(0), s(600)),
        (s(900), s(1200)),
        (s(1200 + GAP_S + 1), s(1200 + GAP_S + 1)),
    ]


def test_the_stretch_still_beating_reaches_now(store: Store) -> None:
    beat_every(store, "host:1:a", 0, 600)
    assert store.uptime_between(s(0), s(700), now=s(610)) == [(s(0), s(610))]
    # Long silent: it ended at its last beat.
    assert store.uptime_between(s(0), s(700), now=s(700)) == [(s(0), s(600))]


def test_only_the_stretches_of_the_window_are_read(store: Store) -> None:
    beat_every(store, "host:1:a", 0, 60)
    beat_every(store, "host:2:b", 3600, 3660)
    assert store.uptime_between(s(1000), s(4000), now=s(9000)) == [(s(3600), s(3660))]
    assert store.uptime_between(s(4000), s(5000), now=s(9000)) == []


def test_a_clock_that_went_back_starts_a_new_stretch_rather_than_shrinking_one(
    store: Store,
) -> None:
    store.beat("host:1:a", s(600))
    store.beat("host:1:a", s(500))
    assert store.uptime_between(s(0), s(700), now=s(9000)) == [(s(500), s(500)), (s(600), s(600))]


def test_retention_forgets_old_stretches_but_never_the_first_air(store: Store) -> None:
    for day in range(5):
        store.beat(f"host:{day}:x", s(day * 86400))
    assert store.prune_uptime(s(3 * 86400)) == 2  # days 1 and 2; day 0 is the first air
    assert store.first_beat() == s(0)
    assert len(store.uptime_between(s(0), s(10 * 86400), now=s(10 * 86400))) == 3


def test_a_fresh_store_has_never_been_on_air(store: Store) -> None:
    assert store.first_beat() is None
    assert store.uptime_between(s(0), s(100), now=s(100)) == []
