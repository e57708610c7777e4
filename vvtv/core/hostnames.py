"""Host names, ``Host`` headers and web origins, parsed strictly.

Shared by the settings (``VVTV_PUBLIC_HOSTS``, ``VVTV_ALLOWED_ORIGINS``, the bind address)
and the web layer's Host and Origin checks (``vvtv.web.hosts``), so a value the settings
accept is exactly a value the checks understand.
"""

from __future__ import annotations

import ipaddress
import re

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# DNS labels (underscores too: container hosts have them).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[^/:\[\]]+)(?::([0-9]{1,5}))?/?")


def normal_name(name: str) -> str | None:
    """A host name or IP literal, lowercased, without a trailing dot or IPv6 brackets;
    None if it is neither a DNS name nor an IP address."""
    name = name.strip().lower().removesuffix(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
        return name if is_ip(name) and ":" in name else None
    if is_ip(name) or (len(name) <= 253 and _NAME.fullmatch(name)):
        return name
    return None


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header -> (normal name, port or None); None if malformed."""
    value = value.strip()
    name, port = value, None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port = _port(rest[1:])
            if port is None:
                return None
    elif value.count(":") == 1:
        name, _, digits = value.partition(":")
        port = _port(digits)
        if port is None:
            return None
    normal = normal_name(name)
    return None if normal is None else (normal, port)


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """``scheme://host[:port]`` -> (scheme, normal host, port with the scheme's default);
    None for anything else (``null``, a path, a query, another scheme)."""
    match = _ORIGIN.fullmatch(value.strip().lower())
    if match is None:
        return None
    scheme, host, digits = match.groups()
    name = normal_name(host)
    port = DEFAULT_PORTS[scheme] if digits is None else _port(digits)
    if name is None or port is None:
        return None
    return scheme, name, port


def is_ip(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address literal (without brackets)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _port(digits: str) -> int | None:
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 5:
        return None
    port = int(digits)
    return port if 0 < port <= 65535 else None


def is_loopback(name: str) -> bool:
    """Whether ``name`` (a host name or IP literal, brackets allowed) is this machine only:
    ``localhost`` or an address in 127.0.0.0/8 or ::1."""
    normal = normal_name(name)
    if normal is None:
        return False
    if normal == "localhost":
        return True
    try:
        return ipaddress.ip_address(normal).is_loopback
    except ValueError:
        return False
