"""Feed hosts are untrusted: the feed client connects only where the card allows, on every
redirect hop, and a compressed feed is capped in decoded bytes (a bomb cannot grow memory).

Real loopback servers: a feed host, and an internal host that must see zero requests.
The feed client is the daemon's own (``vvtv.guard.http.client``).
"""

from __future__ import annotations

import gzip

import httpx
import trio

from tests.support.hostile import gzip_bomb, internal_host, second_host
from tests.support.loopback import Reply, redirect, start_loopback
from tests.support.memory import peak_growth
from vvtv.discover.sources import fetch_all
from vvtv.discover.sources.http import FEED_MAX_REDIRECTS
from vvtv.guard import http as guarded
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.ownercard.card import SourceSpec

from . import feeds

FAST = httpx.Timeout(connect=1.0, read=1.0, write=1.0, pool=1.0)
LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])
ONLY_127_0_0_2 = AddressPolicy.from_entries(["127.0.0.2/32"])


async def read(sources: list[SourceSpec], policy: AddressPolicy):
    async with guarded.client(
        policy, follow_redirects=True, max_redirects=FEED_MAX_REDIRECTS
    ) as client:
        return await fetch_all(sources, client, timeout=FAST)


async def test_a_feed_on_an_allowed_range_is_read_and_one_on_loopback_by_default_is_not(
    nursery: trio.Nursery,
) -> None:
    web = await start_loopback(nursery)
    url = web.serve("/ocean.xml", Reply(body=feeds.RSS_MRSS, content_type="application/rss+xml"))
    found, errors = await read([SourceSpec("ocean", "rss", url)], LOOPBACK)
    assert errors == [] and [c.title for c in found][:1] == ["Deep Blue"]

    found, [error] = await read([SourceSpec("ocean", "rss", url)], STRICT)
    assert found == []
    assert error.source_name == "ocean" and error.item is None
    assert "address refused: 127.0.0.1 is loopback" in error.reason
    assert web.hits("/ocean.xml") == 1  # only the allowed read above reached it


async def test_a_feed_redirecting_to_an_internal_host_fails_alone_and_the_host_sees_nothing(
    nursery: trio.Nursery,
) -> None:
    internal = await internal_host(nursery)  # 127.0.0.1: not allowed
    web = await second_host(nursery, internal.port)  # 127.0.0.2: the feed host
    good = web.serve("/good.xml", Reply(body=feeds.RSS_MRSS, content_type="application/rss+xml"))
    evil = web.serve("/evil.xml", redirect(internal.url_for("/latest/meta-data/iam")))
    metadata = web.serve("/meta.xml", redirect("http://169.254.169.254/latest/meta-data/"))
    found, errors = await read(
        [
            SourceSpec("good", "rss", good),
            SourceSpec("evil", "rss", evil),
            SourceSpec("metadata", "rss", metadata),
        ],
        ONLY_127_0_0_2,
    )
    assert {c.source_name for c in found} == {"good"}
    reasons = {e.source_name: e.reason for e in errors}
    assert set(reasons) == {"evil", "metadata"}
    assert "address refused: 127.0.0.1 is loopback" in reasons["evil"]
    assert "address refused: 169.254.169.254 is link-local" in reasons["metadata"]
    assert internal.requests == []
    assert web.hits("/evil.xml") == 1  # refused, not retried


async def test_a_gzip_feed_is_read_and_a_gzip_bomb_is_cut_at_the_cap_in_bounded_memory(
    nursery: trio.Nursery,
) -> None:
    web = await start_loopback(nursery)
    zipped = {"Content-Encoding": "gzip"}
    good = web.serve("/good.xml", Reply(body=gzip.compress(feeds.RSS_MRSS), headers=zipped))
    bomb = web.serve("/bomb.xml", Reply(body=gzip_bomb(2 << 30), headers=zipped))
    with peak_growth() as growth:
        found, [error] = await read(
            [SourceSpec("good", "rss", good), SourceSpec("bomb", "rss", bomb)], LOOPBACK
        )
    assert {c.source_name for c in found} == {"good"}
    assert error.source_name == "bomb"
    assert "larger than the cap of 5242880 bytes" in error.reason
    assert growth.mib < 64, f"peak memory grew by {growth.mib:.0f} MiB"


async def test_a_stacked_gzip_bomb_is_refused_before_inflating(nursery: trio.Nursery) -> None:
    web = await start_loopback(nursery)
    body = gzip_bomb(2 << 30, layers=2)  # 2 GiB in a few KB
    assert len(body) < 8192
    url = web.serve("/bomb.xml", Reply(body=body, headers={"Content-Encoding": "gzip, gzip"}))
    with peak_growth() as growth:
        found, [error] = await read([SourceSpec("bomb", "rss", url)], LOOPBACK)
    assert found == []
    assert "stacked content encodings (gzip, gzip) are refused" in error.reason
    assert growth.mib < 64, f"peak memory grew by {growth.mib:.0f} MiB"


async def test_the_feed_client_offers_only_encodings_it_can_bound(nursery: trio.Nursery) -> None:
    web = await start_loopback(nursery)
    url = web.serve("/f.xml", Reply(body=feeds.RSS_MRSS))
    await read([SourceSpec("f", "rss", url)], LOOPBACK)
    (request,) = web.requests
    assert request.headers["accept-encoding"] == "gzip, deflate"


async def test_a_feed_may_move_five_hops_and_no_more(nursery: trio.Nursery) -> None:
    web = await start_loopback(nursery)
    web.serve("/feed.xml", Reply(body=feeds.RSS_MRSS, content_type="application/rss+xml"))
    for hop in range(6):
        web.serve(f"/hop{hop}", redirect(f"/hop{hop + 1}" if hop < 5 else "/feed.xml"))
    found, errors = await read([SourceSpec("moved", "rss", web.url_for("/hop1"))], LOOPBACK)
    assert errors == [] and found  # five redirects: read
    found, [error] = await read([SourceSpec("wander", "rss", web.url_for("/hop0"))], LOOPBACK)
    assert found == [] and "too many redirects" in error.reason  # six: refused
