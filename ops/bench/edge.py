"""Edge benchmark: a channel publishing to the local Worker, with 100 then 1,000 viewers (issue 19).

What runs, all on this machine:

* the Worker (cloud/worker) in workerd through miniflare, as the tests run it;
* a real channel (``--child``: a separate process, the real clock) airing 30-s programmes of
  real segments, publishing to the Worker through a counting proxy: every byte the channel
  machine sends to the edge passes through it;
* ``--viewers`` simulated viewers (this process) in two phases of ``--seconds`` each, 100
  then 1,000: each one reloads the edge's ``/hls/index.m3u8`` every target duration and
  fetches every segment it has not fetched yet, as a player does;
* meanwhile ``--commands`` operator commands per phase relayed through the edge
  (``curator-mode``, alternating ``advise`` and ``auto``), and the edge's playlist
  compared with the origin's every second.

Measured (the 100-viewer phase is the baseline of the same run):

* ``origin_egress_ratio_1000_vs_100``: the channel machine's bytes out to the edge per
  minute of stream with 1,000 viewers over the same with 100 (target <= 1.05: the upload
  does not grow with the audience); ``origin_bytes_per_stream_minute_{100,1000}``, and
  ``origin_live_requests`` (viewers' requests that reached the channel's own HLS origin: 0);
* ``edge_playlist_lag_p99_segments``: origin END minus the END viewers get from the edge,
  sampled every second (target <= 2);
* ``control_relay_p99_s``: from the operator's POST to the edge until the channel had applied
  the command (its own record in the state database, same machine clock; target <= 2), with
  ``control_relay_stages_p99_s`` (the POST, the edge until the agent took it, applying it) and
  ``control_round_trip_p99_s`` (until the operator read the result back: one more long poll);
* ``viewer_errors``: failed viewer requests (target 0); ``viewer_requests``,
  ``viewer_bytes_{100,1000}``, ``edge_cache_hit_ratio``;
  ``viewer_segments_per_viewer_ratio_1000_vs_100``: segments each viewer fetched at 1,000 over
  at 100 (below 1 when this machine cannot run 1,000 players in step: they fall behind, which
  costs them segments, not errors).

    nice -n 5 .venv/bin/python ops/bench/edge.py [--seconds 60] [--commands 10]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import trio  # noqa: E402

from tests.support.edge import EdgeWorker, edge_headers, edge_proxy, running_edge  # noqa: E402
from vvtv.core.signing import new_nonce  # noqa: E402

PHASES = (100, 1000)
SEGMENT_S = 6.0
# The viewers share CLIENTS HTTP clients of CONNECTIONS connections each (this machine's
# side of the test: how many sockets one process opens to workerd at once, not the channel).
CLIENTS = 10
CONNECTIONS = 5
VIEWER_PROCS = 2
RETRIES = 3  # a player's retries of a failed request (hls.js: up to 6)


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


def playlist_end(text: str) -> int | None:
    found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    if not found:
        return None
    return int(found.group(1)) + sum(
        1 for line in text.splitlines() if line and not line.startswith("#")
    )


# ------------------------------------------------------------------ the channel (--child)


def child(root: Path, edge_url: str, token: str, secret: str) -> None:
    """A channel on the real clock, airing two hours of 30-s programmes, until killed."""
    from tests.cloud.edge_channel import queue_items
    from tests.daemon.harness import make_settings, running_channel
    from tests.support.media import make_slate

    slate = make_slate(root / "slate-template")
    settings = make_settings(
        root / "channel",
        slate,
        VVTV_CLOUDFLARE_BASE_URL=edge_url,
        VVTV_CLOUDFLARE_TOKEN=token,
        VVTV_CLOUDFLARE_SECRET=secret,
    )

    async def main() -> None:
        async with running_channel(settings) as daemon:
            await queue_items(daemon, 240, "bench")
            while daemon.ch.topics["buffer"].latest.get("state") != "RUNNING":
                await trio.sleep(0.2)
            print(json.dumps({"api_url": daemon.ch.api_url}), flush=True)
            await trio.sleep_forever()

    trio.run(main)


# ------------------------------------------------------------------ viewers


class Viewers:
    def __init__(self, edge_url: str) -> None:
        self.edge_url = edge_url
        self.errors = 0
        self.requests = 0
        self.bytes = 0
        self.hits = 0
        self.segments = 0
        self.retried = 0
        self.first_errors: list[str] = []

    def _error(self, what: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(what)

    async def get(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        """A GET as a player makes it: a transport failure or a 5xx is tried again, up to
        ``RETRIES`` times after 0.5, 1, 2 s (hls.js's fragment policy allows 6, from 1 s
        doubling to 8 s). What still fails is a viewer error."""
        for attempt in range(RETRIES + 1):
            try:
                reply = await client.get(url)
            except (httpx.TransportError, httpx.RemoteProtocolError):
                if attempt == RETRIES:
                    raise
            else:
                if reply.status_code < 500 or attempt == RETRIES:
                    return reply
            self.retried += 1
            await trio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def viewer(self, client: httpx.AsyncClient, stop: trio.Event) -> None:
        fetched: set[str] = set()
        await trio.sleep(random.uniform(0, SEGMENT_S))  # viewers do not arrive in step
        while not stop.is_set():
            started = trio.current_time()
            try:
                reply = await self.get(client, "/hls/index.m3u8")
                self.requests += 1
                if reply.status_code != 200:
                    self._error(f"playlist {reply.status_code}")
                else:
                    uris = [u for u in reply.text.splitlines() if u and not u.startswith("#")]
                    for uri in uris[-3:]:  # a player starts near the live edge
                        if uri in fetched:
                            continue
                        segment = await self.get(client, f"/hls/{uri}")
                        self.requests += 1
                        self.segments += 1
                        if segment.status_code != 200 or not segment.content:
                            self._error(f"segment {segment.status_code}")
                            continue
                        fetched.add(uri)
                        self.bytes += len(segment.content)
                        if segment.headers.get("x-vvtv-edge-cache") == "HIT":
                            self.hits += 1
            except httpx.HTTPError as exc:
                self._error(f"{type(exc).__name__}: {exc}")
            left = SEGMENT_S - (trio.current_time() - started)
            if left > 0:
                with trio.move_on_after(left):
                    await stop.wait()


async def watch(edge_url: str, count: int, seconds: float) -> dict[str, Any]:
    """``count`` viewers for ``seconds`` (a viewer process's whole life); their figures."""
    viewers = Viewers(edge_url)
    stop = trio.Event()
    clients = [
        httpx.AsyncClient(
            base_url=edge_url, timeout=60, limits=httpx.Limits(max_connections=CONNECTIONS)
        )
        for _ in range(CLIENTS)
    ]
    async with trio.open_nursery() as nursery:
        for i in range(count):
            nursery.start_soon(viewers.viewer, clients[i % CLIENTS], stop)
        await trio.sleep(seconds)
        stop.set()
    for client in clients:
        await client.aclose()
    return {
        "errors": viewers.errors,
        "error_examples": viewers.first_errors,
        "requests": viewers.requests,
        "resent": viewers.retried,
        "bytes": viewers.bytes,
        "segments": viewers.segments,
        "hits": viewers.hits,
    }


# ------------------------------------------------------------------ the run


def applied_at(command_id: str, db: Path | None = None) -> datetime | None:
    """When the channel applied a relayed command, from its state database (read-only)."""
    assert STATE_DB[0] is not None
    con = sqlite3.connect(f"file:{db or STATE_DB[0]}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute("SELECT done_at FROM edge_commands WHERE id = ?", (command_id,))
        found = row.fetchone()
    finally:
        con.close()
    if not found or not found[0]:
        return None
    return datetime.strptime(found[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


STATE_DB: list[Path | None] = [None]


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def bench(args: argparse.Namespace, edge: EdgeWorker, proxy: Any, api_url: str) -> dict:
    out: dict[str, Any] = {}
    lags: list[float] = []
    relays: list[float] = []
    round_trips: list[float] = []
    # Where a relay's time goes: the operator's POST until the edge stored the command, the
    # edge until the agent's long poll took it, the agent until the channel had applied it.
    stages: dict[str, list[float]] = {"post_s": [], "to_agent_s": [], "apply_s": []}
    operator = edge.credential(role="control")

    # The bench's own requests: one connection each (no kept-alive connection to find closed).
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=edge.url, timeout=60, limits=no_reuse) as probe:
        own_live = [0]  # the sampler's own requests to the origin's /live

        async def origin_end() -> int | None:
            own_live[0] += 1
            reply = await probe.get(api_url + "/live/index.m3u8")
            return playlist_end(reply.text) if reply.status_code == 200 else None

        async def edge_end() -> int | None:
            reply = await probe.get("/hls/index.m3u8")
            return playlist_end(reply.text) if reply.status_code == 200 else None

        async def sample_lag(stop: trio.Event) -> None:
            while not stop.is_set():
                origin, at_edge = await origin_end(), await edge_end()
                if origin is not None and at_edge is not None:
                    lags.append(max(0, origin - at_edge))
                with trio.move_on_after(1.0):
                    await stop.wait()

        async def control(stop: trio.Event, count: int) -> None:
            spacing = args.seconds / max(1, count + 1)
            for k in range(count):
                with trio.move_on_after(spacing):
                    await stop.wait()
                body = json.dumps({"mode": "advise" if k % 2 == 0 else "auto"}).encode()
                path = "/v1/control/curator-mode"
                sent_at, sent = datetime.now(UTC), time.monotonic()
                headers = edge_headers(operator, "POST", path, body, nonce=new_nonce())
                posted = await probe.post(path, content=body, headers=headers)
                command = posted.json()["id"]
                path = f"/v1/control/commands/{command}"
                headers = edge_headers(operator, "GET", path, nonce=new_nonce())
                done = await probe.get(path, params={"wait": 25}, headers=headers)
                if done.json().get("state") != "succeeded":
                    relays.append(float("inf"))
                    round_trips.append(float("inf"))
                    continue
                round_trips.append(time.monotonic() - sent)
                # Relayed: when the channel had applied it (its own record, same machine clock).
                applied = applied_at(command)
                relays.append((applied - sent_at).total_seconds() if applied else float("inf"))
                info = done.json()
                created = _iso(info["created_at"])
                delivered = _iso(info["first_delivered_at"])
                stages["post_s"].append((created - sent_at).total_seconds())
                stages["to_agent_s"].append((delivered - created).total_seconds())
                if applied:
                    stages["apply_s"].append((applied - delivered).total_seconds())

        async def live_hits() -> float:
            text = (await probe.get(api_url + "/metrics")).text
            total = 0.0
            for line in text.splitlines():
                if line.startswith("vvtv_http_requests_total{") and 'route="/live' in line:
                    total += float(line.rsplit(" ", 1)[1])
            return total

        # Caught up before anything is measured.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            origin, at_edge = await origin_end(), await edge_end()
            if origin is not None and at_edge is not None and origin - at_edge <= 1:
                break
            await trio.sleep(0.5)
        hits_before, own_before = await live_hits(), own_live[0]
        totals: dict[str, Any] = {"errors": 0, "requests": 0, "resent": 0, "hits": 0,
                                  "segments": 0, "error_examples": []}  # fmt: skip
        for n in PHASES:
            sent_before = proxy.sent_bytes()
            start_end = await origin_end()
            stop = trio.Event()
            # The viewers run in processes of their own: their load must not slow the
            # measurements taken here (the operator's calls, the lag samples).
            share = [n // VIEWER_PROCS + (1 if k < n % VIEWER_PROCS else 0)
                     for k in range(VIEWER_PROCS)]  # fmt: skip
            results: list[dict[str, Any]] = []

            async def viewers(count: int, into: list[dict[str, Any]]) -> None:
                done = await trio.run_process(
                    [sys.executable, __file__, "--viewers", edge.url, str(count),
                     str(args.seconds)],
                    capture_stdout=True, cwd=ROOT,
                )  # fmt: skip
                into.append(json.loads(done.stdout.decode().splitlines()[-1]))

            async with trio.open_nursery() as nursery:
                for count in share:
                    nursery.start_soon(viewers, count, results)
                nursery.start_soon(sample_lag, stop)
                nursery.start_soon(control, stop, args.commands)
                await trio.sleep(args.seconds)
                stop.set()
            stream_minutes = ((await origin_end() or 0) - (start_end or 0)) * SEGMENT_S / 60
            sent = proxy.sent_bytes() - sent_before
            out[f"origin_bytes_per_stream_minute_{n}"] = round(sent / max(stream_minutes, 1e-9))
            out[f"viewer_bytes_{n}"] = sum(r["bytes"] for r in results)
            out[f"viewer_segments_{n}"] = sum(r["segments"] for r in results)
            for r in results:
                for key in ("errors", "requests", "resent", "hits", "segments"):
                    totals[key] += r[key]
                totals["error_examples"] += r["error_examples"][:3]
        # Viewers' requests to the channel's own HLS origin: the sampler's are not theirs.
        own = own_live[0] - own_before
        out["origin_live_requests"] = int(await live_hits() - hits_before) - own
    base = out[f"origin_bytes_per_stream_minute_{PHASES[0]}"]
    out["origin_egress_ratio_1000_vs_100"] = (
        round(out[f"origin_bytes_per_stream_minute_{PHASES[1]}"] / base, 3)
        if base
        else float("nan")
    )
    out["edge_playlist_lag_p99_segments"] = p99(lags)
    out["edge_playlist_lag_max_segments"] = max(lags) if lags else float("nan")
    out["control_relay_p99_s"] = round(p99(relays), 3)
    out["control_round_trip_p99_s"] = round(p99(round_trips), 3)
    out["control_relay_stages_p99_s"] = {k: round(p99(v), 3) for k, v in stages.items()}
    out["control_relays"] = len(relays)
    # Whether the simulated players kept up: a viewer fetches one segment per target duration
    # once started, so this is ~1 when the viewers (not the edge) keep pace at 1,000 too.
    per_viewer = {n: out[f"viewer_segments_{n}"] / n for n in PHASES}
    out["viewer_segments_per_viewer_ratio_1000_vs_100"] = (
        round(per_viewer[PHASES[1]] / per_viewer[PHASES[0]], 3) if per_viewer[PHASES[0]] else None
    )
    out["viewer_errors"] = totals["errors"]
    out["viewer_error_examples"] = totals["error_examples"][:5]
    out["viewer_requests"] = totals["requests"]
    out["viewer_requests_resent"] = totals["resent"]
    out["edge_cache_hit_ratio"] = round(totals["hits"] / max(1, totals["segments"]), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--commands", type=int, default=10, help="operator commands per phase")
    parser.add_argument("--child", nargs=4, metavar=("ROOT", "URL", "TOKEN", "SECRET"))
    parser.add_argument("--viewers", nargs=3, metavar=("URL", "COUNT", "SECONDS"))
    args = parser.parse_args()
    if args.viewers:
        url, count, seconds = args.viewers
        print(json.dumps(trio.run(watch, url, int(count), float(seconds))))
        return 0
    if args.child:
        root, url, token, secret = args.child
        child(Path(root), url, token, secret)
        return 0
    with tempfile.TemporaryDirectory(prefix="vvtv-bench-edge-") as tmp:
        root = Path(tmp)
        with running_edge(root / "edge") as edge, edge_proxy(edge) as proxy:
            cred = edge.credential()
            log = (root / "channel.log").open("w")
            channel = subprocess.Popen(
                [sys.executable, __file__, "--child", str(root), proxy.url, cred.token,
                 cred.secret],
                stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
            )  # fmt: skip
            try:
                assert channel.stdout is not None
                line = channel.stdout.readline()
                if not line:
                    raise SystemExit(f"the channel did not start; see {root / 'channel.log'}")
                api_url = json.loads(line)["api_url"]
                STATE_DB[0] = root / "channel" / "runtime" / "state" / "vvtv.db"
                result = trio.run(bench, args, edge, proxy, api_url)
            finally:
                channel.kill()
                channel.wait()
                log.close()
    result["viewers"] = list(PHASES)
    result["seconds_per_phase"] = args.seconds
    result["targets_met"] = bool(
        result["origin_egress_ratio_1000_vs_100"] <= 1.05
        and result["edge_playlist_lag_p99_segments"] <= 2
        and result["control_relay_p99_s"] <= 2
        and result["viewer_errors"] == 0
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
