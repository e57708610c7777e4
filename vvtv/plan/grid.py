"""The planning grid: which candidates air when, and which wait in reserve (SPEC §1.2).

``plan_grid`` is a pure function. It lays scheduled plans end to end from the end of
what is already committed (or from now) until the horizon, then keeps reserves for
every hour window of the grid.

Choosing the next scheduled plan (greedy, one slot at a time):

- Guardrails first. A theme is *allowed* next when it is not among the last
  ``U - 1`` themes (``U = min_unique_themes_per_block``: every ``U`` consecutive
  items then have ``U`` distinct themes) and it would not make a run longer than
  ``K = max_consecutive_same_theme``. The themes of the committed tail count, so the
  guardrails hold across the seam with what is already committed.
- Among allowed plans the highest *value* wins: its score minus a duration-balancing
  penalty, ``BALANCE_WEIGHT × min(1, |d - wanted| / target)``, where ``wanted`` is the
  duration that would bring the running average back to
  ``target_avg_duration_sec``.
- When no plan is allowed (the pool lacks themes), the guardrails relax step by step:
  a shorter look-back, then the run limit. Dead air is worse than repetition, so the
  grid stays contiguous as long as any plan is left.
- Music is capped, never relaxed: with ``R = music_policy.block_music_ratio`` below 1, a
  music plan (``vvtv.plan.music``) is allowed next only when the music airtime of the grid
  planned so far, itself included, stays at or under ``R`` of its whole airtime, so the
  cap holds at every point of the grid, not only at its end. Each step looks at the best
  music plan only (if it is too long to fit, the step takes no music). A pool with
  nothing but music left ends the grid early rather than break the cap; the emergency
  pool covers what follows, as for any pool that runs out.

Feasibility (proved by the property tests): the guardrails hold on the whole grid
whenever, with ``n`` an upper bound on the number of scheduled plans
(``ceil(span / shortest duration)``), the pool has at least ``U`` themes with more
than ``ceil(n / U)`` plans each when ``U >= 2``, or at least two themes with ``n``
plans each when ``U <= 1``. Each theme then appears at most once per ``U`` slots, so
``U`` themes always have plans left and at most ``U - 1`` are blocked.

Reserves: the main grid is filled first (the channel airs the main grid; reserves only
cover failures), then each hour window, earliest first, gets its reserves from what is
left: ``schedule_policy.reserves_per_hour`` times the nightly autotune's ``reserve_ratio``
(at least 1: the card's number is the owner's floor). A fractional rate is spread over
the hours (``reserves_in_hour``): 2.1 an hour keeps one more reserve every ten hours, so
a change of the ratio that moves a whole reserve within the horizon changes the grid.
A reserve may stand in for any programme of its hour, so with the music cap on
(``R < 1``) no music plan is kept as a reserve: a failure never raises the music share.
A reserve is *compatible* with a slot of its hour when putting it there keeps the
guardrails; reserves that fit more slots of their hour win, then themes not already
reserved for that hour, then value (score and closeness to the hour's mean slot duration).

The hour windows are the UTC hours from the grid's start to the start of its last
plan; a plan's ``hour_window`` is the hour its ``start_at`` falls in. An hour in which
nothing starts (a long programme spans it) is covered by the plan airing at its top.

Re-planning: call again with the same pool (uncommitted SCHEDULED and RESERVED plans
included) as time passes; committed plans are not in the pool, and
``committed_tail_end`` says where their timeline ends, so they never move.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from vvtv.core.model import MAX_PLAN_DURATION_SEC, PlanItem, PlanState, SlotType
from vvtv.ownercard.card import OwnerCard
from vvtv.plan.music import is_music, music_marks

BALANCE_WEIGHT = 0.2
HOUR = timedelta(hours=1)
#: Planning considers the best candidates only: enough for days of programming, and it
#: keeps each re-plan fast however large the pool grows.
MAX_POOL = 2000
#: The states a plan can be (re)planned from: the pool of every re-plan.
PLANNABLE = (PlanState.CANDIDATE, PlanState.SCHEDULED, PlanState.RESERVED)


@attrs.frozen
class Grid:
    """The outcome of planning: every pool plan lands in exactly one list.

    ``scheduled`` are SCHEDULED/MAIN in air order with contiguous ``start_at``;
    ``reserves`` are RESERVED/RESERVE with ``hour_window`` set and no ``start_at``,
    ordered by hour; ``unplanned`` go back to CANDIDATE with no slot (plans that
    already were plain candidates come back unchanged, the very same objects).
    """

    scheduled: list[PlanItem]
    reserves: list[PlanItem]
    unplanned: list[PlanItem]

    @property
    def end_at(self) -> datetime | None:
        """Where the scheduled grid ends (``None`` when nothing is scheduled)."""
        return self.scheduled[-1].end_at if self.scheduled else None


def floor_hour(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC hour."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _check_ratio(ratio: float) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 1.0 <= ratio < math.inf:
        raise ValueError(
            f"reserve_ratio must be a finite number >= 1 (the card's reserves_per_hour is the "
            f"floor), got {ratio!r}"
        )


def reserves_in_hour(hour: datetime, per_hour: int, ratio: float = 1.0) -> int:
    """How many reserves the UTC hour starting at ``hour`` keeps: ``per_hour × ratio`` on
    average. Hour ``k`` since the epoch gets ``round(r(k+1)) - round(rk)``, so any run of
    hours holds its share of a fractional rate to within one, and the count of an hour
    does not depend on where a grid starts."""
    _check_ratio(ratio)
    rate = max(0, per_hour) * ratio
    k = int(floor_hour(hour).timestamp()) // 3600
    return math.floor(rate * (k + 1) + 0.5) - math.floor(rate * k + 0.5)


def reserve_count(start: datetime, hours: int, per_hour: int, ratio: float = 1.0) -> int:
    """Reserves kept over ``hours`` UTC hours from ``start``'s (``reserves_in_hour``)."""
    first = floor_hour(start)
    return sum(reserves_in_hour(first + k * HOUR, per_hour, ratio) for k in range(hours))


