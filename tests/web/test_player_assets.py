"""hls.js is vendored, pinned and intact: the version and SHA-256 reviewed on upgrade.

``ops/vendor-hlsjs.sh`` copies it from the npm registry after checking the registry's
integrity hash and writes ``hls.js.json``; an upgrade changes PINNED there and here.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "vvtv" / "web" / "static" / "vendor"
SCRIPT = ROOT / "ops" / "vendor-hlsjs.sh"

PINNED = "1.7.4"
HLS_MIN_SHA256 = "cfc70cc9e9fc63d071919e087670abc760c8fd1bc889b88588026e4d22193bbe"
REGISTRY_INTEGRITY = (
    "sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70Gwef"
    "NEUmHQeNGyjC8U62+bruqW/Tpm+tg=="
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_vendored_hlsjs_is_the_pinned_release_byte_for_byte() -> None:
    manifest = json.loads((VENDOR / "hls.js.json").read_text())
    assert manifest["package"] == "hls.js"
    assert manifest["version"] == PINNED
    assert manifest["registry_integrity"] == REGISTRY_INTEGRITY
    assert sha256(VENDOR / "hls.min.js") == HLS_MIN_SHA256
    for name, digest in manifest["sha256"].items():
        assert sha256(VENDOR / name) == digest, name
    # The build says which version it is (Hls.version; the browser tests read it too).
    assert f'"{PINNED}"' in (VENDOR / "hls.min.js").read_text()


def test_its_licence_sits_beside_it() -> None:
    manifest = json.loads((VENDOR / "hls.js.json").read_text())
    assert manifest["license"] == "Apache-2.0"
    licence = (VENDOR / "hls.js.LICENSE.txt").read_text()
    assert "Apache License, Version 2.0" in licence


def test_the_vendoring_script_pins_the_same_version() -> None:
    text = SCRIPT.read_text()
    assert re.search(rf"^PINNED={re.escape(PINNED)}$", text, re.M)
    assert "npm pack" in text and "dist.integrity" in text


def test_the_files_are_packaged_with_vvtv() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"web/static/vendor/*"' in pyproject


def test_the_edge_pins_the_same_hlsjs() -> None:
    """The Worker (cloud/worker) serves hls.js from npm: viewers get one version everywhere."""
    package = json.loads((ROOT / "cloud" / "worker" / "package.json").read_text())
    lock = json.loads((ROOT / "cloud" / "worker" / "package-lock.json").read_text())
    assert package["dependencies"]["hls.js"] == PINNED
    locked = lock["packages"]["node_modules/hls.js"]
    assert (locked["version"], locked["integrity"]) == (PINNED, REGISTRY_INTEGRITY)
