"""The Scheduler's window arithmetic: hourly discovery, the commit cadence, nightly at 03:00
local once per local date, across local midnight and DST changes, with persisted cursors."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
import trio

from vvtv.core.clock import TrioClock, utc
from vvtv.ownercard.card import OwnerCard, SchedulePolicy
from vvtv.plan.windows import (
    Cursors,
    Window,
    WindowKind,
    advance,
    due_windows,
    local_instant,
    next_commit,
    next_discovery,
    next_nightly,
    next_wakeup,
    parse_local_time,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
HELSINKI = ZoneInfo("Europe/Helsinki")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def card(interval: int = 30, nightly: str = "03:00") -> OwnerCard:
    return OwnerCard(
        schedule_policy=SchedulePolicy(commit_interval_minutes=interval, nightly_local_time=nightly)
    )


# --- discovery and commit -------------------------------------------------------------


def test_discovery_runs_at_start_up_for_the_current_hour():
    assert next_discovery(None, utc(2026, 3, 1, 10, 17)) == utc(2026, 3, 1, 10)


def test_discovery_is_due_at_the_top_of_the_next_hour():
    assert next_discovery(utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 59)) == utc(2026, 3, 1, 11)
    assert next_discovery(utc(2026, 3, 1, 10), utc(2026, 3, 1, 11)) == utc(2026, 3, 1, 11)


def test_missed_discovery_windows_collapse_into_one_for_the_latest_hour():
    assert next_discovery(utc(2026, 3, 1, 10), utc(2026, 3, 1, 15, 20)) == utc(2026, 3, 1, 15)


def test_commit_slots_are_multiples_of_the_interval():
    now = utc(2026, 3, 1, 10, 44)
    assert next_commit(None, now, 30) == utc(2026, 3, 1, 10, 30)
    assert next_commit(utc(2026, 3, 1, 10, 30), now, 30) == utc(2026, 3, 1, 11)
    assert next_commit(utc(2026, 3, 1, 10, 30), now, 15) == utc(2026, 3, 1, 10, 45)
    assert next_commit(utc(2026, 3, 1, 8), now, 30) == utc(2026, 3, 1, 10, 30)


def test_a_cursor_in_the_future_is_not_due_again():
    # The clock stepped back (NTP): the last slot is ahead of now, nothing runs twice.
    assert next_discovery(utc(2026, 3, 1, 11), utc(2026, 3, 1, 10, 30)) == utc(2026, 3, 1, 12)


# --- nightly --------------------------------------------------------------------------


def test_nightly_on_a_fresh_install_waits_for_the_next_0300_local():
    now = utc(2026, 6, 1, 12)  # 14:00 in Berlin
    assert next_nightly(None, now, BERLIN) == datetime(2026, 6, 2, 3, tzinfo=BERLIN)
    early = utc(2026, 6, 1, 0, 30)  # 02:30 in Berlin
    assert next_nightly(None, early, BERLIN) == datetime(2026, 6, 1, 3, tzinfo=BERLIN)


def test_nightly_runs_the_day_after_the_last_local_date():
    now = utc(2026, 6, 1, 12)
    assert next_nightly(date(2026, 6, 1), now, BERLIN) == datetime(2026, 6, 2, 3, tzinfo=BERLIN)


def test_missed_nightly_runs_collapse_into_one_catch_up_for_the_latest_date():
    now = utc(2026, 6, 5, 12)  # 14:00 Berlin, 03:00 already passed today
    slot = next_nightly(date(2026, 6, 1), now, BERLIN)
    assert slot == datetime(2026, 6, 5, 3, tzinfo=BERLIN)
    assert slot <= now


def test_nonexistent_0300_on_spring_forward_fires_at_the_jump():
    # Helsinki jumps from 03:00 EET to 04:00 EEST on 2026-03-29 (01:00 UTC).
    assert local_instant(date(2026, 3, 29), time(3, 0), HELSINKI) == utc(2026, 3, 29, 1)
    # Lisbon jumps from 01:00 to 02:00 (01:00 UTC): 01:30 local fires at the jump.
    assert local_instant(date(2026, 3, 29), time(1, 30), LISBON) == utc(2026, 3, 29, 1)
    # New York skips 02:00-03:00 on 2026-03-08 (07:00 UTC).
    assert local_instant(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7)


def test_ambiguous_0300_on_fall_back_fires_at_the_first_occurrence():
    # Helsinki repeats 03:00-04:00 on 2026-10-25: 03:00 EEST is 00:00 UTC.
    assert local_instant(date(2026, 10, 25), time(3, 0), HELSINKI) == utc(2026, 10, 25, 0)
    # Berlin repeats 02:00-03:00: 02:30 CEST is 00:30 UTC.
    assert local_instant(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_sao_paulo_without_dst_keeps_0300_at_0600_utc():
    assert local_instant(date(2026, 11, 1), time(3, 0), SAO_PAULO) == utc(2026, 11, 1, 6)


# --- malformed input ------------------------------------------------------------------


def test_naive_datetimes_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        next_discovery(None, datetime(2026, 3, 1, 10))
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_commit(datetime(2026, 3, 1, 10), utc(2026, 3, 1, 11), 30)


def test_a_non_positive_commit_interval_is_refused():
    with pytest.raises(ValueError, match="commit interval must be positive"):
        next_commit(None, utc(2026, 3, 1), 0)


@pytest.mark.parametrize("text", ["3am", "25:00", "03", "", "03:00:00"])
def test_a_malformed_nightly_time_is_refused(text: str):
    with pytest.raises(ValueError, match="nightly local time must be HH:MM"):
        parse_local_time(text)


def test_a_nightly_window_without_its_date_cannot_advance_the_cursor():
    with pytest.raises(ValueError, match="local_date"):
        advance(Cursors(), Window(WindowKind.NIGHTLY, utc(2026, 3, 1)))


# --- 48 simulated hours ---------------------------------------------------------------


def simulate(
    start: datetime,
    hours: int,
    tz: ZoneInfo,
    owner: OwnerCard,
    cursors: Cursors,
    restarts: frozenset[int] = frozenset(),
) -> tuple[list[Window], Cursors]:
    """Tick every minute; run what is due; persist cursors after each run. A restart
    keeps only the persisted cursors (which is all a real restart keeps)."""
    ran: list[Window] = []
    for minute in range(hours * 60):
        now = start + timedelta(minutes=minute)
        if minute in restarts:
            cursors = Cursors(**attrs.asdict(cursors, recurse=False))
        for window in due_windows(cursors, now, owner, tz):
            ran.append(window)
            cursors = advance(cursors, window)
    return ran, cursors


def runs_of(ran: list[Window], kind: WindowKind) -> list[datetime]:
    return [w.slot for w in ran if w.kind is kind]


@pytest.mark.parametrize(
    ("tz", "start", "expected_nightlies"),
    [
        # New York springs forward at 02:00 on 2026-03-08: 03:00 EST then 03:00 EDT.
        (NEW_YORK, utc(2026, 3, 7, 5), [utc(2026, 3, 7, 8), utc(2026, 3, 8, 7)]),
        # Berlin springs forward at 02:00 on 2026-03-29; 03:00 exists (01:00 UTC).
        (BERLIN, utc(2026, 3, 28, 0), [utc(2026, 3, 28, 2), utc(2026, 3, 29, 1)]),
        # Berlin falls back at 03:00 on 2026-10-25: 03:00 CET is 02:00 UTC.
        (BERLIN, utc(2026, 10, 24, 0), [utc(2026, 10, 24, 1), utc(2026, 10, 25, 2)]),
        # Helsinki: 03:00 does not exist on 2026-03-29, fires at the jump (01:00 UTC).
        (HELSINKI, utc(2026, 3, 28, 0), [utc(2026, 3, 28, 1), utc(2026, 3, 29, 1)]),
        # Helsinki: 03:00 happens twice on 2026-10-25; only the first (00:00 UTC) runs.
        (HELSINKI, utc(2026, 10, 24, 0), [utc(2026, 10, 24, 0), utc(2026, 10, 25, 0)]),
    ],
)
def test_48_hours_run_each_window_exactly_when_due(
    tz: ZoneInfo, start: datetime, expected_nightlies: list[datetime]
):
    # Every start is at or before 03:00 local: the last nightly ran the local day before.
    last_run = start.astimezone(tz).date() - timedelta(days=1)
    ran, _ = simulate(start, 48, tz, card(), Cursors(nightly=last_run))
    assert runs_of(ran, WindowKind.DISCOVERY) == [start + timedelta(hours=h) for h in range(48)]
    assert runs_of(ran, WindowKind.COMMIT) == [start + timedelta(minutes=30 * k) for k in range(96)]
    nightlies = [w for w in ran if w.kind is WindowKind.NIGHTLY]
    assert [w.slot for w in nightlies] == expected_nightlies
    dates = [w.local_date for w in nightlies]
    assert len(set(dates)) == len(dates)  # once per local date
    assert all(w.slot.astimezone(tz).date() == w.local_date for w in nightlies)


def test_restarts_with_persisted_cursors_never_run_a_window_twice():
    start = utc(2026, 10, 24, 0)
    straight, end_cursors = simulate(start, 48, HELSINKI, card(), Cursors())
    restarted, restarted_cursors = simulate(
        start, 48, HELSINKI, card(), Cursors(), restarts=frozenset({1, 59, 60, 61, 1500, 1501})
    )
    assert restarted == straight
    assert restarted_cursors == end_cursors
    slots = [(w.kind, w.slot) for w in restarted]
    assert len(slots) == len(set(slots))


def test_a_restart_during_the_repeated_hour_does_not_rerun_nightly():
    # Nightly ran at the first 03:00 (00:00 UTC); the daemon restarts at the second 03:00.
    cursors = Cursors(
        discovery=utc(2026, 10, 25, 1), commit=utc(2026, 10, 25, 1), nightly=date(2026, 10, 25)
    )
    due = due_windows(cursors, utc(2026, 10, 25, 1, 0, 30), card(), HELSINKI)
    assert [w.kind for w in due] == []


def test_an_outage_runs_each_window_once_on_return():
    cursors = Cursors(
        discovery=utc(2026, 6, 1, 10), commit=utc(2026, 6, 1, 10), nightly=date(2026, 6, 1)
    )
    now = utc(2026, 6, 4, 9, 40)  # three days later, 12:40 in Helsinki
    due = due_windows(cursors, now, card(), HELSINKI)
    assert due == [
        Window(WindowKind.DISCOVERY, utc(2026, 6, 4, 9)),
        Window(WindowKind.COMMIT, utc(2026, 6, 4, 9, 30)),
        Window(WindowKind.NIGHTLY, utc(2026, 6, 4, 0), date(2026, 6, 4)),
    ]


async def test_a_trio_scheduler_loop_sleeping_until_next_wakeup_fires_every_window(
    autojump_clock: trio.testing.MockClock,
):
    start = utc(2026, 3, 7, 5)  # midnight in New York
    clock = TrioClock(epoch=start)
    owner = card(interval=30)
    cursors = Cursors(nightly=date(2026, 3, 6))
    ran: list[tuple[WindowKind, datetime, datetime]] = []
    end = start + timedelta(hours=48)
    while clock.now() <= end:
        wake = next_wakeup(cursors, clock.now(), owner, NEW_YORK)
        if wake > end:
            break
        await clock.sleep_until(wake)
        for window in due_windows(cursors, clock.now(), owner, NEW_YORK):
            ran.append((window.kind, window.slot, clock.now()))
            cursors = advance(cursors, window)
    # Every window ran at its own slot (the loop never woke late), and only once.
    assert all(abs((at - slot).total_seconds()) < 1e-3 for _, slot, at in ran)
    assert sum(1 for k, _, _ in ran if k is WindowKind.DISCOVERY) == 49
    assert sum(1 for k, _, _ in ran if k is WindowKind.COMMIT) == 97
    assert [s for k, s, _ in ran if k is WindowKind.NIGHTLY] == [
        utc(2026, 3, 7, 8),
        utc(2026, 3, 8, 7),
    ]
    assert cursors.nightly == date(2026, 3, 8)