def _validate(
    pool: Sequence[PlanItem], now: datetime, horizon_end: datetime, tail_end: datetime | None
) -> None:
    for name, value in (
        ("now", now),
        ("horizon_end", horizon_end),
        ("committed_tail_end", tail_end),
    ):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"plan_grid: {name} must be timezone-aware")
    seen: set[str] = set()
    for plan in pool:
        if plan.state not in PLANNABLE:
            raise ValueError(
                f"plan_grid: plan {plan.plan_id} is {plan.state}; only CANDIDATE, SCHEDULED "
                "and RESERVED plans can be (re)planned"
            )
        defect = plan.defect()
        if defect is not None:
            raise ValueError(
                f"plan_grid: plan {plan.plan_id} has duration {plan.duration_sec!r}; "
                f"it must be a positive number of seconds, at most {MAX_PLAN_DURATION_SEC:g}"
            )
        if plan.plan_id in seen:
            raise ValueError(f"plan_grid: plan {plan.plan_id} appears twice in the pool")
        seen.add(plan.plan_id)


def _penalty(duration: float, wanted: float, scale: float) -> float:
    """How far a duration is from the one that would rebalance the average."""
    return BALANCE_WEIGHT * min(1.0, abs(duration - wanted) / scale)


def _least_penalty(span: tuple[float, float], wanted: float, scale: float) -> float:
    """The smallest penalty any duration within ``span`` can get."""
    low, high = span
    gap = 0.0 if low <= wanted <= high else min(abs(low - wanted), abs(high - wanted))
    return BALANCE_WEIGHT * min(1.0, gap / scale)


