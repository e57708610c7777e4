"""The chunked AES-GCM payload: any split of any length round-trips; any cut or swap fails."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vvtv.backup import BackupVerifyError
from vvtv.backup.secure import TAG_SIZE, decrypted_blocks, encrypt_stream

CHUNK = 16
KEY = AESGCM(bytes(32))
PREFIX = bytes(7)


def encrypt(blocks: list[bytes]) -> bytes:
    out = io.BytesIO()
    encrypt_stream(out, KEY, PREFIX, iter(blocks), chunk_size=CHUNK)
    return out.getvalue()


def decrypt(tmp: Path, payload: bytes) -> bytes:
    path = tmp / f"payload-{secrets.token_hex(4)}.enc"
    path.write_bytes(payload)
    return b"".join(decrypted_blocks(path, KEY, PREFIX, chunk_size=CHUNK))


# tmp_path is shared by the examples on purpose: each writes its own uniquely named file.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(blocks=st.lists(st.binary(max_size=70), max_size=6))
def test_any_plaintext_in_any_blocks_round_trips(tmp_path: Path, blocks: list[bytes]) -> None:
    payload = encrypt(blocks)
    data = b"".join(blocks)
    assert len(payload) == (len(data) // CHUNK + 1) * TAG_SIZE + len(data)
    assert decrypt(tmp_path, payload) == data


@pytest.mark.parametrize("length", [0, 5, CHUNK, 2 * CHUNK, 2 * CHUNK + 3])
def test_a_payload_cut_at_any_chunk_boundary_fails(tmp_path: Path, length: int) -> None:
    payload = encrypt([secrets.token_bytes(length)])
    step = CHUNK + TAG_SIZE
    for cut in range(0, len(payload), step):
        with pytest.raises(BackupVerifyError, match="failed authentication"):
            decrypt(tmp_path, payload[:cut])


def test_swapped_chunks_fail(tmp_path: Path) -> None:
    payload = encrypt([secrets.token_bytes(3 * CHUNK)])
    step = CHUNK + TAG_SIZE
    swapped = payload[step : 2 * step] + payload[:step] + payload[2 * step :]
    with pytest.raises(BackupVerifyError, match="chunk 0"):
        decrypt(tmp_path, swapped)
