"""The soak: watch a running channel for a while and give a PASS/FAIL verdict (SPEC §8).

Every ``interval_s`` it reads ``/v1/status``, ``/metrics``, ``/v1/alerts`` and
``/v1/runtime``. The verdict is FAIL when any of these holds:

* a request failed (transport error, non-2xx, unreadable body; a 404 from
  ``/v1/runtime`` only means "restart counts unknown");
* ``buffer_minutes`` was below the critical threshold in any sample (the threshold
  from ``/v1/status`` ``buffer_critical_minutes`` when the daemon reports it, else the
  OwnerCard's ``schedule_policy.buffer_critical_minutes`` given by the caller);
* memory grew: the median RSS of the last few samples exceeds the median of the first
  few by more than ``max_rss_growth_bytes`` (default 128 MiB, ``VVTV_SOAK_MAX_RSS_GROWTH_MB``).
  RSS comes from ``process_resident_memory_bytes`` in ``/metrics``, else from
  ``/proc/<pid>/status`` when the daemon's pid is known;
* actors restarted: the total restart count in ``/v1/runtime`` rose by more than
  ``max_restart_growth`` (default 10, ``VVTV_SOAK_MAX_RESTARTS``), or went backwards
  (the whole daemon restarted).

It writes ``samples.jsonl`` (one line per sample, as it goes) and ``summary.txt``.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from vvtv.release import api
from vvtv.release.envfile import write_env

Progress = Callable[[str], None]
MiB = 1024 * 1024


def _quiet(_: str) -> None:
    """Default progress sink."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class SoakConfig:
    hours: float = 24.0
    interval_s: float = 60.0
    max_samples: int = 0
    critical_minutes: float = 20.0
    max_rss_growth_bytes: int = 128 * MiB
    max_restart_growth: int = 10
    request_timeout_s: float = 10.0

    @property
    def planned_samples(self) -> int:
        """``max_samples`` when set, else one sample per interval for ``hours`` (at least 1)."""
        if self.max_samples > 0:
            return self.max_samples
        if self.interval_s <= 0:
            return 1
        return max(1, math.floor(self.hours * 3600 / self.interval_s))


@attrs.frozen
class Sample:
    index: int
    at: str
    errors: list[str]
    state: str | None = None
    buffer_minutes: float | None = None
    critical_minutes: float | None = None
    high_critical_alerts: list[str] = attrs.Factory(list)
    rss_bytes: int | None = None
    restarts: int | None = None

    @property
    def buffer_critical(self) -> bool:
        return (
            self.buffer_minutes is not None
            and self.critical_minutes is not None
            and self.buffer_minutes < self.critical_minutes
        )


@attrs.frozen
class SoakResult:
    verdict: str
    summary_path: Path
    fields: dict[str, object]
    reasons: list[str]

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"


def metric_value(text: str, name: str) -> float | None:
    """Sum of a Prometheus metric's samples (all label sets) in exposition text."""
    total: float | None = None
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        rest = line[len(name) :]
        if rest and rest[0] not in " {":
            continue  # another metric whose name starts the same
        try:
            value = float(line.rsplit("}", 1)[-1].split()[0] if "}" in rest else rest.split()[0])
        except (ValueError, IndexError):
            continue
        total = value if total is None else total + value
    return total


def total_restarts(node: Any) -> int | None:
    """Sum of every ``restarts`` count in a runtime snapshot (any nesting)."""
    if isinstance(node, dict):
        found = [total_restarts(v) for k, v in node.items() if k != "restarts"]
        own = node.get("restarts")
        values = [v for v in found if v is not None]
        if isinstance(own, int) and not isinstance(own, bool):
            values.append(own)
        return sum(values) if values else None
    if isinstance(node, list):
        values = [v for v in (total_restarts(x) for x in node) if v is not None]
        return sum(values) if values else None
    return None


def proc_rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _critical_from_status(status: dict[str, Any]) -> float | None:
    nested = status.get("buffer")
    for holder in (status, nested) if isinstance(nested, dict) else (status,):
        for key in ("buffer_critical_minutes", "critical_minutes"):
            value = holder.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


async def take_sample(
    http: httpx.AsyncClient,
    base: str,
    index: int,
    at: datetime,
    config: SoakConfig,
    pid: int | None = None,
) -> Sample:
    """One observation of the channel; request failures are recorded, never raised."""
    errors: list[str] = []
    status: dict[str, Any] = {}
    metrics = ""
    alerts: list[dict[str, Any]] = []
    runtime: dict[str, Any] | None = None
    try:
        status = await api.get_json(http, base, "/v1/status")
    except api.ApiError as exc:
        errors.append(str(exc))
    try:
        metrics = await api.get_text(http, base, "/metrics")
    except api.ApiError as exc:
        errors.append(str(exc))
    try:
        alerts = api.alerts_of(await api.get_json(http, base, "/v1/alerts"))
    except api.ApiError as exc:
        errors.append(str(exc))
    try:
        runtime = await api.get_json(http, base, "/v1/runtime")
    except api.ApiError as exc:
        if exc.status != 404:
            errors.append(str(exc))
    buffer = status.get("buffer_minutes")
    if not isinstance(buffer, int | float) or isinstance(buffer, bool):
        buffer = metric_value(metrics, "vvtv_buffer_minutes")
    if buffer is None and status:
        errors.append(f"GET {base}/v1/status: no buffer_minutes in the body")
    rss = metric_value(metrics, "process_resident_memory_bytes")
    if rss is None and pid is not None:
        rss = proc_rss(pid)
    return Sample(
        index=index,
        at=at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        errors=errors,
        state=status.get("state") if isinstance(status.get("state"), str) else None,
        buffer_minutes=float(buffer) if buffer is not None else None,
        critical_minutes=_critical_from_status(status) or config.critical_minutes,
        high_critical_alerts=[str(a.get("code")) for a in api.high_or_critical(alerts)],
        rss_bytes=int(rss) if rss is not None else None,
        restarts=total_restarts(runtime) if runtime is not None else None,
    )


