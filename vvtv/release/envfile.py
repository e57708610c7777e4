"""``key=value`` files (``summary.txt``, ``result.env``, promotion records), as the original wrote.

Values are single-line; a newline in a value would forge another key, so it is
replaced by a space. Files are written atomically (temp file, fsync, rename) so a
reader never sees half a verdict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from vvtv.release.errors import ReleaseError


def render_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ",".join(render_value(v) for v in value)
    return " ".join(str(value).splitlines())


def write_env(path: Path, fields: Mapping[str, object]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{k}={render_value(v)}\n" for k, v in fields.items())
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_env(path: Path) -> dict[str, str]:
    """Parse a ``key=value`` file; ``ReleaseError`` (usage) naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(
            f"{path} not found: pass a canary result such as runtime/canary/<ts>/result.env",
            2,
        )
    fields: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise ReleaseError(f"{path}:{number}: expected key=value, got {stripped[:60]!r}", 2)
        fields[key.strip()] = value.strip()
    return fields


def unique_dir(root: Path, name: str) -> Path:
    """Create ``root/name`` (``name-2``... if taken) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ReleaseError(f"no free directory name for {name} in {root}")


def unique_file(root: Path, stem: str, suffix: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = root / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise ReleaseError(f"no free file name for {stem}{suffix} in {root}")
