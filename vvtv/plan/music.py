"""What counts as music on the channel, and how much of a grid it fills (``music_policy``).

A plan is *music* when its theme or one of its tags, trimmed and compared without regard
to case, is one of the card's ``music_policy.music_tags`` (by default "music", "music
video", "concert", "live music", "song", "dj set", "música", "musica", "videoclipe",
"clipe musical"). Tags are what the source said of the item: a folder sidecar's ``tags``,
a feed item's categories and keywords.

The *music share* of a grid is the airtime of its music plans over its whole airtime
(seconds, not items: ten three-minute songs are not ten programmes' worth of air). The
planner keeps it at or under ``music_policy.block_music_ratio`` (``vvtv.plan.grid``).
"""

from __future__ import annotations

from collections.abc import Iterable

from vvtv.core.model import PlanItem
from vvtv.ownercard.card import OwnerCard


def music_marks(card: OwnerCard) -> frozenset[str]:
    """The card's music tags, normalised for comparison."""
    return frozenset(t.strip().casefold() for t in card.music_policy.music_tags if t.strip())


def is_music(plan: PlanItem, marks: frozenset[str]) -> bool:
    """Whether the plan's theme or one of its tags is a music tag (``music_marks``)."""
    if plan.theme.strip().casefold() in marks:
        return True
    return any(tag.strip().casefold() in marks for tag in plan.tags)


def music_share(plans: Iterable[PlanItem], marks: frozenset[str]) -> float:
    """Music airtime over all airtime of ``plans`` (0 when they have none)."""
    total = music = 0.0
    for plan in plans:
        total += plan.duration_sec
        if is_music(plan, marks):
            music += plan.duration_sec
    return music / total if total > 0 else 0.0
