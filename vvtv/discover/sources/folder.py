"""A local folder of media files → candidates.

Every file with a media extension (``MEDIA_EXTENSIONS``) directly in the folder is a
candidate; hidden files and partial downloads are skipped. Its media URL is the
file's ``file://`` URL (``Path.as_uri()``), which ``vvtv.discover.screening.url_allowed``
accepts only inside a folder source of the OwnerCard.

- title: the container's ``title`` tag (ffprobe), else the file name without its
  extension, underscores as spaces;
- duration, and quality signals (``"<h>p"``, ``"4k"`` at ≥ 2160, ``"stereo"``): ffprobe;
- tags and theme: a sidecar file next to it, ``<stem>.yaml``, ``<stem>.yml`` or
  ``<stem>.json``, holding a mapping with any of ``title`` (overrides the metadata),
  ``theme``, ``tags`` (a list or a comma-separated string), ``quality`` (a list);
  without a sidecar, the container's genre/keywords tags.

A file that ffprobe cannot read still becomes a candidate without a duration: the
screening step then rejects it with an audited reason (HD not confirmed, or duration
unknown). A malformed sidecar skips only its own file and reports a ``SourceError``
naming the sidecar and the field (audited as ``ITEM_REJECTED``): one larger than
``MAX_SIDECAR_BYTES``, JSON nested too deeply or holding absurd numbers, YAML that PyYAML
cannot build (an integer of 5,000 digits, a list as a mapping key, 10,000 nested
brackets) included. A missing or unreadable folder fails the whole source.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio
import yaml

from vvtv.core import offload
from vvtv.discover.sources import values
from vvtv.discover.sources.candidate import LOCAL_DOMAIN, Candidate, SourceError, SourceFailure
from vvtv.media.probe import ProbeError, ProbeResult, probe

MEDIA_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mkv", ".mov", ".webm", ".ts", ".mts", ".m2ts", ".avi", ".mpg", ".mpeg"}
)
SIDECAR_EXTENSIONS = (".yaml", ".yml", ".json")
_PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
#: A sidecar holds a title, a theme and a few tags: anything larger is not one.
MAX_SIDECAR_BYTES = 64 * 1024

Prober = Callable[[str], Awaitable[ProbeResult]]


@attrs.frozen
class Sidecar:
    """What a sidecar file says about its media file."""

    title: str | None = None
    theme: str = ""
    tags: tuple[str, ...] = ()
    quality: tuple[str, ...] = ()


class SidecarError(ValueError):
    """A sidecar that cannot be used; the message names the file and the problem, ``field``
    the value at fault (``"sidecar"`` when the file as a whole is)."""

    def __init__(self, message: str, field: str = "sidecar") -> None:
        super().__init__(message)
        self.field = field


def _string_list(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        raise SidecarError(f"{path}: {key!r} must be a list of strings", key)
    return values.tag_list(str(v) for v in value)


def _load(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise SidecarError(f"{path}: cannot read ({exc})") from None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"{path}: larger than {MAX_SIDECAR_BYTES} bytes, not a sidecar")
    kind = path.suffix[1:].upper()
    try:
        text = raw.decode("utf-8")
        if path.suffix == ".json":
            return values.load_json(text)
        # PyYAML composes recursively, and slowly: 3,000 nested brackets take seconds.
        if values.nesting_depth(text) > values.MAX_JSON_DEPTH:
            raise values.TooDeep(f"nested more than {values.MAX_JSON_DEPTH} levels deep")
        return yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise SidecarError(f"{path}: cannot read ({exc})") from None
    except values.TooDeep as exc:
        raise SidecarError(f"{path}: {kind} refused: {exc}") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SidecarError(f"{path}: malformed {kind}: {exc}") from None
    except RecursionError:
        # PyYAML composes recursively: thousands of nested [ or { exhaust the stack.
        raise SidecarError(f"{path}: {kind} refused: nested too deeply") from None
    except (ValueError, TypeError) as exc:
        # A scalar PyYAML cannot convert (an integer of 5,000 digits) or a mapping key
        # Python cannot hash (``? [a, b]``).
        raise SidecarError(f"{path}: {kind} refused: unreadable value ({exc})") from None


def read_sidecar(path: Path) -> Sidecar:
    """Parse a YAML or JSON sidecar; ``SidecarError`` naming the file when it is malformed."""
    data = _load(path)
    if data is None:
        return Sidecar()
    if not isinstance(data, dict):
        raise SidecarError(f"{path}: must hold a mapping, not {type(data).__name__}")
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        raise SidecarError(f"{path}: 'title' must be a string", "title")
    theme = data.get("theme", "")
    if theme is None:
        theme = ""
    if not isinstance(theme, str):
        raise SidecarError(f"{path}: 'theme' must be a string", "theme")
    title = values.title_text(title) if title else ""
    return Sidecar(
        title=title or None,
        theme=values.plain_text(theme),
        tags=_string_list(data.get("tags"), "tags", path),
        quality=_string_list(data.get("quality"), "quality", path),
    )


def find_sidecar(media: Path) -> Path | None:
    for ext in SIDECAR_EXTENSIONS:
        candidate = media.with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


def is_media_file(path: Path) -> bool:
    name = path.name
    return (
        not name.startswith(".")
        and path.suffix.lower() in MEDIA_EXTENSIONS
        and not name.lower().endswith(_PARTIAL_SUFFIXES)
        and path.is_file()
    )


def _list_folder(
    folder: Path, source_name: str
) -> tuple[list[tuple[Path, Sidecar | None]], list[SourceError]]:
    """The media files of ``folder`` with their sidecars (blocking: run in a thread)."""
    if not folder.is_dir():
        raise SourceFailure(SourceError(source_name, LOCAL_DOMAIN, f"{folder}: not a directory"))
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise SourceFailure(
            SourceError(source_name, LOCAL_DOMAIN, f"{folder}: cannot list ({exc})")
        ) from None
    files: list[tuple[Path, Sidecar | None]] = []
    errors: list[SourceError] = []
    for path in entries:
        if not is_media_file(path):
            continue
        sidecar_path = find_sidecar(path)
        sidecar = None
        if sidecar_path is not None:
            try:
                sidecar = read_sidecar(sidecar_path)
            except SidecarError as exc:
                errors.append(
                    SourceError(
                        source_name, LOCAL_DOMAIN, str(exc), item=path.name, field=exc.field
                    )
                )
                continue
        files.append((path, sidecar))
    return files, errors


def _quality(info: ProbeResult | None) -> list[str]:
    if info is None:
        return []
    return values.quality_signals(values.height_number(info.height), info.audio_channels)


def _title_from_name(path: Path) -> str:
    return " ".join(path.stem.replace("_", " ").split()) or path.name


async def scan_folder(
    folder: str | Path,
    *,
    source_name: str,
    prober: Prober = probe,
    probe_concurrency: int = 2,
) -> tuple[list[Candidate], list[SourceError]]:
    """The candidates of a folder source, and per-file errors (bad sidecars).

    Raises ``SourceFailure`` when the folder itself is missing or unreadable.
    """
    root = Path(folder).expanduser().resolve()
    files, errors = await offload.run_sync(_list_folder, root, source_name)
    limiter = trio.CapacityLimiter(max(1, probe_concurrency))
    candidates: list[Candidate | None] = [None] * len(files)

    async def examine(i: int, path: Path, sidecar: Sidecar | None) -> None:
        async with limiter:
            try:
                info: ProbeResult | None = await prober(str(path))
            except ProbeError:
                info = None  # screening rejects it with the probe's reason, audited
        side = sidecar or Sidecar()
        title = side.title or (info.title if info else None) or _title_from_name(path)
        tags = side.tags or (info.tags if info else ())
        candidates[i] = Candidate(
            title=title,
            media_url=path.as_uri(),
            source_name=source_name,
            duration_sec=info.duration_sec if info else None,
            tags=tags,
            theme=side.theme,
            quality=[*_quality(info), *side.quality],
        )

    async with trio.open_nursery() as nursery:
        for i, (path, sidecar) in enumerate(files):
            nursery.start_soon(examine, i, path, sidecar)
    return [c for c in candidates if c is not None], errors
