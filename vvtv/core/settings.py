"""Every ``VVTV_*`` environment variable in one typed, immutable value (SPEC §4).

This module is the only reader of the process environment (a test holds every other
module to that): ``Settings.from_env()`` parses and type-checks it, and
``process_env()`` is the environment a child process (the daemon started by an operator
command) is given. ``Settings.from_env(env)`` parses a mapping instead; it it never falls back to a
default for a value that is present but malformed (``VVTV_ALERT_QA_MIN=abc`` is an
error naming the variable). ``validate_for_startup()`` then applies SPEC §4's
fail-fast rules outside dev (secrets and cloud configuration). Both raise
``SettingsError`` listing *every* problem at once, so an operator fixes the
environment in one pass.

All runtime paths hang off ``VVTV_RUNTIME_DIR`` (default ``runtime``) unless
their own variable overrides them: the state db, media, HLS output, exports,
backups and keys. ``project_root`` (the runtime dir's parent, normally the repo
root) is what relative OwnerCard source locations resolve against.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

import attrs

from vvtv.core.hostnames import is_loopback, normal_name, parse_origin

DEV_TOKEN = "dev-token"
# More concurrent prepares than this only adds ffmpeg processes competing for the same cores.
MAX_PREPARE_CONCURRENCY = 64
#: Where push outputs' stream keys come from (``outputs[].key_env`` names one of these): a
#: card must not be able to send another secret of the daemon's environment to a server.
OUTPUT_KEY_ENV_PREFIX = "VVTV_OUTPUT_KEY_"
#: A stream key is one line: ffmpeg reads its option file a line of 1,000 bytes at a time.
SECRET_MAX = 900
DEV_SECRET = "dev-secret"
# Outside dev, control and signing secrets are at least this long (a 256-bit HMAC key).
MIN_SECRET_BYTES = 32
GENERATE_SECRET = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'

T = TypeVar("T")


class SettingsError(ValueError):
    """The environment is malformed or, outside dev, unsafe; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid vvtv settings:\n" + "\n".join(f"  - {e}" for e in errors))


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity, e.g. under a systemd CPUAffinity=)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


