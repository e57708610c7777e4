"""When the Scheduler's windows are due: hourly discovery, the commit cadence, nightly.

Pure arithmetic over persisted cursors, so a restart neither repeats nor skips a window:

- A window's *slot* is the instant it belongs to: the top of a UTC hour (discovery),
  a multiple of ``commit_interval_minutes`` since the Unix epoch (commit: :00 and :30
  for 30 minutes), or 03:00 local time of a local date (nightly).
- The cursor is the slot of the last window that ran (for nightly, its local date).
  ``next_*`` returns the slot of the next run; it is due when ``slot <= now``.
- Missed slots collapse: after a long outage the window runs once, for the latest slot
  that is due, not once per missed slot.
- After a successful run the caller persists the window's slot (``advance``), so the
  same slot never runs twice; a failed run leaves the cursor and is retried.

Nightly runs once per *local* date at ``at_local`` (03:00 by default). Across DST:
- spring forward, when ``at_local`` does not exist that day (Europe/Helsinki skips
  03:00–04:00; America/New_York skips 02:00–03:00), it runs at the first instant whose
  local wall time is ≥ ``at_local``, i.e. the moment of the jump (04:00 EEST);
- fall back, when ``at_local`` happens twice (Helsinki repeats 03:00–04:00), it runs at
  the first occurrence, and the date cursor keeps the second from running again.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from vvtv.ownercard.card import OwnerCard

HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The latest multiple of ``step`` since the Unix epoch at or before ``moment`` (UTC)."""
    _require_aware("moment", moment)
    if step <= timedelta(0):
        raise ValueError(f"step must be positive, got {step}")
    elapsed = moment.astimezone(UTC) - _EPOCH
    return _EPOCH + (elapsed // step) * step


def _next_slot(after: datetime | None, now: datetime, step: timedelta) -> datetime:
    _require_aware("now", now)
    latest_due = floor_to(now, step)
    if after is None:
        return latest_due
    _require_aware("after", after)
    following = floor_to(after, step) + step
    return max(following, latest_due) if following <= now else following


def next_discovery(after: datetime | None, now: datetime) -> datetime:
    """The slot of the next discovery run (top of a UTC hour); due when ``<= now``.

    Never ran (``after is None``): the current hour's slot, so discovery runs at start-up.
    """
    return _next_slot(after, now, HOUR)


def next_commit(after: datetime | None, now: datetime, interval_minutes: int) -> datetime:
    """The slot of the next commit run (every ``interval_minutes``); due when ``<= now``."""
    if interval_minutes <= 0:
        raise ValueError(f"commit interval must be positive, got {interval_minutes} minutes")
    return _next_slot(after, now, timedelta(minutes=interval_minutes))


def parse_local_time(text: str) -> time:
    """``"03:00"`` → ``time(3, 0)``; a clear error for anything else."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"nightly local time must be HH:MM, got {text!r}") from None


def local_instant(day: date, at_local: time, tz: ZoneInfo) -> datetime:
    """The UTC instant when local wall time on ``day`` first reaches ``at_local``.

    An ambiguous time (fall back) gives its first occurrence; a time that does not
    exist (spring forward) gives the moment of the jump, the first instant whose wall
    time is later than ``at_local``.
    """
    naive = datetime.combine(day, at_local)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap. fold=1 maps to before the jump, fold=0 to after it; the jump lies
    # between, so bisect (in whole seconds) for the first instant with wall >= naive.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while (high - low) > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def next_nightly(
    last_local_date: date | None,
    now: datetime,
    tz: ZoneInfo,
    at_local: time = time(3, 0),
) -> datetime:
    """The instant of the next nightly run; due when ``<= now``. Use ``nightly_date`` for
    the local date to persist after it ran.

    Never ran: the first ``at_local`` at or after ``now`` (a fresh install does not run
    nightly at once). Otherwise the day after the last run, or, if several days were
    missed, the latest local date whose ``at_local`` has passed: one catch-up run.
    """
    _require_aware("now", now)
    today = now.astimezone(tz).date()
    if last_local_date is None:
        day = today if local_instant(today, at_local, tz) >= now else today + timedelta(days=1)
        return local_instant(day, at_local, tz)
    day = last_local_date + timedelta(days=1)
    latest_due = today if local_instant(today, at_local, tz) <= now else today - timedelta(days=1)
    return local_instant(max(day, latest_due), at_local, tz)


def first_nightly_cursor(now: datetime, tz: ZoneInfo, at_local: time = time(3, 0)) -> date:
    """The cursor for a channel that never ran a nightly: the local date before its first
    slot (the first ``at_local`` at or after ``now``). From there that slot is due like any
    other night's, so a failed first run is retried that night, not skipped to the next."""
    first = next_nightly(None, now, tz, at_local)
    return nightly_date(first, tz) - timedelta(days=1)


def nightly_date(slot: datetime, tz: ZoneInfo) -> date:
    """The local date a nightly slot belongs to (what the nightly cursor stores)."""
    return slot.astimezone(tz).date()


class WindowKind(enum.StrEnum):
    DISCOVERY = "discovery"
    COMMIT = "commit"
    NIGHTLY = "nightly"


@attrs.frozen
class Cursors:
    """The last slot each window ran for (persisted by the store)."""

    discovery: datetime | None = None
    commit: datetime | None = None
    nightly: date | None = None


@attrs.frozen
class Window:
    """A due window: what to run and the slot it runs for (``local_date`` for nightly)."""

    kind: WindowKind
    slot: datetime
    local_date: date | None = None


def nightly_time(card: OwnerCard) -> time:
    return parse_local_time(card.schedule_policy.nightly_local_time)


def due_windows(cursors: Cursors, now: datetime, card: OwnerCard, tz: ZoneInfo) -> list[Window]:
    """Every window due at ``now``, in the order to run them: discovery, commit, nightly.

    (Discovery first so the grid is extended before the commit window selects from it.)
    """
    due: list[Window] = []
    slot = next_discovery(cursors.discovery, now)
    if slot <= now:
        due.append(Window(WindowKind.DISCOVERY, slot))
    slot = next_commit(cursors.commit, now, card.schedule_policy.commit_interval_minutes)
    if slot <= now:
        due.append(Window(WindowKind.COMMIT, slot))
    slot = next_nightly(cursors.nightly, now, tz, nightly_time(card))
    if slot <= now:
        due.append(Window(WindowKind.NIGHTLY, slot, nightly_date(slot, tz)))
    return due


def next_wakeup(cursors: Cursors, now: datetime, card: OwnerCard, tz: ZoneInfo) -> datetime:
    """The earliest slot among the three windows (``<= now`` means something is due)."""
    return min(
        next_discovery(cursors.discovery, now),
        next_commit(cursors.commit, now, card.schedule_policy.commit_interval_minutes),
        next_nightly(cursors.nightly, now, tz, nightly_time(card)),
    )


def advance(cursors: Cursors, window: Window) -> Cursors:
    """The cursors after ``window`` ran successfully (persist these)."""
    if window.kind is WindowKind.DISCOVERY:
        return attrs.evolve(cursors, discovery=window.slot)
    if window.kind is WindowKind.COMMIT:
        return attrs.evolve(cursors, commit=window.slot)
    if window.local_date is None:
        raise ValueError("a nightly window must carry its local_date")
    return attrs.evolve(cursors, nightly=window.local_date)
