"""Request signing shared by the control API, the webhook and cloud sync (SPEC §3).

Compatible with the original clients: ``Authorization: Bearer <token>``,
``x-vvtv-ts: <unix seconds>`` and ``x-vvtv-signature: <hex HMAC-SHA256>`` over
``METHOD + "\\n" + PATH + "\\n" + TS + "\\n" + BODY``, PATH without its query string.
Unlike the original, BODY is the real request body, every comparison is
constant-time, and a signature is accepted only once inside its window.

An optional nonce (``x-vvtv-nonce``, 8-128 characters of ``A-Z a-z 0-9 _ -``) lets a client
repeat the same request within one second: it is signed as ``TS + ":" + NONCE`` in place of
``TS`` (``signed_ts``), so without one the signed string is exactly the original's. The edge
(cloud/worker/PROTOCOL.md §2) accepts it; the channel signs every request to the edge with a
fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol

TS_HEADER = "x-vvtv-ts"
SIGNATURE_HEADER = "x-vvtv-signature"
NONCE_HEADER = "x-vvtv-nonce"
NONCE = re.compile(r"[A-Za-z0-9_-]{8,128}")
WINDOW_SECONDS = 300
# Unix seconds have 10 digits until the year 2286; 12 leave room and keep ``int()`` of an
# attacker's 5,000-digit "timestamp" from ever running (Python refuses it with ValueError).
MAX_TS_DIGITS = 12


class Headers(Protocol):
    """Request headers: a ``Mapping[str, str]``, or a web framework's multi-valued headers."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class AuthError(Exception):
    """A request that must be refused with 401.

    ``reason`` says why in words and ``kind`` names the failure in a few stable letters
    (``missing_header``, ``bad_token``, ``bad_timestamp``, ``stale_timestamp``,
    ``bad_nonce``, ``bad_signature``, ``replayed``): both are for the operator (log, audit,
    metrics), never for the caller, who learns only that it was refused (an answer that told a wrong
    token from a wrong signature would tell an attacker when the token is right). Neither
    ever holds a header's value.
    """

    def __init__(self, reason: str, kind: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def canonical(method: str, path: str, ts: str, body: bytes) -> bytes:
    path = path.split("?", 1)[0]
    return b"\n".join([method.upper().encode(), path.encode(), ts.encode(), body])


def sign(secret: str, method: str, path: str, ts: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical(method, path, ts, body), hashlib.sha256).hexdigest()


def signed_ts(ts: str, nonce: str | None = None) -> str:
    """The TS field of the signed string: ``TS``, or ``TS:NONCE`` when a nonce is sent."""
    return ts if nonce is None else f"{ts}:{nonce}"


def new_nonce() -> str:
    """A fresh random nonce (24 characters of ``A-Z a-z 0-9 _ -``)."""
    return secrets.token_urlsafe(18)


def signed_headers(
    token: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    now: float,
    *,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request at unix time ``now`` (three, or four with
    a nonce)."""
    ts = str(int(now))
    headers = {
        "Authorization": f"Bearer {token}",
        TS_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, method, path, signed_ts(ts, nonce), body),
    }
    if nonce is not None:
        headers[NONCE_HEADER] = nonce
    return headers


class ReplayMemory(Protocol):
    """Where accepted signatures are remembered for the length of the window."""

    def remember_signature(self, signature: str, ts: int, forget_before: int) -> bool:
        """Record ``signature`` (stamped ``ts``); False if it was already recorded.
        Entries stamped before ``forget_before`` may be dropped."""
        ...


class RecentSignatures:
    """An in-process replay memory, bounded so a flood of valid requests cannot grow it
    without limit. It forgets on restart: the daemon uses the store's instead
    (``Store.remember_signature``); this one serves tools and tests without a database."""

    def __init__(self, max_remembered: int = 100_000) -> None:
        self._max = max_remembered
        self._seen: OrderedDict[str, int] = OrderedDict()

    def remember_signature(self, signature: str, ts: int, forget_before: int) -> bool:
        # Insertion order is roughly timestamp order; stop at the first fresh one.
        while self._seen:
            key, stamped = next(iter(self._seen.items()))
            if stamped >= forget_before:
                break
            del self._seen[key]
        if signature in self._seen:
            return False
        self._seen[signature] = ts
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True


class Verifier:
    """Checks signed requests and refuses a signature accepted before (a replay).

    The replay memory only needs to cover the acceptance window: a signature older
    than that is refused by its timestamp anyway.
    """

    def __init__(
        self,
        token: str,
        secret: str,
        window: int = WINDOW_SECONDS,
        memory: ReplayMemory | None = None,
    ) -> None:
        self._token = token
        self._secret = secret
        self._window = window
        self._memory = memory if memory is not None else RecentSignatures()

    def verify(self, method: str, path: str, headers: Headers, body: bytes, now: float) -> None:
        """Raise ``AuthError`` unless the request is authentic, fresh and not replayed."""
        lower = {k.lower(): v for k, v in headers.items()}
        auth = lower.get("authorization")
        ts = lower.get(TS_HEADER)
        signature = lower.get(SIGNATURE_HEADER)
        if auth is None:
            raise AuthError("missing Authorization header", "missing_header")
        if ts is None:
            raise AuthError(f"missing {TS_HEADER} header", "missing_header")
        if signature is None:
            raise AuthError(f"missing {SIGNATURE_HEADER} header", "missing_header")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self._token.encode()
        ):
            raise AuthError("invalid token", "bad_token")
        if not (ts.isascii() and ts.isdigit() and len(ts) <= MAX_TS_DIGITS):
            raise AuthError(
                f"{TS_HEADER} must be unix seconds (1 to {MAX_TS_DIGITS} digits)", "bad_timestamp"
            )
        if abs(now - int(ts)) > self._window:
            raise AuthError(f"{TS_HEADER} outside the {self._window}s window", "stale_timestamp")
        nonce = lower.get(NONCE_HEADER)
        if nonce is not None and not NONCE.fullmatch(nonce):
            raise AuthError(
                f"{NONCE_HEADER} must be 8 to 128 characters of A-Z a-z 0-9 _ -", "bad_nonce"
            )
        expected = sign(self._secret, method, path, signed_ts(ts, nonce), body)
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            raise AuthError("signature mismatch", "bad_signature")
        if not self._memory.remember_signature(
            expected, int(ts), forget_before=math.floor(now) - self._window
        ):
            raise AuthError("replayed signature", "replayed")