@attrs.frozen
class Settings:
    """The daemon's and the operator tools' configuration, parsed from the environment."""

    env: str = "dev"
    control_token: str = DEV_TOKEN
    control_secret: str = DEV_SECRET
    runtime_dir: Path = Path("runtime")
    state_db_path: Path | None = None  # VVTV_STATE_DB / VVTV_STATE_DB_PATH; None = under runtime
    # Unset: the first-run card (the demo library, thresholds that fit it); a real channel
    # names its own card (ops/vvtv.env.example), starting from config/owner_card.sample.yaml.
    owner_card_path: Path = Path("config/owner_card.demo.yaml")
    run_once: bool = False
    force_nightly: bool = False
    # --once waits at most this long for its outboxes (cloud reports, webhook) to be
    # delivered before exiting; what is left is counted and the exit code is 1.
    once_drain_secs: float = 60.0
    log_level: str = "INFO"  # VVTV_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR or CRITICAL
    # VVTV_LOG_FORMAT: "json" or "text"; None = JSON lines under systemd, text elsewhere
    log_format: str | None = None
    under_systemd: bool = False  # systemd set JOURNAL_STREAM or INVOCATION_ID for us
    # TZ: the zone the OwnerCard's schedule uses when the card names none
    tz: str | None = None
    api_bind: str = "127.0.0.1:7070"
    api_url: str = "http://127.0.0.1:7070"
    # Where viewers and IPTV apps reach the channel (M3U, XMLTV, HDHomeRun URLs); None =
    # the address the request came to (its Host header).
    public_base_url: str | None = None
    max_download_mb: int = 2048
    # A download must average this many KiB/s once the grace period has passed, and ends
    # by grace + size / rate in total: a host dripping bytes cannot hold the committer.
    download_min_rate_kb_s: int = 256
    download_grace_secs: float = 30.0
    # The HTTP face against browsers and slow clients (vvtv/web/limits.py, ops/runbook.md).
    public_hosts: tuple[str, ...] = ()  # VVTV_PUBLIC_HOSTS: names besides localhost and IPs
    allowed_origins: tuple[str, ...] = ()  # VVTV_ALLOWED_ORIGINS: pages that may open websockets
    http_max_connections: int = 1024
    http_keepalive_secs: float = 5.0  # idle: waiting for a request's headers, or between requests
    http_read_timeout_secs: float = 10.0  # a request's body, from its headers to its end
    http_max_header_bytes: int = 16 * 1024
    http_h2c: bool = False
    ws_max_clients: int = 1024
    ws_max_clients_per_address: int = 64
    ws_max_message_bytes: int = 4096
    # Commit-window items fetched and prepared at once (each runs its own ffmpeg); default:
    # the cores this process may use. Disk holds at most this many downloads at a time.
    prepare_concurrency: int = attrs.field(factory=usable_cores)
    # alerts (SPEC §5)
    alert_qa_min: float = 0.85
    alert_fallback_abs: float = 0.30
    alert_fallback_growth: float = 0.15
    alert_discovery_fail_count: int = 3
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None  # when set, webhook bodies are signed
    alert_cooldown_secs: int = 900
    # OUTPUT_DOWN: an enabled push output not connected for this long (issue 18)
    alert_output_down_secs: int = 60
    # Stream keys of push outputs: every VVTV_OUTPUT_KEY_* variable, by name. The card's
    # ``outputs[].key_env`` picks one; kept out of repr so a logged Settings shows none.
    output_keys: Mapping[str, str] = attrs.field(factory=dict, repr=False, hash=False)
    # No notification is sent this long after the daemon starts (its buffer is empty
    # by nature); what is still active then is sent at once. 0 turns the grace off.
    alert_startup_grace_secs: int = 300
    # cloud sync (SPEC §6) and the edge (cloud/worker, SPEC §10)
    cloudflare_base_url: str | None = None
    cloudflare_token: str | None = None
    cloudflare_secret: str | None = None
    # On an edge that serves several channels: this channel's id (its routes are /c/<id>/...).
    cloudflare_channel: str | None = None
    # The operator's credential at the edge (`vvtv cloud ...`); None = the control API's.
    cloudflare_control_token: str | None = None
    cloudflare_control_secret: str | None = None
    edge_hls: bool = True  # publish the live HLS to the edge (when a cloud is configured)
    edge_agent: bool = True  # apply the operator commands the edge relays
    edge_lag_segments: int = 3  # EDGE_LAGGING past this many segments behind the origin
    alert_cloud_failing_secs: int = 300  # CLOUD_SYNC_FAILING once deliveries fail this long
    # backups (SPEC §8)
    backup_dir_path: Path | None = None  # VVTV_BACKUP_DIR; None = runtime/backups
    backup_key_dir_path: Path | None = None  # VVTV_BACKUP_KEY_DIR; None = runtime/keys
    backup_key_max_age_days: int = 30
    backup_key_archive_retention_days: int = 180
    # release tooling (SPEC §8)
    soak_hours: float = 24.0
    soak_interval_secs: float = 60.0
    soak_max_samples: int = 0
    soak_max_rss_growth_mb: float = 128.0
    soak_max_restarts: int = 10
    canary_soak_hours: float = 1.0
    canary_soak_interval_secs: float | None = None  # None = soak_interval_secs
    canary_soak_max_samples: int | None = None  # None = soak_max_samples
    canary_auto_rollback: bool = True
    canary_auto_promote: bool = False

    # --- derived paths ----------------------------------------------------------------

    @property
    def log_json(self) -> bool:
        """JSON log lines: asked for, or by default under systemd (vvtv.core.logs)."""
        return self.log_format == "json" or (self.log_format is None and self.under_systemd)

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def project_root(self) -> Path:
        """The runtime dir's parent (the repo root by default), absolute."""
        return self.runtime_dir.resolve().parent

    @property
    def state_db(self) -> Path:
        return self.state_db_path or self.runtime_dir / "state" / "vvtv.db"

    @property
    def media_dir(self) -> Path:
        """Fetched originals and demo clips."""
        return self.runtime_dir / "media"

    @property
    def hls_dir(self) -> Path:
        """Prepared assets (one HLS directory per asset) and the slate."""
        return self.runtime_dir / "hls"

    @property
    def exports_dir(self) -> Path:
        return self.runtime_dir / "exports"

    @property
    def backup_dir(self) -> Path:
        return self.backup_dir_path or self.runtime_dir / "backups"

    @property
    def key_dir(self) -> Path:
        return self.backup_key_dir_path or self.runtime_dir / "keys"

    @property
    def canary_dir(self) -> Path:
        return self.runtime_dir / "canary"

    @property
    def promotions_dir(self) -> Path:
        return self.runtime_dir / "promotions"

    @property
    def go_live_dir(self) -> Path:
        return self.runtime_dir / "go-live"

    @property
    def pid_file(self) -> Path:
        return self.runtime_dir / "vvtv.pid"

    @property
    def max_download_bytes(self) -> int:
        return self.max_download_mb * 1024 * 1024

    @property
    def download_min_rate_bytes(self) -> int:
        return self.download_min_rate_kb_s * 1024

    @property
    def cloud_url(self) -> str | None:
        """Where this channel's edge routes are: the base URL, under ``/c/<channel>`` when a
        channel id is set (cloud/worker/PROTOCOL.md §1); None without a cloud."""
        if not self.cloudflare_base_url:
            return None
        base = self.cloudflare_base_url.rstrip("/")
        return f"{base}/c/{self.cloudflare_channel}" if self.cloudflare_channel else base

    @property
    def cloud_control_credential(self) -> tuple[str, str]:
        """The operator's token and secret at the edge (its ``control`` role)."""
        return (
            self.cloudflare_control_token or self.control_token,
            self.cloudflare_control_secret or self.control_secret,
        )

    # --- construction -----------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse the environment (this process's, unless given); ``SettingsError`` lists
        every malformed variable.

        Unset and empty variables take their defaults. SPEC §4's start-up rules
        are separate (``validate_for_startup``) so tools can read a dev config.
        """
        p = _Parser(os.environ if env is None else env)
        state_db = p.path("VVTV_STATE_DB") or p.path("VVTV_STATE_DB_PATH")
        settings = cls(
            env=(p.text("VVTV_ENV") or "dev").lower(),
            control_token=p.text("VVTV_CONTROL_TOKEN") or DEV_TOKEN,
            control_secret=p.text("VVTV_CONTROL_SECRET") or DEV_SECRET,
            runtime_dir=p.path("VVTV_RUNTIME_DIR") or Path("runtime"),
            state_db_path=state_db,
            owner_card_path=p.path("VVTV_OWNER_CARD_PATH") or Path("config/owner_card.demo.yaml"),
            run_once=p.flag("VVTV_RUN_ONCE", False),
            force_nightly=p.flag("VVTV_FORCE_NIGHTLY", False),
            once_drain_secs=p.number("VVTV_ONCE_DRAIN_SECS", 60.0, 0.0, 3600.0),
            log_level=p.parsed("VVTV_LOG_LEVEL", "INFO", _check_log_level),
            log_format=p.parsed("VVTV_LOG_FORMAT", None, _check_log_format),
            under_systemd=bool(p.text("JOURNAL_STREAM") or p.text("INVOCATION_ID")),
            tz=p.text("TZ"),
            api_bind=p.parsed("VVTV_API_BIND", "127.0.0.1:7070", _check_bind),
            api_url=p.parsed("VVTV_API_URL", "http://127.0.0.1:7070", _check_http_url),
            public_base_url=p.parsed("VVTV_PUBLIC_BASE_URL", None, _check_base_url),
            max_download_mb=p.integer("VVTV_MAX_DOWNLOAD_MB", 2048, minimum=1),
            download_min_rate_kb_s=p.integer("VVTV_DOWNLOAD_MIN_RATE_KB_S", 256, minimum=1),
            download_grace_secs=p.number("VVTV_DOWNLOAD_GRACE_SECS", 30.0, 0.0, 3600.0),
            public_hosts=p.items("VVTV_PUBLIC_HOSTS", _check_host_name),
            allowed_origins=p.items("VVTV_ALLOWED_ORIGINS", _check_origin),
            http_max_connections=p.integer("VVTV_HTTP_MAX_CONNECTIONS", 1024, minimum=1),
            http_keepalive_secs=p.number("VVTV_HTTP_KEEPALIVE_SECS", 5.0, 0.1, 3600.0),
            http_read_timeout_secs=p.number("VVTV_HTTP_READ_TIMEOUT_SECS", 10.0, 0.1, 3600.0),
            http_max_header_bytes=p.integer("VVTV_HTTP_MAX_HEADER_BYTES", 16 * 1024, minimum=1024),
            http_h2c=p.flag("VVTV_HTTP_H2C", False),
            ws_max_clients=p.integer("VVTV_WS_MAX_CLIENTS", 1024, minimum=1),
            ws_max_clients_per_address=p.integer("VVTV_WS_MAX_CLIENTS_PER_ADDRESS", 64, minimum=1),
            ws_max_message_bytes=p.integer("VVTV_WS_MAX_MESSAGE_BYTES", 4096, minimum=125),
            prepare_concurrency=p.integer(
                "VVTV_PREPARE_CONCURRENCY",
                usable_cores(),
                minimum=1,
                maximum=MAX_PREPARE_CONCURRENCY,
            ),
            alert_qa_min=p.number("VVTV_ALERT_QA_MIN", 0.85, 0.0, 1.0),
            alert_fallback_abs=p.number("VVTV_ALERT_FALLBACK_ABS", 0.30, 0.0, 1.0),
            alert_fallback_growth=p.number("VVTV_ALERT_FALLBACK_GROWTH", 0.15, 0.0, 1.0),
            alert_discovery_fail_count=p.integer("VVTV_ALERT_DISCOVERY_FAIL_COUNT", 3, minimum=1),
            alert_webhook_url=p.parsed("VVTV_ALERT_WEBHOOK_URL", None, _check_http_url),
            alert_webhook_secret=p.text("VVTV_ALERT_WEBHOOK_SECRET"),
            alert_cooldown_secs=p.integer("VVTV_ALERT_COOLDOWN_SECS", 900, minimum=0),
            alert_output_down_secs=p.integer("VVTV_ALERT_OUTPUT_DOWN_SECS", 60, minimum=1),
            output_keys=p.secrets(OUTPUT_KEY_ENV_PREFIX),
            alert_startup_grace_secs=p.integer("VVTV_ALERT_STARTUP_GRACE_SECS", 300, minimum=0),
            cloudflare_base_url=p.parsed("VVTV_CLOUDFLARE_BASE_URL", None, _check_http_url),
            cloudflare_token=p.text("VVTV_CLOUDFLARE_TOKEN"),
            cloudflare_secret=p.text("VVTV_CLOUDFLARE_SECRET"),
            cloudflare_channel=p.parsed("VVTV_CLOUDFLARE_CHANNEL", None, _check_channel_id),
            cloudflare_control_token=p.text("VVTV_CLOUDFLARE_CONTROL_TOKEN"),
            cloudflare_control_secret=p.text("VVTV_CLOUDFLARE_CONTROL_SECRET"),
            edge_hls=p.flag("VVTV_EDGE_HLS", True),
            edge_agent=p.flag("VVTV_EDGE_AGENT", True),
            edge_lag_segments=p.integer("VVTV_EDGE_LAG_SEGMENTS", 3, minimum=1),
            alert_cloud_failing_secs=p.integer("VVTV_ALERT_CLOUD_FAILING_SECS", 300, minimum=0),
            backup_dir_path=p.path("VVTV_BACKUP_DIR"),
            backup_key_dir_path=p.path("VVTV_BACKUP_KEY_DIR"),
            backup_key_max_age_days=p.integer("VVTV_BACKUP_KEY_MAX_AGE_DAYS", 30, minimum=1),
            backup_key_archive_retention_days=p.integer(
                "VVTV_BACKUP_KEY_ARCHIVE_RETENTION_DAYS", 180, minimum=1
            ),
            soak_hours=p.number("VVTV_SOAK_HOURS", 24.0, 0.0, None),
            soak_interval_secs=p.number("VVTV_SOAK_INTERVAL_SECS", 60.0, 0.0, None),
            soak_max_samples=p.integer("VVTV_SOAK_MAX_SAMPLES", 0, minimum=0),
            soak_max_rss_growth_mb=p.number("VVTV_SOAK_MAX_RSS_GROWTH_MB", 128.0, 0.0, None),
            soak_max_restarts=p.integer("VVTV_SOAK_MAX_RESTARTS", 10, minimum=0),
            canary_soak_hours=p.number("VVTV_CANARY_SOAK_HOURS", 1.0, 0.0, None),
            canary_soak_interval_secs=p.number("VVTV_CANARY_SOAK_INTERVAL_SECS", None, 0.0, None),
            canary_soak_max_samples=p.integer("VVTV_CANARY_SOAK_MAX_SAMPLES", None, minimum=0),
            canary_auto_rollback=p.flag("VVTV_CANARY_AUTO_ROLLBACK", True),
            canary_auto_promote=p.flag("VVTV_CANARY_AUTO_PROMOTE", False),
        )
        p.refuse_unread(_ORIGINAL_RELEASE_VARS, _original_release_replacement)
        if p.errors:
            raise SettingsError(p.errors)
        return settings

    def startup_problems(self) -> list[str]:
        """The start-up rules (SPEC §4 and §10); each problem names its variable.

        In every environment: the public dev credentials never guard a port other machines
        can reach. Outside dev, besides: real control credentials of at least
        ``MIN_SECRET_BYTES`` bytes, token and secret different, the cloud configured, and
        no cleartext ``http://`` cloud or webhook URL off this machine.
        """
        problems = self._exposure_problems()
        if self.is_dev:
            return problems
        where = f"VVTV_ENV={self.env}"
        if self.control_token == DEV_TOKEN:
            problems.append(
                f"VVTV_CONTROL_TOKEN is unset or still '{DEV_TOKEN}' "
                f"({where} requires a real token)"
            )
        if self.control_secret == DEV_SECRET:
            problems.append(
                f"VVTV_CONTROL_SECRET is unset or still '{DEV_SECRET}' "
                f"({where} requires a real secret)"
            )
        for name, value in (
            ("VVTV_CONTROL_TOKEN", self.control_token),
            ("VVTV_CONTROL_SECRET", self.control_secret),
            ("VVTV_CLOUDFLARE_SECRET", self.cloudflare_secret),
            ("VVTV_ALERT_WEBHOOK_SECRET", self.alert_webhook_secret),
        ):
            if value and value not in (DEV_TOKEN, DEV_SECRET) and _short(value):
                problems.append(
                    f"{name} is {len(value.encode())} bytes; {where} requires at least "
                    f"{MIN_SECRET_BYTES} (generate one: {GENERATE_SECRET})"
                )
        if self.control_token == self.control_secret:
            problems.append(
                "VVTV_CONTROL_TOKEN and VVTV_CONTROL_SECRET are the same value: the token is "
                "sent with every request, so the signing secret would travel with it"
            )
        if self.cloudflare_token and self.cloudflare_token == self.cloudflare_secret:
            problems.append("VVTV_CLOUDFLARE_TOKEN and VVTV_CLOUDFLARE_SECRET are the same value")
        if not self.cloudflare_base_url:
            problems.append(f"VVTV_CLOUDFLARE_BASE_URL is unset ({where} requires it)")
        else:
            for name, secret in (
                ("VVTV_CLOUDFLARE_TOKEN", self.cloudflare_token),
                ("VVTV_CLOUDFLARE_SECRET", self.cloudflare_secret),
            ):
                if not secret:
                    problems.append(f"{name} is unset but VVTV_CLOUDFLARE_BASE_URL is set")
        for name, url in (
            ("VVTV_CLOUDFLARE_BASE_URL", self.cloudflare_base_url),
            ("VVTV_ALERT_WEBHOOK_URL", self.alert_webhook_url),
        ):
            if url and _cleartext_off_machine(url):
                problems.append(
                    f"{name}={url} is cleartext http:// to another machine: signed bodies "
                    f"and bearer tokens would cross the network readable; use https:// "
                    f"({where} allows http:// only to localhost/127.0.0.1/[::1])"
                )
        return problems

    def _exposure_problems(self) -> list[str]:
        """The public dev credentials on a bind other machines can reach (any environment)."""
        if is_loopback(_split_bind(self.api_bind)[0]):
            return []
        dev = [
            name
            for name, value, default in (
                ("VVTV_CONTROL_TOKEN", self.control_token, DEV_TOKEN),
                ("VVTV_CONTROL_SECRET", self.control_secret, DEV_SECRET),
            )
            if value == default
        ]
        if not dev:
            return []
        return [
            f"VVTV_API_BIND={self.api_bind} reaches beyond this machine, but "
            f"{' and '.join(dev)} {'is' if len(dev) == 1 else 'are'} still the public dev "
            f"value ('{DEV_TOKEN}'/'{DEV_SECRET}' are in the source): anyone who can reach "
            f"the port could sign control calls. Set real ones ({GENERATE_SECRET}) or bind "
            "127.0.0.1"
        ]

    def validate_for_startup(self) -> Settings:
        """Raise ``SettingsError`` listing every SPEC §4 rule broken; returns self when fine."""
        problems = self.startup_problems()
        if problems:
            raise SettingsError(problems)
        return self

    def resolve(self, location: str | Path) -> Path:
        """A relative path from the OwnerCard, resolved against ``project_root``."""
        path = Path(location)
        return path if path.is_absolute() else self.project_root / path


def process_env(**overrides: str) -> dict[str, str]:
    """This process's environment plus ``overrides``: what a child process is started with
    (the daemon an operator command runs keeps the operator's settings)."""
    return {**os.environ, **overrides}


def tool_env() -> dict[str, str]:
    """The environment a helper tool (a push output's ffmpeg) is started with: this process's
    without any ``VVTV_*`` variable, so no secret of the daemon (control secret, stream keys)
    sits in the tool's ``/proc/<pid>/environ`` or in a core dump of it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VVTV_")}


# --- parsing helpers ----------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Parser:
    """Reads variables and collects every error instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []
        self.read: set[str] = set()

    def text(self, name: str) -> str | None:
        self.read.add(name)
        value = self.env.get(name, "").strip()
        return value or None

    def refuse_unread(self, pattern: re.Pattern[str], replacement: Callable[[str], str]) -> None:
        """Every set variable matching ``pattern`` that nothing read is an error naming
        what replaces it: a setting of the original's tools must never be silently ignored."""
        for name in sorted(self.env):
            if pattern.fullmatch(name) and name not in self.read and self.env[name].strip():
                self.errors.append(f"{name} is not read by vvtv: {replacement(name)}")

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return Path(value) if value else None

    def parsed(self, name: str, default: T, check: Callable[[str], str]) -> T | str:
        value = self.text(name)
        if value is None:
            return default
        try:
            return check(value)
        except ValueError as exc:
            self.errors.append(f"{name}={value!r}: {exc}")
            return default

    def items(self, name: str, check: Callable[[str], str]) -> tuple[str, ...]:
        """A comma- or space-separated list; each item checked, every bad one reported."""
        value = self.text(name)
        if value is None:
            return ()
        out: list[str] = []
        for item in value.replace(",", " ").split():
            try:
                out.append(check(item))
            except ValueError as exc:
                self.errors.append(f"{name}: {item!r} {exc}")
        return tuple(out)

    def secrets(self, prefix: str) -> Mapping[str, str]:
        """Every non-empty ``prefix*`` variable, checked as one line of at most
        ``SECRET_MAX`` bytes. Errors name the variable, never its value."""
        found: dict[str, str] = {}
        for name in sorted(self.env):
            if not name.startswith(prefix) or name == prefix:
                continue
            value = self.env[name].strip()
            if not value:
                continue
            if any(c in value for c in "\r\n\0") or len(value.encode()) > SECRET_MAX:
                self.errors.append(
                    f"{name} must be one line of at most {SECRET_MAX} bytes (value not shown)"
                )
                continue
            found[name] = value
        return MappingProxyType(found)

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.errors.append(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no)")
        return default

    def integer(
        self, name: str, default: T, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | T:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.errors.append(f"{name}={value!r} is not an integer")
            return default
        if minimum is not None and number < minimum:
            self.errors.append(f"{name}={value!r} must be at least {minimum}")
            return default
        if maximum is not None and number > maximum:
            self.errors.append(f"{name}={value!r} must be at most {maximum}")
            return default
        return number

    def number(self, name: str, default: T, low: float | None, high: float | None) -> float | T:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.errors.append(f"{name}={value!r} is not a number")
            return default
        if number != number or number in (float("inf"), float("-inf")):
            self.errors.append(f"{name}={value!r} is not a finite number")
            return default
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.errors.append(f"{name}={value!r} must be {bounds}")
            return default
        return number


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host, e.g. https://example.com")
    return value


_CHANNEL_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


def _check_channel_id(value: str) -> str:
    """An edge channel id: 1-32 of a-z 0-9, inner '-' (cloud/worker/PROTOCOL.md §1)."""
    if not _CHANNEL_ID.fullmatch(value):
        raise ValueError("must be 1-32 characters of a-z 0-9 with inner '-', e.g. main or news-2")
    return value


def _check_base_url(value: str) -> str:
    """An http(s) origin with an optional path prefix, without its trailing slash."""
    parts = urlsplit(_check_http_url(value))
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (viewers see it)")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not have a query or fragment, e.g. https://tv.example.com")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"bad port ({exc})") from None
    return value.rstrip("/")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_log_level(value: str) -> str:
    level = value.upper()
    if level not in _LOG_LEVELS or not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
    return level