class _Pool:
    """Unused plans by theme, each theme's plans by descending score, plus a max-heap of
    themes keyed by their best remaining score (an upper bound of any plan's value)."""

    def __init__(self, plans: Sequence[PlanItem]) -> None:
        self.size = len(plans)
        self.by_theme: dict[str, list[PlanItem]] = {}
        for plan in sorted(plans, key=lambda p: (-p.score, p.plan_id)):
            self.by_theme.setdefault(plan.theme, []).append(plan)
        self.used: set[str] = set()
        self.start: dict[str, int] = dict.fromkeys(self.by_theme, 0)
        self.remaining: dict[str, int] = {t: len(ps) for t, ps in self.by_theme.items()}
        self.heap: list[tuple[float, str]] = [(-ps[0].score, t) for t, ps in self.by_theme.items()]
        heapq.heapify(self.heap)
        # Duration ranges (of all plans, used or not) bound the balancing penalty from
        # below, so a search can stop before it has looked at every theme.
        self.span: dict[str, tuple[float, float]] = {
            t: (min(p.duration_sec for p in ps), max(p.duration_sec for p in ps))
            for t, ps in self.by_theme.items()
        }
        spans = self.span.values()
        self.all_span = (
            (min(lo for lo, _ in spans), max(hi for _, hi in spans)) if spans else (0.0, 0.0)
        )

    @property
    def left(self) -> bool:
        """Whether any plan of the pool is still unused."""
        return len(self.used) < self.size

    def top_score(self, theme: str) -> float | None:
        plans = self.by_theme[theme]
        i = self.start[theme]
        while i < len(plans) and plans[i].plan_id in self.used:
            i += 1
        self.start[theme] = i
        return plans[i].score if i < len(plans) else None

    def take(self, plan: PlanItem) -> None:
        self.used.add(plan.plan_id)
        self.remaining[plan.theme] -= 1
        top = self.top_score(plan.theme)
        if top is not None:
            heapq.heappush(self.heap, (-top, plan.theme))

    def best_in_theme(
        self, theme: str, wanted: float, scale: float, floor: float
    ) -> tuple[float, PlanItem] | None:
        """The plan of ``theme`` with the highest value, if it beats ``floor``."""
        best: tuple[float, PlanItem] | None = None
        plans = self.by_theme[theme]
        least = _least_penalty(self.span[theme], wanted, scale)
        for i in range(self.start[theme], len(plans)):
            plan = plans[i]
            if plan.score - least <= floor:
                break  # scores only fall from here, and value <= score - least
            if plan.plan_id in self.used:
                continue
            value = plan.score - _penalty(plan.duration_sec, wanted, scale)
            if value > floor:
                best, floor = (value, plan), value
        return best

    def best(self, blocked: set[str], wanted: float, scale: float) -> tuple[float, PlanItem] | None:
        """The highest-value unused plan whose theme is not ``blocked``."""
        best: tuple[float, PlanItem] | None = None
        floor = -math.inf
        least = _least_penalty(self.all_span, wanted, scale)
        popped: list[tuple[float, str]] = []
        while self.heap:
            neg_score, theme = self.heap[0]
            top = self.top_score(theme)
            if top is None or top != -neg_score:
                heapq.heappop(self.heap)  # stale entry; take() pushed the current one
                continue
            if top - least <= floor:
                break  # no theme further down can beat the best found
            popped.append(heapq.heappop(self.heap))
            if theme in blocked:
                continue
            found = self.best_in_theme(theme, wanted, scale, floor)
            if found is not None:
                best, floor = found, found[0]
        for entry in popped:
            heapq.heappush(self.heap, entry)
        return best


def _blocked(history: list[str], lookback: int, max_run: int | None) -> set[str]:
    blocked = set(history[-lookback:]) if lookback > 0 else set()
    if max_run is not None and max_run >= 1 and len(history) >= max_run:
        tail = history[-max_run:]
        if all(t == tail[0] for t in tail):
            blocked.add(tail[0])
    return blocked


def _fits(themes: list[str], i: int, theme: str, lookback: int, max_run: int) -> bool:
    """Whether ``theme`` could replace position ``i`` of ``themes`` within the guardrails."""
    if lookback > 0:
        near = themes[max(0, i - lookback) : i] + themes[i + 1 : i + 1 + lookback]
        if theme in near:
            return False
    run = 1
    j = i - 1
    while j >= 0 and themes[j] == theme:
        run, j = run + 1, j - 1
    j = i + 1
    while j < len(themes) and themes[j] == theme:
        run, j = run + 1, j + 1
    return run <= max(1, max_run)


