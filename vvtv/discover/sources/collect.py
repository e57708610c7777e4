"""Reading every source of the OwnerCard at once, one failure never stopping the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import httpx
import trio

from vvtv.core import offload
from vvtv.core.retry import RetryPolicy
from vvtv.discover.sources.candidate import Candidate, SourceError, SourceFailure, domain_of
from vvtv.discover.sources.folder import Prober, scan_folder
from vvtv.discover.sources.http import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    FEED_MAX_REDIRECTS,
    FEED_RETRY,
    fetch_feed,
)
from vvtv.discover.sources.jsonfeed import parse_jsonfeed
from vvtv.discover.sources.rss import parse_feed
from vvtv.guard import http as guarded
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.media.probe import probe
from vvtv.ownercard.card import SourceSpec

SOURCE_KINDS = ("folder", "rss", "jsonfeed")
Parser = Callable[..., tuple[list[Candidate], list[SourceError]]]

log = logging.getLogger(__name__)


async def read_source(
    spec: SourceSpec,
    client: httpx.AsyncClient,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    retry: RetryPolicy = FEED_RETRY,
    prober: Prober = probe,
) -> tuple[list[Candidate], list[SourceError]]:
    """The candidates of one source and its per-item errors; ``SourceFailure`` if the
    whole source cannot be read. ``kind`` "rss" covers RSS 2.0, Media RSS and Atom."""
    if spec.kind == "folder":
        return await scan_folder(spec.location, source_name=spec.name, prober=prober)
    if spec.kind not in SOURCE_KINDS:
        raise SourceFailure(
            SourceError(
                spec.name,
                domain_of(spec.location),
                f"unknown source kind {spec.kind!r} (expected one of {', '.join(SOURCE_KINDS)})",
            )
        )
    fetched = await fetch_feed(
        client,
        spec.location,
        source_name=spec.name,
        max_bytes=max_bytes,
        timeout=timeout,
        total_timeout=total_timeout,
        retry=retry,
    )
    # A feed of a few megabytes takes a while to parse: keep it off the event loop.
    parse: Parser
    if spec.kind == "rss":
        parse = partial(parse_feed, content_type=fetched.content_type)
    else:
        parse = parse_jsonfeed
    return await offload.run_sync(
        partial(
            _guarded,
            parse,
            fetched.body,
            source_name=spec.name,
            feed_url=spec.location,
            base_url=fetched.url,
        )
    )


def _guarded(parse: Parser, data: bytes, **kw: Any) -> tuple[list[Candidate], list[SourceError]]:
    """``parse``, with one more wall around it: the parsers turn every problem of a document
    into a ``SourceFailure`` or a refused item, and the corpus tests hold them to it; should
    one still raise (a bug), that source fails alone with the error, never the round."""
    try:
        return parse(data, **kw)
    except SourceFailure:
        raise
    except Exception as exc:
        log.exception("reading source %s failed unexpectedly", kw.get("source_name"))
        raise SourceFailure(
            SourceError(
                kw["source_name"],
                domain_of(kw["feed_url"]),
                f"{kw['feed_url']}: could not be read ({type(exc).__name__}: {exc}); "
                "this is a vvtv bug, please report it",
            )
        ) from None


async def fetch_all(
    sources: Sequence[SourceSpec],
    client: httpx.AsyncClient | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    retry: RetryPolicy = FEED_RETRY,
    prober: Prober = probe,
    concurrency: int = 8,
    addresses: AddressPolicy = STRICT,
) -> tuple[list[Candidate], list[SourceError]]:
    """Read every source concurrently (``concurrency`` at a time).

    Returns all candidates, in source order, and every ``SourceError`` (whole sources
    that failed and single items that did). Only unexpected exceptions (bugs)
    propagate. Without a ``client`` one is opened for this call: a guarded one
    (``vvtv.guard.http``) that connects only where ``addresses`` allows, following
    redirects (each hop checked).
    """
    if client is None:
        async with guarded.client(
            addresses, follow_redirects=True, max_redirects=FEED_MAX_REDIRECTS
        ) as own:
            return await fetch_all(
                sources,
                own,
                max_bytes=max_bytes,
                timeout=timeout,
                total_timeout=total_timeout,
                retry=retry,
                prober=prober,
                concurrency=concurrency,
            )
    limiter = trio.CapacityLimiter(max(1, concurrency))
    results: list[tuple[list[Candidate], list[SourceError]]] = [([], [])] * len(sources)

    async def one(i: int, spec: SourceSpec) -> None:
        async with limiter:
            try:
                results[i] = await read_source(
                    spec,
                    client,
                    max_bytes=max_bytes,
                    timeout=timeout,
                    total_timeout=total_timeout,
                    retry=retry,
                    prober=prober,
                )
            except SourceFailure as failure:
                results[i] = ([], [failure.error])

    async with trio.open_nursery() as nursery:
        for i, spec in enumerate(sources):
            nursery.start_soon(one, i, spec)
    candidates = [c for found, _ in results for c in found]
    errors = [e for _, errs in results for e in errs]
    return candidates, errors