#: The original's release tools were configured by these (scripts/vvtv-soak.sh, -canary,
#: -promote, -phaseN-go-live.sh); the ones vvtv reads are parsed above, any other is refused.
_ORIGINAL_RELEASE_VARS = re.compile(
    r"VVTV_(SOAK|CANARY|PROMOTE|PHASE[1-3])_[A-Z0-9_]+|VVTV_[A-Z0-9_]+_OUT_DIR"
)


def _original_release_replacement(name: str) -> str:
    if name == "VVTV_SOAK_OUT_DIR":
        return "use `vvtv soak --out DIR` (default: VVTV_RUNTIME_DIR/soak/<timestamp>/)"
    if name.endswith("_OUT_DIR"):
        return (
            "artefacts go under VVTV_RUNTIME_DIR (canary/<timestamp>/ for canary and its soak, "
            "promotions/ for promote, go-live/phaseN/<timestamp>/ for go-live): set "
            "VVTV_RUNTIME_DIR instead"
        )
    if name.startswith("VVTV_SOAK_"):
        return (
            "vvtv soak reads VVTV_SOAK_HOURS, VVTV_SOAK_INTERVAL_SECS, VVTV_SOAK_MAX_SAMPLES, "
            "VVTV_SOAK_MAX_RSS_GROWTH_MB and VVTV_SOAK_MAX_RESTARTS"
        )
    if name.startswith("VVTV_CANARY_"):
        return (
            "vvtv canary reads VVTV_CANARY_SOAK_HOURS, VVTV_CANARY_SOAK_INTERVAL_SECS, "
            "VVTV_CANARY_SOAK_MAX_SAMPLES, VVTV_CANARY_AUTO_ROLLBACK and "
            "VVTV_CANARY_AUTO_PROMOTE"
        )
    if name.startswith("VVTV_PROMOTE_"):
        return (
            "vvtv promote takes the canary's result.env as its argument (default: the "
            "newest); its gate is fixed (canary PASS, no high or critical alert)"
        )
    return (
        "the go-live phases are `vvtv go-live phase1|phase2|phase3` and their options "
        "(`vvtv go-live PHASE --help`), with the soak and canary settings (VVTV_SOAK_*, "
        "VVTV_CANARY_*)"
    )


def _check_log_format(value: str) -> str:
    if value.lower() not in ("json", "text"):
        raise ValueError("must be json or text")
    return value.lower()


def _check_host_name(value: str) -> str:
    name = normal_name(value)
    if name is None:
        raise ValueError(
            "is not a host name or IP address (no scheme, port or path: e.g. tv.example.com)"
        )
    return name


def _check_origin(value: str) -> str:
    parsed = parse_origin(value)
    if parsed is None:
        raise ValueError("is not an origin: scheme://host[:port], e.g. https://ops.example.com")
    scheme, host, port = parsed
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _short(secret: str) -> bool:
    return len(secret.encode()) < MIN_SECRET_BYTES


def _cleartext_off_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")


def _split_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:7070")
    host = host.strip("[]")  # [::1]:7070
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"port {port!r} is not an integer") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is out of range 0-65535")
    return host, number


def _check_bind(value: str) -> str:
    _split_bind(value)
    return value