def plan_grid(
    pool: Sequence[PlanItem],
    *,
    now: datetime,
    horizon_end: datetime,
    committed_tail_end: datetime | None,
    card: OwnerCard,
    committed_tail_themes: Sequence[str] = (),
    reserve_ratio: float = 1.0,
) -> Grid:
    """Plan ``pool`` from ``max(now, committed_tail_end)`` to ``horizon_end``.

    ``committed_tail_themes`` are the themes of the last committed plans in air order
    (the guardrails continue across the seam); ``reserve_ratio`` scales the card's
    reserves per hour (the nightly autotune's, at least 1). Raises ``ValueError`` for naive
    datetimes, plans that are not CANDIDATE/SCHEDULED/RESERVED, durations that are not
    positive or over ``MAX_PLAN_DURATION_SEC`` (the caller keeps those out: see
    ``PlanItem.defect``), duplicate plan ids or a ratio below 1. See the module docstring
    for how plans are chosen.
    """
    _validate(pool, now, horizon_end, committed_tail_end)
    _check_ratio(reserve_ratio)
    editorial = card.editorial_profile
    lookback = max(0, editorial.min_unique_themes_per_block - 1)
    max_run = max(1, editorial.max_consecutive_same_theme)
    target = float(editorial.target_avg_duration_sec)
    if target <= 0:
        target = sum(p.duration_sec for p in pool) / len(pool) if pool else 1.0

    start = now if committed_tail_end is None else max(now, committed_tail_end)
    tail = [t for t in committed_tail_themes]
    history = list(tail)
    ratio = card.music_policy.block_music_ratio
    capped = ratio < 1.0
    marks = music_marks(card) if capped else frozenset()
    music_ids = {p.plan_id for p in pool if capped and is_music(p, marks)}
    # Music in a pool of its own: the cap decides, at each step, whether it may compete.
    remaining = _Pool([p for p in pool if p.plan_id not in music_ids])
    music = _Pool([p for p in pool if p.plan_id in music_ids])
    order: list[tuple[PlanItem, datetime]] = []
    cursor = start
    total = music_total = 0.0
    # Relaxation levels: full guardrails first, then a shorter look-back, then no run limit.
    levels: list[tuple[int, int | None]] = [(lb, max_run) for lb in range(lookback, -1, -1)]
    levels.append((0, None))
    while cursor < horizon_end and (remaining.left or music.left):
        wanted = max(target * (len(order) + 1) - total, target / 4)
        # The longest music plan that keeps music_total / total <= ratio once added.
        room = (ratio * total - music_total) / (1.0 - ratio) if capped and ratio > 0 else 0.0
        choice = None
        for lb, run in levels:
            blocked = _blocked(history, lb, run)
            choice = remaining.best(blocked, wanted, target)
            if music.left and room > 0:
                tune = music.best(blocked, wanted, target)
                if (
                    tune is not None
                    and tune[1].duration_sec <= room * (1 + 1e-9)
                    and (choice is None or tune[0] > choice[0])
                ):
                    choice = tune
            if choice is not None:
                break
        if choice is None:  # only music is left, and the cap holds it back
            break
        plan = choice[1]
        if plan.plan_id in music_ids:
            music.take(plan)
            music_total += plan.duration_sec
        else:
            remaining.take(plan)
        order.append((plan, cursor))
        history.append(plan.theme)
        total += plan.duration_sec
        cursor = cursor + timedelta(seconds=plan.duration_sec)

    scheduled = [
        plan.transition(
            PlanState.SCHEDULED,
            now,
            start_at=at,
            slot_type=SlotType.MAIN,
            hour_window=floor_hour(at),
        )
        for plan, at in order
    ]
    # Reserves come from the pool without music (all of it when music is not capped).
    reserves = _pick_reserves(
        scheduled, tail, remaining, card, now, lookback, max_run, reserve_ratio
    )
    chosen = remaining.used | music.used
    unplanned = [_back_to_pool(p, now) for p in pool if p.plan_id not in chosen]
    return Grid(scheduled=scheduled, reserves=reserves, unplanned=unplanned)


def _back_to_pool(plan: PlanItem, now: datetime) -> PlanItem:
    """A plan left out of the grid: a plain candidate again. One that already was is
    returned as is (same object), so the caller can skip persisting thousands of rows."""
    if (plan.state, plan.start_at, plan.slot_type, plan.hour_window) == (
        PlanState.CANDIDATE,
        None,
        None,
        None,
    ):
        return plan
    return plan.transition(
        PlanState.CANDIDATE, now, start_at=None, slot_type=None, hour_window=None
    )


