"""Every kind of audit event, in one enum: the audit trail's vocabulary.

Writers put an ``AuditType`` in ``AuditEvent.event_type`` and readers filter and compare
with one, so a type can be found by name, a typo fails at import time, and the list
below is the whole vocabulary (``tests/core/test_audit_types.py`` checks that every type
is written somewhere and that no writer uses a bare string). It is a ``StrEnum``: what
is stored is the plain value, exactly as before the enum existed.

Renamed types stay readable: ``LEGACY`` maps a retired name to its type.
``canonical`` turns a stored name into today's, and the store's audit queries use it
both ways (asking by an old name, and old rows met by a query for the new one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class AuditType(enum.StrEnum):
    # --- windows (the scheduler; one row per window run, details say how it went) ---
    WINDOW_DISCOVERY = "window_discovery"
    WINDOW_COMMIT = "window_commit"
    WINDOW_NIGHTLY = "window_nightly"

    # --- discovery ---
    DISCOVERY_SUMMARY = "discovery_summary"
    DISCOVERY_REJECTED = "discovery_rejected"  # a candidate screened out (probe, filters)
    DISCOVERY_SOURCE_FAILED = "discovery_source_failed"  # a whole source could not be read
    DISCOVERY_ITEM_REJECTED = "discovery_item_rejected"  # one item of a source was unusable

    # --- plans and the commit window ---
    PLAN_TRANSITION = "plan_transition"
    QA_RESULT = "qa_result"
    SLOT_UNFILLED = "slot_unfilled"

    # --- the air (the Buffer) ---
    QUEUED = "queued"
    ENTRY_SKIPPED = "entry_skipped"
    AIRED_STARTED = "aired_started"
    AIRED_FINISHED = "aired_finished"
    STREAM_DISRUPTION = "stream_disruption"
    EMERGENCY_ENTERED = "emergency_entered"
    EMERGENCY_EXITED = "emergency_exited"
    CURATOR_MODE = "curator_mode"
    CURATOR_SUGGESTED = "curator_suggested"
    CURATOR_APPLIED = "curator_applied"

    # --- the nightly job ---
    NIGHTLY = "nightly"
    AUTOTUNE = "autotune"

    # --- the OwnerCard ---
    OWNER_CARD_APPLIED = "owner_card_applied"
    OWNER_CARD_REJECTED = "owner_card_rejected"

    # --- control, alerts and the cloud ---
    CONTROL_CALL = "control_call"
    CONTROL_REFUSED = "control_refused"  # a refused control call (rate-limited per kind)
    ALERT_NOTIFIED = "alert_notified"  # an alert handed to the webhook's outbox
    ALERT_CLEARED = "alert_cleared"  # its clear handed to the webhook's outbox
    ALERT_RECORDED = "alert_recorded"  # the same decision with no webhook: nobody was told
    WEBHOOK_REFUSED = "webhook_refused"
    CLOUD_DELIVERY_REFUSED = "cloud_delivery_refused"
    CLOUD_PUBLISH_INVALID = "cloud_publish_invalid"

    # --- the edge (cloud/worker): HLS publisher and relayed commands ---
    EDGE_COMMAND = "edge_command"  # a relayed command: applied, repeated, expired, refused
    EDGE_ANSWER_REFUSED = "edge_answer_refused"  # the edge's answer to a poll was unreadable
    EDGE_PLAYLIST_REFUSED = "edge_playlist_refused"  # the edge refused a playlist (4xx)
    EDGE_HLS_RESET = "edge_hls_reset"  # the origin's numbering went back: the edge forgot
    # --- push outputs (actors/outputs.py) ---
    OUTPUT_CONNECTED = "output_connected"  # a push reached its server and is sending
    OUTPUT_LOST = "output_lost"  # a connected push failed; it reconnects with backoff
    OUTPUT_SWITCHED = "output_switched"  # switched on/off (or back to the card) by a control call


#: Retired names still found in stored rows, and the type each became. ``commit_window``
#: was the Committer's own record of a commit window, written beside the Scheduler's
#: ``window_commit`` for the same run (same trace id, a subset of its details);
#: ``discovery_item_failed`` is what a rejected item was called before ITEM_REJECTED.
LEGACY: Mapping[str, AuditType] = MappingProxyType(
    {
        "commit_window": AuditType.WINDOW_COMMIT,
        "discovery_item_failed": AuditType.DISCOVERY_ITEM_REJECTED,
    }
)


def canonical(name: str) -> str:
    """Today's name for a stored or requested type (unknown names pass through as they
    are: a row written by a test or a newer version stays readable)."""
    if name in LEGACY:
        return LEGACY[name]
    try:
        return AuditType(name)
    except ValueError:
        return name


def legacy_names(name: str) -> tuple[str, ...]:
    """The retired names that stored rows of ``name`` may carry."""
    return tuple(old for old, new in LEGACY.items() if new == name)
