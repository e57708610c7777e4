"""The original's seven pipeline figures, measured from the store and the live buffer.

QA pass rate and fallback rate are over the last 24 hours, so they move with the
channel instead of averaging its whole life: a bad night shows, and recovers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vvtv.core.audit import AuditType
from vvtv.core.model import PipelineMetrics, PlanState
from vvtv.store import Store

WINDOW = timedelta(hours=24)


def qa_pass_rate(store: Store, now: datetime) -> float | None:
    """Passed / all QA results in the last 24 h; None when nothing was checked."""
    since = now - WINDOW
    total = store.count_audit(since=since, until=now, event_type=AuditType.QA_RESULT)
    if total == 0:
        return None
    rejected = store.count_audit(
        since=since, until=now, event_type=AuditType.QA_RESULT, reason_code="QA_REJECTED"
    )
    return (total - rejected) / total


def fallback_rate(store: Store, now: datetime) -> float | None:
    """Share of what aired in the last 24 h that came from a fallback (level > 0)."""
    # Counted in SQL: loading the day's entries through cattrs cost ~1.5 ms a sample.
    return store.fallback_rate(now - WINDOW, now, aired_only=True)


def pipeline_metrics(store: Store, now: datetime, *, buffer_minutes: float) -> PipelineMetrics:
    """The seven figures at ``now``; curator actions and disruptions over the last 24 h."""
    since = now - WINDOW
    counts = store.count_plans()
    qa = qa_pass_rate(store, now)
    fallback = fallback_rate(store, now)
    return PipelineMetrics(
        at=now,
        buffer_minutes=round(buffer_minutes, 3),
        plans_created=sum(counts.values()),
        plans_committed=counts[PlanState.COMMITTED] + counts[PlanState.AIRED],
        qa_pass_rate=1.0 if qa is None else round(qa, 4),
        fallback_rate=0.0 if fallback is None else round(fallback, 4),
        curator_actions=store.count_audit(
            since=since, until=now, event_type=AuditType.CURATOR_APPLIED
        ),
        stream_disruptions=store.count_audit(
            since=since, until=now, event_type=AuditType.STREAM_DISRUPTION
        ),
    )
