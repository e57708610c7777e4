"""Which resolved addresses a connection for untrusted content may reach.

A feed or media host is allowlisted by *name*; the name can resolve to anything. A
hostile or careless DNS answer (``media.example.com → 169.254.169.254``), a redirect to
``http://127.0.0.1:…`` or an IP literal in a feed would otherwise let a content provider
make the channel machine talk to its own services, the cloud metadata endpoint or the
LAN. So every address is checked after resolution, before the connection: anything
that is not a public unicast address is refused, unless the OwnerCard lists a range
for it in ``search_policy.allow_private_addresses`` (a LAN media server, a loopback
test server).

The blocked ranges are spelled out below rather than taken from ``ipaddress``'s
``is_private``/``is_global``, so a refusal can name the kind of address (an operator
reading ``169.254.169.254 is link-local`` knows what happened) and the list does not
move with the Python version; ``is_global`` is still the last word for anything the
table misses. IPv4 addresses embedded in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) are judged as the IPv4 address they reach.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import attrs

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# (range, what it is). Checked in order; the first match names the refusal.
BLOCKED_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), kind)
    for cidr, kind in (
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
        ("192.0.2.0/24", "reserved (documentation)"),
        ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "reserved (benchmarking)"),
        ("198.51.100.0/24", "reserved (documentation)"),
        ("203.0.113.0/24", "reserved (documentation)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (including broadcast)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "reserved (IPv4-compatible)"),
        ("64:ff9b:1::/48", "reserved (local-use NAT64)"),
        ("100::/64", "reserved (discard-only)"),
        ("2001::/32", "reserved (Teredo)"),
        ("2001:db8::/32", "reserved (documentation)"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private (site-local)"),
        ("ff00::/8", "multicast"),
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressPolicyError(ValueError):
    """Entries of ``allow_private_addresses`` that are not usable; one message per entry."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64 or 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def blocked_kind(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is, or None for a public unicast address."""
    if isinstance(ip, IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            kind = blocked_kind(inner)
            return None if kind is None else f"{kind}, via {ip}"
    for network, kind in BLOCKED_RANGES:
        if ip.version == network.version and ip in network:
            return kind
    return None if ip.is_global else "reserved"


def parse_networks(
    entries: Iterable[str], field: str = "allow_private_addresses"
) -> tuple[tuple[IPNetwork, ...], list[str], list[str]]:
    """Parse CIDR entries (a bare address means that one address).

    Returns the networks, the errors and the warnings, each message naming ``field[i]``.
    An entry with host bits set (``10.0.0.1/8``) is an error, not silently widened: it
    is usually a typo, and the operator should see what range they really allow. A
    prefix of length 0 would switch the policy off for a whole address family: refused.
    """
    networks: list[IPNetwork] = []
    errors: list[str] = []
    warnings: list[str] = []
    for i, raw in enumerate(entries):
        where = f"{field}[{i}]"
        text = str(raw).strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                errors.append(
                    f"{where} must be an IP address or CIDR range like 192.168.1.0/24 "
                    f"(got {raw!r}: {exc})"
                )
            else:
                errors.append(f"{where} has host bits set (got {raw!r}); did you mean {loose}?")
            continue
        if network.prefixlen == 0:
            errors.append(
                f"{where} {network} would allow every IPv{network.version} address; "
                "list only the ranges your sources live in"
            )
            continue
        if (
            blocked_kind(network.network_address) is None
            and blocked_kind(network.broadcast_address) is None
        ):
            warnings.append(f"{where} {network} is public: public addresses need no entry")
        networks.append(network)
    return tuple(networks), errors, warnings


@attrs.frozen
class AddressPolicy:
    """Public unicast addresses, plus the non-public ranges in ``allowed``."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        """From the card's CIDR strings; ``AddressPolicyError`` if one is unusable."""
        networks, errors, _ = parse_networks(entries)
        if errors:
            raise AddressPolicyError(errors)
        return cls(networks)

    def refusal(self, address: str | IPAddress) -> str | None:
        """None when ``address`` may be connected to; otherwise why not, in words."""
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, IPv6Address) and ip.scope_id:
            ip = IPv6Address(str(ip).split("%", 1)[0])
        kind = blocked_kind(ip)
        if kind is None:
            return None
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                candidates.append(inner)
        if any(c in net for c in candidates for net in self.allowed if c.version == net.version):
            return None
        return (
            f"{ip} is {kind}; allow it in search_policy.allow_private_addresses "
            "if this source really lives there"
        )


STRICT = AddressPolicy()
"""No private range allowed: what applies when nothing says otherwise."""
