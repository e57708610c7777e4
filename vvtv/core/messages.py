"""Every message the channel's actors exchange, in one place.

Read top to bottom, this module is the conversation of the channel:

- the Scheduler asks Discovery to run a discovery window, the Committer to run a
  commit window, and runs the nightly job itself;
- the Committer hands prepared, QA-passed items to the Buffer;
- the API steers the Buffer (emergency override, curator mode) and the push outputs,
  and can ask the Scheduler for the nightly job now;
- the Scheduler and the Buffer hand status snapshots and reports to CloudSync;
- anyone may nudge the Alerter to evaluate now.

All messages are frozen attrs classes, so they are immutable once sent and
JSON-serialisable through ``vvtv.core.convert``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs

from vvtv.core.model import FallbackLevel, SlotType

# --- Scheduler → Discovery ----------------------------------------------------------


@attrs.frozen
class RunDiscovery:
    """Pull every source, screen the candidates, extend the planning grid."""

    window_at: datetime
    trace_id: str = ""


@attrs.frozen
class DiscoveryOutcome:
    """The reply to ``RunDiscovery``."""

    candidates: int
    accepted: int
    rejected: int
    failed_sources: tuple[str, ...]
    scheduled: int
    reserves: int


# --- Scheduler → Committer ----------------------------------------------------------


@attrs.frozen
class RunCommitWindow:
    """Commit, fetch, prepare and QA what airs within the commit lead."""

    window_at: datetime
    trace_id: str = ""


@attrs.frozen
class CommitOutcome:
    """The reply to ``RunCommitWindow``."""

    selected: int
    queued: int
    fell_back: int
    failed: int


# --- Committer → Buffer -------------------------------------------------------------


@attrs.frozen
class AssetReady:
    """A prepared, QA-passed asset to place on the timeline."""

    asset_id: str
    plan_id: str | None
    title: str
    theme: str
    duration_sec: float
    planned_start: datetime | None
    slot_type: SlotType = SlotType.MAIN
    fallback_level: FallbackLevel = FallbackLevel.MAIN
    trace_id: str = ""


# --- API → Buffer -------------------------------------------------------------------


@attrs.frozen
class SetEmergencyOverride:
    """Operator override: True forces emergency on, False forces it off, None releases.

    ``toggle`` flips the current state, for old clients that post an empty body.
    """

    enabled: bool | None
    toggle: bool = False
    who: str = "operator"


@attrs.frozen
class SetCuratorMode:
    mode: str  # "auto" | "advise" | "off"
    limits: dict[str, Any] = attrs.field(factory=dict)
    who: str = "operator"


# --- API → Scheduler ----------------------------------------------------------------


@attrs.frozen
class RunNightlyNow:
    """Run the nightly job now (the ``nightly`` control call): once per local date, unless
    ``force``. The reply says what ran (or why nothing did)."""

    force: bool = False
    who: str = "operator"


# --- → CloudSync --------------------------------------------------------------------


@attrs.frozen
class PublishStatus:
    """A metrics snapshot after a commit window; pending snapshots coalesce."""

    snapshot: dict[str, Any]


@attrs.frozen
class PublishDaily:
    day: date
    summary: dict[str, Any]
    metrics: dict[str, Any]


@attrs.frozen
class PublishWeekly:
    week: str  # %G-W%V
    summary: dict[str, Any]
    metrics: dict[str, Any]


# --- API → a push output (actors/outputs.py) ----------------------------------------


@attrs.frozen
class SetOutputEnabled:
    """Switch one push output on (True) or off (False), or give it back to the OwnerCard's
    ``enabled`` (None); persisted. The reply is the output's state (``OutputState.view``)."""

    enabled: bool | None
    who: str = ""


# --- → CloudSync, Alerter (their outboxes) ------------------------------------------


@attrs.frozen
class DrainOutbox:
    """Deliver what the actor's outbox holds, waiting at most ``timeout_s``; the reply is
    how many documents are still undelivered (0: all sent). ``vvtv run --once`` sends it
    before exiting, so a one-shot run delivers what it produced. Handled in mailbox order:
    everything sent to the actor before it is in the outbox when the wait starts."""

    timeout_s: float


# --- → Alerter ----------------------------------------------------------------------


@attrs.frozen
class EvaluateAlerts:
    """Evaluate the alert rules now (they also run at least every 60 s)."""

    reason: str = ""


# --- anyone → anyone ----------------------------------------------------------------


@attrs.frozen
class Ping:
    """A liveness probe; the reply is ``"pong"`` once the actor handles messages."""


ALL_MESSAGES: tuple[type, ...] = (
    Ping,
    RunDiscovery,
    DiscoveryOutcome,
    RunCommitWindow,
    CommitOutcome,
    AssetReady,
    SetEmergencyOverride,
    SetCuratorMode,
    RunNightlyNow,
    SetOutputEnabled,
    PublishStatus,
    PublishDaily,
    PublishWeekly,
    DrainOutbox,
    EvaluateAlerts,
)
