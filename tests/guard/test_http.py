"""The guarded client: every connection goes to a checked address, every redirect hop too.

Real servers on loopback addresses stand for the two sides: an allowed content host and
an internal host (the metadata service, a LAN admin page) that must see zero requests.
Names are resolved by a stand-in resolver (DNS is off this machine); the connection
itself is real.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from tests.support.certs import TestCA
from tests.support.hostile import internal_host, second_host
from tests.support.loopback import Loopback, Reply, redirect, start_loopback
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.guard.http import AddressRefused, client

LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])
ONLY_127_0_0_2 = AddressPolicy.from_entries(["127.0.0.2/32"])


def resolver(answers: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host in answers:
            return answers[host]
        raise OSError(f"no such host {host}")

    return resolve


async def servers(nursery: trio.Nursery) -> tuple[Loopback, Loopback]:
    """An allowed host on 127.0.0.2 and an internal host on 127.0.0.1, on the same port."""
    internal = await internal_host(nursery)
    allowed = await second_host(nursery, internal.port)
    return allowed, internal


async def test_a_public_host_policy_refuses_loopback_before_any_request(
    nursery: trio.Nursery,
) -> None:
    internal = await internal_host(nursery)
    async with client(STRICT) as c:
        with pytest.raises(AddressRefused) as info:
            await c.get(internal.url_for("/latest/meta-data/iam"))
    assert "127.0.0.1 is loopback" in str(info.value)
    assert internal.requests == []


async def test_an_allowed_range_is_fetched(nursery: trio.Nursery) -> None:
    server = await start_loopback(nursery)
    url = server.serve("/feed.xml", Reply(200, b"<rss/>", "application/rss+xml"))
    async with client(LOOPBACK) as c:
        response = await c.get(url)
    assert response.content == b"<rss/>"
    assert [r.path for r in server.requests] == ["/feed.xml"]


async def test_an_allowlisted_name_that_resolves_to_an_internal_address_is_refused(
    nursery: trio.Nursery,
) -> None:
    internal = await internal_host(nursery)
    answers = {"media.example.com": ["127.0.0.1"]}
    async with client(STRICT, resolver=resolver(answers)) as c:
        with pytest.raises(AddressRefused) as info:
            await c.get(internal.url_for("/x.mp4", host="media.example.com"))
    assert "media.example.com resolves to 127.0.0.1 is loopback" in str(info.value)
    assert internal.requests == []


async def test_the_real_resolver_is_checked_too(nursery: trio.Nursery) -> None:
    internal = await internal_host(nursery)
    async with client(STRICT) as c:
        with pytest.raises(AddressRefused):
            await c.get(internal.url_for("/", host="localhost"))
    assert internal.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00::1]:8080/admin",
        "http://10.0.0.1/",
        "http://100.100.100.200/latest/meta-data/",  # CGNAT: Alibaba's metadata service
        "http://0.0.0.0:22/",
    ],
)
async def test_a_redirect_to_an_internal_address_is_refused_before_connecting(
    nursery: trio.Nursery, target: str
) -> None:
    allowed, internal = await servers(nursery)
    url = allowed.serve("/video.mp4", redirect(target))
    async with client(ONLY_127_0_0_2, follow_redirects=True) as c:
        with pytest.raises(AddressRefused):
            await c.get(url)
    assert [r.path for r in allowed.requests] == ["/video.mp4"]
    assert internal.requests == []


async def test_a_redirect_to_loopback_is_refused_every_hop(nursery: trio.Nursery) -> None:
    allowed, internal = await servers(nursery)
    allowed.serve("/a", redirect(allowed.url_for("/b")))
    allowed.serve("/b", redirect(internal.url_for("/latest/meta-data/iam")))
    async with client(ONLY_127_0_0_2, follow_redirects=True) as c:
        with pytest.raises(AddressRefused) as info:
            await c.get(allowed.url_for("/a"))
    assert "127.0.0.1 is loopback" in str(info.value)
    assert [r.path for r in allowed.requests] == ["/a", "/b"]
    assert internal.requests == []


async def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept(
    nursery: trio.Nursery,
) -> None:
    # A rebinding resolver: the first answer is allowed, every later one is internal.
    # The name is resolved once per connection and the connection goes to that answer.
    allowed, internal = await servers(nursery)
    allowed.serve("/v.mp4", Reply(200, b"video", "video/mp4"))
    calls: list[str] = []
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    url = allowed.url_for("/v.mp4", host="media.example.com")
    async with client(ONLY_127_0_0_2, resolver=rebinding) as c:
        first = await c.get(url, headers={"Connection": "close"})
        with pytest.raises(AddressRefused):
            await c.get(url)  # a new connection: resolved again, and refused
    assert first.content == b"video"
    assert calls == ["media.example.com", "media.example.com"]
    (request,) = allowed.requests
    assert request.headers["host"] == f"media.example.com:{allowed.port}"
    assert internal.requests == []


async def test_a_name_with_any_internal_address_among_its_answers_is_refused(
    nursery: trio.Nursery,
) -> None:
    allowed, internal = await servers(nursery)
    answers = {"media.example.com": ["127.0.0.2", "127.0.0.1"]}
    async with client(ONLY_127_0_0_2, resolver=resolver(answers)) as c:
        with pytest.raises(AddressRefused):
            await c.get(allowed.url_for("/v.mp4", host="media.example.com"))
    assert allowed.requests == [] and internal.requests == []


async def test_tls_checks_the_certificate_and_sends_sni_for_the_name_not_the_address(
    nursery: trio.Nursery,
) -> None:
    ca = TestCA()
    server = await start_loopback(nursery, Loopback(tls=ca.issue("media.example.com")))
    server.serve("/v.mp4", Reply(200, b"video", "video/mp4"))
    answers = {"media.example.com": ["127.0.0.1"], "other.example.com": ["127.0.0.1"]}
    opts = {"resolver": resolver(answers), "ssl_context": ca.client_context()}
    async with client(LOOPBACK, **opts) as c:
        response = await c.get(server.url_for("/v.mp4", host="media.example.com"))
        assert response.content == b"video"
        # The same address under another name: the certificate does not match that name.
        with pytest.raises(httpx.ConnectError):
            await c.get(server.url_for("/v.mp4", host="other.example.com"))
    assert server.sni[0] == "media.example.com"
    assert server.requests[0].headers["host"] == f"media.example.com:{server.port}"


async def test_an_unresolvable_name_is_a_connect_error_not_a_refusal() -> None:
    async with client(STRICT, resolver=resolver({})) as c:
        with pytest.raises(httpx.ConnectError) as info:
            await c.get("http://nowhere.example.com/")
    assert not isinstance(info.value, AddressRefused)
    assert "cannot resolve nowhere.example.com" in str(info.value)


def test_the_client_will_not_take_a_transport_or_the_environment() -> None:
    for key in ("transport", "trust_env", "proxy", "verify", "mounts"):
        with pytest.raises(TypeError):
            client(STRICT, **{key: None})