def hour_windows(scheduled: Sequence[PlanItem]) -> list[datetime]:
    """The UTC hours from the grid's first start to its last start, inclusive."""
    if not scheduled:
        return []
    first = floor_hour(_start_of(scheduled[0]))
    last = floor_hour(_start_of(scheduled[-1]))
    count = int((last - first) / HOUR) + 1
    return [first + k * HOUR for k in range(count)]


def _slots_of_hour(scheduled: Sequence[PlanItem], hour: datetime) -> list[int]:
    starting = [i for i, p in enumerate(scheduled) if p.hour_window == hour]
    if starting:
        return starting
    # Nothing starts in this hour: the plan airing at its top covers it.
    return [
        i
        for i, p in enumerate(scheduled)
        if p.start_at is not None and p.end_at is not None and p.start_at <= hour < p.end_at
    ][:1]


def _start_of(plan: PlanItem) -> datetime:
    """A scheduled plan's start (the grid holds only plans that have one)."""
    if plan.start_at is None:
        raise ValueError(f"plan {plan.plan_id} is on the grid without a start_at")
    return plan.start_at


def _best_by_rank(
    remaining: _Pool,
    rank: Callable[[str, set[str]], tuple[int, bool, int]],
    taken_here: set[str],
    mean: float,
    scale: float,
) -> tuple[tuple[int, bool, int], float, PlanItem] | None:
    """The best reserve when no theme fits every slot: by rank, then value."""
    ranked = sorted(
        (t for t, left in remaining.remaining.items() if left > 0),
        key=lambda t: rank(t, taken_here),
    )
    best: tuple[tuple[int, bool, int], float, PlanItem] | None = None
    for theme in ranked:
        theme_rank = rank(theme, taken_here)
        if best is not None and theme_rank > best[0]:
            break  # themes are sorted: the rest are less compatible
        floor = best[1] if best is not None else -math.inf
        found = remaining.best_in_theme(theme, mean, scale, floor)
        if found is not None:
            best = (theme_rank, found[0], found[1])
    return best


def _pick_reserves(
    scheduled: list[PlanItem],
    tail: list[str],
    remaining: _Pool,
    card: OwnerCard,
    now: datetime,
    lookback: int,
    max_run: int,
    ratio: float,
) -> list[PlanItem]:
    per_hour = max(0, card.schedule_policy.reserves_per_hour)
    if per_hour == 0 or not scheduled:
        return []
    themes = tail + [p.theme for p in scheduled]
    offset = len(tail)
    reserves: list[PlanItem] = []
    for hour in hour_windows(scheduled):
        slots = _slots_of_hour(scheduled, hour)
        mean = sum(scheduled[i].duration_sec for i in slots) / len(slots) if slots else 1.0
        # Only themes near a slot can break a guardrail there; every other theme fits all.
        near: set[str] = set()
        for i in slots:
            j = offset + i
            near.update(themes[max(0, j - max(lookback, 1)) : j])
            near.update(themes[j + 1 : j + 1 + max(lookback, 1)])
        fit_count = {
            theme: sum(1 for i in slots if _fits(themes, offset + i, theme, lookback, max_run))
            for theme in near
        }

        def rank(theme: str, taken: set[str]) -> tuple[int, bool, int]:
            fits = fit_count.get(theme, len(slots))  # noqa: B023 - used within this hour
            return (-min(fits, 1), theme in taken, -fits)

        taken_here: set[str] = set()
        for _ in range(reserves_in_hour(hour, per_hour, ratio)):
            scale = max(mean, 1.0)
            # The best rank: a theme that fits every slot of the hour, not yet reserved
            # for it. Most themes are there, and the pool's heap finds the best of them.
            partial = {t for t, fits in fit_count.items() if fits < len(slots)}
            found = remaining.best(partial | taken_here, mean, scale)
            best: tuple[tuple[int, bool, int], float, PlanItem] | None = None
            if found is not None:
                best = (rank(found[1].theme, taken_here), found[0], found[1])
            else:
                best = _best_by_rank(remaining, rank, taken_here, mean, scale)
            if best is None:
                break  # the pool is empty
            plan = best[2]
            remaining.take(plan)
            taken_here.add(plan.theme)
            reserves.append(
                plan.transition(
                    PlanState.RESERVED,
                    now,
                    start_at=None,
                    slot_type=SlotType.RESERVE,
                    hour_window=hour,
                )
            )
    return reserves
