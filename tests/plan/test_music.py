"""``music_policy.block_music_ratio`` (issue 17): the planner caps the music share of the
grid's airtime at the ratio, at every point of the grid; what makes a plan music is its
theme or a tag among ``music_policy.music_tags``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tests.plan.test_grid import NOW, PROPERTY, card, plan
from vvtv.core.model import PlanItem, PlanState
from vvtv.ownercard.card import MusicPolicy, OwnerCard
from vvtv.plan.grid import plan_grid
from vvtv.plan.music import is_music, music_marks, music_share

DAY = NOW + timedelta(hours=24)
THEMES = ("news", "sport", "art", "science")


def with_music(ratio: float, tags: Sequence[str] | None = None, **kw: int) -> OwnerCard:
    base = card(**kw)
    policy = MusicPolicy(block_music_ratio=ratio)
    if tags is not None:
        policy = attrs.evolve(policy, music_tags=tuple(tags))
    return attrs.evolve(base, music_policy=policy)


def song(n: int, *, score: float = 0.9, duration: float = 240.0, tag: str = "music") -> PlanItem:
    """A music video: its theme is a mood, its tags say music."""
    return attrs.evolve(
        plan(n, ("calm", "upbeat", "night")[n % 3], duration, score), tags=("clip", tag)
    )


def library(songs: int = 120, programmes: int = 120) -> list[PlanItem]:
    """Songs that outscore every programme, and programmes of four themes."""
    pool = [song(i) for i in range(songs)]
    pool += [plan(1000 + i, THEMES[i % 4], 900.0, 0.5) for i in range(programmes)]
    return pool


def prefix_shares(scheduled: Sequence[PlanItem], marks: frozenset[str]) -> list[float]:
    return [music_share(scheduled[: i + 1], marks) for i in range(len(scheduled))]


def test_music_takes_at_most_its_share_of_the_airtime_at_every_point_of_the_grid() -> None:
    c = with_music(0.2)
    grid = plan_grid(library(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    marks = music_marks(c)
    shares = prefix_shares(grid.scheduled, marks)
    assert grid.end_at is not None and grid.end_at >= DAY
    assert max(shares) <= 0.2 + 1e-9
    # A cap, not a ban: the songs outscore everything, so they fill the share they may.
    assert shares[-1] > 0.15
    # Without the cap (the behaviour before issue 17) the songs take far more.
    free = plan_grid(
        library(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=with_music(1.0)
    )
    assert music_share(free.scheduled, marks) > 0.3


def test_a_ratio_of_zero_keeps_music_off_the_grid_and_out_of_the_reserves() -> None:
    c = with_music(0.0)
    grid = plan_grid(library(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    marks = music_marks(c)
    assert grid.scheduled and not any(is_music(p, marks) for p in grid.scheduled)
    assert grid.reserves and not any(is_music(p, marks) for p in grid.reserves)
    assert all(p.state is PlanState.CANDIDATE for p in grid.unplanned if is_music(p, marks))


def test_reserves_hold_no_music_while_the_cap_is_on() -> None:
    """A reserve may replace any programme of its hour; a music reserve could raise the
    share past the cap, so none is kept."""
    c = with_music(0.5)
    grid = plan_grid(library(), now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    marks = music_marks(c)
    assert any(is_music(p, marks) for p in grid.scheduled)
    assert grid.reserves and not any(is_music(p, marks) for p in grid.reserves)


def test_a_pool_of_nothing_but_music_ends_the_grid_early_rather_than_break_the_cap() -> None:
    c = with_music(0.25)
    pool = library(songs=40, programmes=6)  # 6 × 15 min of programmes: 90 minutes
    grid = plan_grid(pool, now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    marks = music_marks(c)
    assert grid.end_at is not None and grid.end_at < DAY
    assert max(prefix_shares(grid.scheduled, marks)) <= 0.25 + 1e-9
    # Every programme aired; the songs that did not fit wait in the pool.
    assert sum(not is_music(p, marks) for p in grid.scheduled) == 6
    assert any(is_music(p, marks) for p in grid.unplanned)


def test_a_plan_is_music_by_its_theme_or_a_tag_in_the_cards_music_tags_any_case() -> None:
    default = music_marks(OwnerCard())
    assert is_music(plan(1, " Music "), default)
    assert is_music(attrs.evolve(plan(2, "lisboa"), tags=("Música",)), default)
    assert not is_music(attrs.evolve(plan(3, "documentary"), tags=("musical theatre",)), default)
    own = music_marks(with_music(0.2, tags=["karaoke"]))
    assert is_music(attrs.evolve(plan(4, "party"), tags=("KARAOKE",)), own)
    assert not is_music(plan(5, "music"), own)  # the card's list replaces the default
    assert music_share([], default) == 0.0


def test_the_cards_own_music_tags_decide_what_the_planner_caps() -> None:
    c = with_music(0.1, tags=["karaoke"])
    pool = [song(i, tag="karaoke") for i in range(60)]
    pool += [plan(1000 + i, THEMES[i % 4], 900.0, 0.5) for i in range(120)]
    grid = plan_grid(pool, now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    assert max(prefix_shares(grid.scheduled, music_marks(c))) <= 0.1 + 1e-9


@PROPERTY
@given(
    ratio=st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9]),
    rows=st.lists(
        st.tuples(
            st.booleans(),
            st.integers(0, 3),
            st.integers(60, 3600),
            st.floats(0.0, 1.0, allow_nan=False),
        ),
        max_size=80,
    ),
)
def test_the_cap_holds_on_any_pool(ratio: float, rows: list) -> None:
    pool = [
        attrs.evolve(plan(i, f"t{t}", d, s), tags=("music",) if m else ())
        for i, (m, t, d, s) in enumerate(rows)
    ]
    c = with_music(ratio)
    grid = plan_grid(pool, now=NOW, horizon_end=DAY, committed_tail_end=None, card=c)
    marks = music_marks(c)
    assert all(share <= ratio + 1e-9 for share in prefix_shares(grid.scheduled, marks))
    assert not any(is_music(p, marks) for p in grid.reserves)
    ids = sorted(p.plan_id for p in grid.scheduled + grid.reserves + grid.unplanned)
    assert ids == sorted(p.plan_id for p in pool)
