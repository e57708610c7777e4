"""How many live websockets are open, in all and per client address, and who may open one.

A dashboard tab holds three (buffer, alerts, runtime). The caps keep one client, or
everyone together, from holding enough of them to matter: each is a subscription the
publisher fans out to, a socket and a task. Over a cap the handshake completes and the
socket is closed at once with 1013 (try again later) and a reason saying which cap and
which setting raises it: a browser shows a close reason to the page, never the body of a
refused handshake. Behind a reverse proxy every client has the proxy's address: raise
the per-address cap there (``ops/runbook.md``).
"""

from __future__ import annotations

TRY_AGAIN_LATER = 1013
MAX_REASON_BYTES = 123  # a close frame's reason (RFC 6455 §5.5: 125 bytes with the code)


class LiveClients:
    def __init__(self, max_clients: int, max_per_address: int) -> None:
        if max_clients < 1 or max_per_address < 1:
            raise ValueError(
                f"caps must be >= 1, got {max_clients} in all, {max_per_address} per address"
            )
        self.max_clients = max_clients
        self.max_per_address = max_per_address
        self._open: dict[str, int] = {}
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def admit(self, address: str) -> tuple[str, str] | None:
        """Count a new live stream from ``address``; else (kind, close reason)."""
        if self._total >= self.max_clients:
            reason = f"too many live streams (at most {self.max_clients}: VVTV_WS_MAX_CLIENTS)"
            return "ws_cap", _short(reason)
        if self._open.get(address, 0) >= self.max_per_address:
            reason = (
                f"too many live streams from {address} (at most {self.max_per_address}: "
                "VVTV_WS_MAX_CLIENTS_PER_ADDRESS)"
            )
            return "ws_address_cap", _short(reason)
        self._open[address] = self._open.get(address, 0) + 1
        self._total += 1
        return None

    def leave(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count < 0:
            raise ValueError(f"no live stream open from {address}")
        if count:
            self._open[address] = count
        else:
            del self._open[address]
        self._total -= 1


def _short(reason: str) -> str:
    raw = reason.encode()
    if len(raw) <= MAX_REASON_BYTES:
        return reason
    return raw[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."
