"""The address policy: only public unicast addresses, unless the card allows a range."""

from __future__ import annotations

import pytest

from vvtv.guard.addresses import STRICT, AddressPolicy, AddressPolicyError, parse_networks


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.10", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"),
        ("198.18.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        # IPv4 smuggled inside IPv6 is judged as the IPv4 address it reaches.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused_by_default_and_the_refusal_names_the_kind(
    address: str, kind: str
) -> None:
    why = STRICT.refusal(address)
    assert why is not None
    assert kind in why
    assert "search_policy.allow_private_addresses" in why


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert STRICT.refusal(address) is None


def test_a_listed_range_is_allowed_and_nothing_else_is() -> None:
    policy = AddressPolicy.from_entries(["127.0.0.0/8", "192.168.1.0/24", "fd00::/8"])
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("192.168.1.20") is None
    assert policy.refusal("fd00::5") is None
    assert policy.refusal("::ffff:127.0.0.1") is None  # the same loopback, mapped
    assert policy.refusal("192.168.2.1") is not None
    assert policy.refusal("169.254.169.254") is not None
    assert policy.refusal("::1") is not None  # IPv6 loopback is another range


def test_a_bare_address_allows_that_address_only() -> None:
    policy = AddressPolicy.from_entries(["10.0.0.5"])
    assert policy.refusal("10.0.0.5") is None
    assert policy.refusal("10.0.0.6") is not None


def test_something_that_is_not_an_address_is_refused() -> None:
    assert STRICT.refusal("example.com") == "'example.com' is not an IP address"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.1/8", "has host bits set (got '10.0.0.1/8'); did you mean 10.0.0.0/8?"),
        ("lan", "must be an IP address or CIDR range like 192.168.1.0/24 (got 'lan'"),
        ("10.0.0.0/33", "must be an IP address or CIDR range"),
        ("0.0.0.0/0", "0.0.0.0/0 would allow every IPv4 address"),
        ("::/0", "::/0 would allow every IPv6 address"),
        ("", "must be an IP address or CIDR range"),
    ],
)
def test_unusable_entries_are_errors_naming_the_entry(entry: str, message: str) -> None:
    _, errors, _ = parse_networks(["127.0.0.0/8", entry], "search_policy.allow_private_addresses")
    (error,) = errors
    assert error.startswith("search_policy.allow_private_addresses[1]")
    assert message in error
    with pytest.raises(AddressPolicyError):
        AddressPolicy.from_entries([entry])


def test_a_public_range_is_a_warning_not_an_error() -> None:
    networks, errors, warnings = parse_networks(["8.8.8.0/24"], "f")
    assert errors == []
    assert warnings == ["f[0] 8.8.8.0/24 is public: public addresses need no entry"]
    assert [str(n) for n in networks] == ["8.8.8.0/24"]