def _edge_medians(values: list[int]) -> tuple[int, int] | None:
    if not values:
        return None
    window = max(1, min(5, len(values) // 3))
    return int(statistics.median(values[:window])), int(statistics.median(values[-window:]))


def judge(samples: list[Sample], config: SoakConfig) -> tuple[str, dict[str, object], list[str]]:
    """The verdict, the summary fields and the reasons for a FAIL."""
    reasons: list[str] = []
    failures = sum(len(s.errors) for s in samples)
    critical = sum(1 for s in samples if s.buffer_critical)
    buffers = [s.buffer_minutes for s in samples if s.buffer_minutes is not None]
    if not samples:
        reasons.append("no samples taken")
    if failures:
        reasons.append(f"{failures} request(s) failed")
    if critical:
        reasons.append(f"buffer below critical in {critical} sample(s)")
    rss = _edge_medians([s.rss_bytes for s in samples if s.rss_bytes is not None])
    rss_growth = rss[1] - rss[0] if rss else None
    if rss_growth is not None and rss_growth > config.max_rss_growth_bytes:
        reasons.append(
            f"RSS grew by {rss_growth // MiB} MiB (limit {config.max_rss_growth_bytes // MiB} MiB)"
        )
    restarts = [s.restarts for s in samples if s.restarts is not None]
    restart_growth = restarts[-1] - restarts[0] if restarts else None
    if any(b < a for a, b in itertools.pairwise(restarts)):
        reasons.append("the daemon restarted (its restart counter went backwards)")
    if restart_growth is not None and restart_growth > config.max_restart_growth:
        reasons.append(
            f"actors restarted {restart_growth} times (limit {config.max_restart_growth})"
        )
    verdict = "FAIL" if reasons else "PASS"
    fields: dict[str, object] = {
        "verdict": verdict,
        "samples": len(samples),
        "request_failures": failures,
        "buffer_critical_observations": critical,
        "buffer_critical_minutes": samples[-1].critical_minutes if samples else "",
        "min_buffer_minutes": min(buffers) if buffers else "",
        "high_critical_alert_observations": sum(1 for s in samples if s.high_critical_alerts),
        "rss_first_bytes": rss[0] if rss else "",
        "rss_last_bytes": rss[1] if rss else "",
        "rss_growth_bytes": rss_growth if rss_growth is not None else "",
        "rss_growth_limit_bytes": config.max_rss_growth_bytes,
        "restarts_first": restarts[0] if restarts else "",
        "restarts_last": restarts[-1] if restarts else "",
        "restart_growth": restart_growth if restart_growth is not None else "",
        "restart_growth_limit": config.max_restart_growth,
        "fail_reasons": "; ".join(reasons),
    }
    return verdict, fields, reasons


async def soak(
    base: str,
    out_dir: Path,
    config: SoakConfig,
    *,
    pid: int | None = None,
    clock: Callable[[], datetime] = wall_clock,
    progress: Progress = _quiet,
) -> SoakResult:
    """Sample the daemon at ``base`` and write the verdict to ``out_dir/summary.txt``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / "samples.jsonl"
    planned = config.planned_samples
    started = clock()
    progress(f"soak: {planned} sample(s) every {config.interval_s:g}s against {base}")
    samples: list[Sample] = []
    start = trio.current_time()
    async with api.client(config.request_timeout_s) as http:
        with open(samples_path, "w", encoding="utf-8") as log:
            for index in range(planned):
                if index:
                    await trio.sleep_until(start + index * config.interval_s)
                sample = await take_sample(http, base, index + 1, clock(), config, pid)
                samples.append(sample)
                log.write(json.dumps(attrs.asdict(sample)) + "\n")
                log.flush()
                progress(
                    f"soak: sample {index + 1}/{planned} state={sample.state} "
                    f"buffer={sample.buffer_minutes} errors={len(sample.errors)}"
                )
    verdict, fields, reasons = judge(samples, config)
    fields.update(
        api_url=base,
        started_at=started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        finished_at=clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        samples_file=samples_path,
    )
    summary = write_env(out_dir / "summary.txt", fields)
    progress(f"soak: verdict {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return SoakResult(verdict, summary, fields, reasons)
