"""An output of the card made ready to push: where to, in which container, with which secret.

``make_target(spec, keys, root)`` reads the stream key (from the environment variables
``Settings.output_keys`` holds, or from ``key_file``) and says how ffmpeg must receive it:
never on its command line, where any user of the machine can read it (``ps``,
``/proc/<pid>/cmdline``), but as an option in the file ffmpeg reads at start
(``vvtv.outputs.command``). Which option carries it:

- RTMP(S): ``rtmp_playpath``, the stream name that follows the application in the URL
  (``rtmp://a.rtmp.youtube.com/live2`` + key);
- SRT: ``streamid`` (how YouTube and most SRT ingests name a stream; the key is the whole
  value the platform gives, e.g. ``#!::r=…,m=publish``) or ``passphrase``.

``TargetError`` says what is wrong without ever quoting the key.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from vvtv.ownercard.card import OUTPUT_KEY_USES, OutputSpec

#: A key file larger than this is not a key (and is not read whole into memory).
KEY_FILE_MAX = 4096
KEY_MAX = 900  # a line of ffmpeg's option file, with the option's name, fits 1,000 bytes
#: SRT's own limits on a passphrase (libsrt refuses anything else).
PASSPHRASE_LEN = (10, 79)
_OPTION = {"stream": "rtmp_playpath", "streamid": "streamid", "passphrase": "passphrase"}
_MUXER = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts"}


class TargetError(ValueError):
    """An output that cannot be pushed as configured (its key is missing or unreadable)."""


@attrs.frozen
class Target:
    """One push, ready for ffmpeg. ``secrets`` are ``(option, value)`` pairs for its option
    file; ``display`` is the URL as the API, logs and metrics may show it."""

    name: str
    url: str
    muxer: str
    secrets: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    options: tuple[tuple[str, str], ...] = ()  # not secret: on the command line
    display: str = ""

    @property
    def protocol(self) -> str:
        return urlsplit(self.url).scheme

    def secret_values(self) -> tuple[str, ...]:
        """What must never appear in anything the channel shows (see ``redact``)."""
        return tuple(value for _, value in self.secrets)


def display_url(url: str) -> str:
    """``scheme://host[:port]/application`` of a push URL: what may be shown anywhere.

    Whatever follows the application (a stream name, which may be a key someone put in
    the card despite the warning) is cut off; an SRT URL's query is dropped."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    path = ""
    if parts.scheme in ("rtmp", "rtmps"):
        segments = parts.path.strip("/").split("/")
        path = "/" + segments[0] + ("/…" if len(segments) > 1 else "")
    return f"{parts.scheme}://{netloc}{path}"


def make_target(spec: OutputSpec, keys: Mapping[str, str], root: Path) -> Target:
    """The push for a (valid) card output; ``TargetError`` when its key cannot be had.

    ``keys`` are ``Settings.output_keys``; a relative ``key_file``/``ca_file`` is relative
    to ``root`` (the project root, like the card's folder sources)."""
    scheme = urlsplit(spec.url).scheme
    uses = OUTPUT_KEY_USES.get(scheme)
    if uses is None:
        raise TargetError(f"output {spec.name}: unsupported URL scheme {scheme!r}")
    secrets: list[tuple[str, str]] = []
    key = _read_key(spec, keys, root)
    if key is not None:
        use = spec.key_as or uses[0]
        if use == "passphrase" and not PASSPHRASE_LEN[0] <= len(key) <= PASSPHRASE_LEN[1]:
            low, high = PASSPHRASE_LEN
            raise TargetError(
                f"output {spec.name}: an SRT passphrase has {low} to {high} characters "
                f"(the key from {_key_source(spec)} has {len(key)})"
            )
        secrets.append((_OPTION[use], key))
    options: list[tuple[str, str]] = []
    if scheme == "rtmps":
        # ffmpeg's TLS does not check the server's certificate unless asked: a key sent to
        # whoever answers for the host name would be a key handed to anyone on the path.
        options.append(("tls_verify", "1"))
        if spec.ca_file:
            options.append(("ca_file", str(_resolve(spec.ca_file, root))))
    return Target(
        name=spec.name,
        url=spec.url,
        muxer=_MUXER[scheme],
        secrets=tuple(secrets),
        options=tuple(options),
        display=display_url(spec.url),
    )


def _key_source(spec: OutputSpec) -> str:
    return spec.key_env if spec.key_env else f"key_file {spec.key_file}"


def _resolve(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _read_key(spec: OutputSpec, keys: Mapping[str, str], root: Path) -> str | None:
    if spec.key_env:
        key = keys.get(spec.key_env)
        if not key:
            raise TargetError(
                f"output {spec.name}: the environment variable {spec.key_env} is not set "
                "(the daemon reads it at start: set it and restart)"
            )
        return _check_key(spec, key)
    if not spec.key_file:
        return None
    path = _resolve(spec.key_file, root)
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TargetError(f"output {spec.name}: key_file {path} is not a regular file")
            data = f.read(KEY_FILE_MAX + 1)
    except OSError as exc:
        raise TargetError(
            f"output {spec.name}: cannot read key_file {path} ({exc.strerror})"
        ) from None
    if len(data) > KEY_FILE_MAX:
        raise TargetError(f"output {spec.name}: key_file {path} is larger than a key")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TargetError(f"output {spec.name}: key_file {path} is not UTF-8 text") from None
    if not text:
        raise TargetError(f"output {spec.name}: key_file {path} is empty")
    return _check_key(spec, text)


def _check_key(spec: OutputSpec, key: str) -> str:
    if any(c in key for c in "\r\n\0") or len(key.encode()) > KEY_MAX:
        raise TargetError(
            f"output {spec.name}: the key from {_key_source(spec)} must be one line of at most "
            f"{KEY_MAX} bytes"
        )
    return key


def key_file_is_private(spec: OutputSpec, root: Path) -> bool:
    """Whether a ``key_file`` is readable by its owner only (a warning otherwise)."""
    if not spec.key_file:
        return True
    try:
        mode = _resolve(spec.key_file, root).stat().st_mode
    except OSError:
        return True  # make_target says what is wrong with it
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)
