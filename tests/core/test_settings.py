"""Settings: every VVTV_* variable parsed, SPEC §4's fail-fast rules outside dev."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vvtv.core.settings import Settings, SettingsError, process_env

PROD_OK = {
    "VVTV_ENV": "prod",
    "VVTV_CONTROL_TOKEN": "t0k3n-real-" + "t" * 24,
    "VVTV_CONTROL_SECRET": "s3cr3t-real-" + "s" * 24,
    "VVTV_CLOUDFLARE_BASE_URL": "https://api.voulezvous.tv",
    "VVTV_CLOUDFLARE_TOKEN": "cf-token",
    "VVTV_CLOUDFLARE_SECRET": "cf-secret-" + "c" * 24,
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env).validate_for_startup()
    return info.value.errors


def test_an_empty_environment_gives_the_spec_defaults() -> None:
    s = Settings.from_env({})
    assert s.env == "dev" and s.is_dev
    assert (s.control_token, s.control_secret) == ("dev-token", "dev-secret")
    assert s.state_db == Path("runtime/state/vvtv.db")
    assert s.owner_card_path == Path("config/owner_card.demo.yaml")  # the first-run card
    assert (s.run_once, s.force_nightly) == (False, False)
    assert (s.alert_qa_min, s.alert_fallback_abs, s.alert_fallback_growth) == (0.85, 0.30, 0.15)
    assert (s.alert_discovery_fail_count, s.alert_cooldown_secs) == (3, 900)
    assert s.alert_webhook_url is None and s.alert_webhook_secret is None
    assert s.backup_dir == Path("runtime/backups") and s.key_dir == Path("runtime/keys")
    assert (s.backup_key_max_age_days, s.backup_key_archive_retention_days) == (30, 180)
    assert s.api_url == "http://127.0.0.1:7070"
    assert s.public_base_url is None  # the request's own address
    assert s.api_bind == "127.0.0.1:7070"
    assert s.max_download_mb == 2048 and s.max_download_bytes == 2048 * 1024 * 1024
    assert (s.download_min_rate_kb_s, s.download_min_rate_bytes) == (256, 256 * 1024)
    assert s.download_grace_secs == 30.0
    assert s.prepare_concurrency == len(os.sched_getaffinity(0))  # the cores it may use
    assert (s.soak_hours, s.soak_interval_secs, s.soak_max_samples) == (24.0, 60.0, 0)
    assert (s.canary_soak_hours, s.canary_auto_rollback, s.canary_auto_promote) == (
        1.0,
        True,
        False,
    )
    assert s.cloudflare_base_url is None
    assert (s.log_level, s.tz) == ("INFO", None)
    assert (s.soak_max_rss_growth_mb, s.soak_max_restarts) == (128.0, 10)
    assert s.validate_for_startup() is s  # dev never fails fast


def test_runtime_dir_roots_every_runtime_path(tmp_path: Path) -> None:
    s = Settings.from_env({"VVTV_RUNTIME_DIR": str(tmp_path / "rt")})
    root = tmp_path / "rt"
    assert s.state_db == root / "state" / "vvtv.db"
    assert (s.media_dir, s.hls_dir, s.exports_dir) == (
        root / "media",
        root / "hls",
        root / "exports",
    )
    assert (s.backup_dir, s.key_dir) == (root / "backups", root / "keys")
    assert s.project_root == tmp_path
    assert s.resolve("runtime/media/demo") == tmp_path / "runtime/media/demo"
    assert s.resolve("/abs/dir") == Path("/abs/dir")


def test_explicit_paths_override_the_runtime_dir() -> None:
    s = Settings.from_env(
        {"VVTV_STATE_DB": "/data/x.db", "VVTV_BACKUP_DIR": "/b", "VVTV_BACKUP_KEY_DIR": "/k"}
    )
    assert (s.state_db, s.backup_dir, s.key_dir) == (Path("/data/x.db"), Path("/b"), Path("/k"))


def test_state_db_path_is_accepted_as_an_alias_and_state_db_wins() -> None:
    assert Settings.from_env({"VVTV_STATE_DB_PATH": "a.db"}).state_db == Path("a.db")
    both = {"VVTV_STATE_DB_PATH": "a.db", "VVTV_STATE_DB": "b.db"}
    assert Settings.from_env(both).state_db == Path("b.db")


def test_flags_and_numbers_are_parsed() -> None:
    s = Settings.from_env(
        {
            "VVTV_RUN_ONCE": "1",
            "VVTV_FORCE_NIGHTLY": "true",
            "VVTV_CANARY_AUTO_ROLLBACK": "0",
            "VVTV_ALERT_QA_MIN": "0.9",
            "VVTV_ALERT_COOLDOWN_SECS": "60",
            "VVTV_SOAK_HOURS": "0",
            "VVTV_SOAK_MAX_SAMPLES": "3",
            "VVTV_PREPARE_CONCURRENCY": "3",
            "VVTV_API_BIND": "0.0.0.0:8080",
            "VVTV_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "VVTV_LOG_LEVEL": "debug",
            "TZ": "Europe/Paris",
            "VVTV_SOAK_MAX_RSS_GROWTH_MB": "64.5",
            "VVTV_SOAK_MAX_RESTARTS": "0",
        }
    )
    assert s.run_once and s.force_nightly and not s.canary_auto_rollback
    assert (s.log_level, s.tz) == ("DEBUG", "Europe/Paris")
    assert (s.soak_max_rss_growth_mb, s.soak_max_restarts) == (64.5, 0)
    assert (s.alert_qa_min, s.alert_cooldown_secs) == (0.9, 60)
    assert (s.soak_hours, s.soak_max_samples) == (0.0, 3)
    assert s.api_bind == "0.0.0.0:8080"
    assert s.prepare_concurrency == 3
    assert s.alert_webhook_url == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("VVTV_ALERT_QA_MIN", "abc", "VVTV_ALERT_QA_MIN='abc' is not a number"),
        ("VVTV_ALERT_QA_MIN", "1.5", "VVTV_ALERT_QA_MIN='1.5' must be between 0.0 and 1.0"),
        ("VVTV_ALERT_QA_MIN", "nan", "VVTV_ALERT_QA_MIN='nan' is not a finite number"),
        ("VVTV_ALERT_COOLDOWN_SECS", "15m", "VVTV_ALERT_COOLDOWN_SECS='15m' is not an integer"),
        ("VVTV_MAX_DOWNLOAD_MB", "0", "VVTV_MAX_DOWNLOAD_MB='0' must be at least 1"),
        (
            "VVTV_DOWNLOAD_MIN_RATE_KB_S",
            "0",
            "VVTV_DOWNLOAD_MIN_RATE_KB_S='0' must be at least 1",
        ),
        (
            "VVTV_DOWNLOAD_GRACE_SECS",
            "-5",
            "VVTV_DOWNLOAD_GRACE_SECS='-5' must be between 0.0 and 3600.0",
        ),
        ("VVTV_DOWNLOAD_GRACE_SECS", "soon", "VVTV_DOWNLOAD_GRACE_SECS='soon' is not a number"),
        ("VVTV_PREPARE_CONCURRENCY", "0", "VVTV_PREPARE_CONCURRENCY='0' must be at least 1"),
        ("VVTV_PREPARE_CONCURRENCY", "65", "VVTV_PREPARE_CONCURRENCY='65' must be at most 64"),
        ("VVTV_PREPARE_CONCURRENCY", "two", "VVTV_PREPARE_CONCURRENCY='two' is not an integer"),
        ("VVTV_SOAK_MAX_SAMPLES", "-1", "VVTV_SOAK_MAX_SAMPLES='-1' must be at least 0"),
        ("VVTV_RUN_ONCE", "maybe", "VVTV_RUN_ONCE='maybe' is not a boolean"),
        ("VVTV_FORCE_NIGHTLY", "2", "VVTV_FORCE_NIGHTLY='2' is not a boolean"),
        ("VVTV_LOG_LEVEL", "LOUD", "VVTV_LOG_LEVEL='LOUD': must be one of DEBUG, INFO"),
        ("VVTV_LOG_LEVEL", "5", "VVTV_LOG_LEVEL='5': must be one of"),
        ("VVTV_SOAK_MAX_RSS_GROWTH_MB", "-1", "VVTV_SOAK_MAX_RSS_GROWTH_MB='-1' must be at least"),
        ("VVTV_SOAK_MAX_RESTARTS", "ten", "VVTV_SOAK_MAX_RESTARTS='ten' is not an integer"),
        ("VVTV_API_BIND", "7070", "VVTV_API_BIND='7070': must be HOST:PORT"),
        ("VVTV_API_BIND", "h:99999", "VVTV_API_BIND='h:99999': port 99999 is out of range"),
        ("VVTV_API_URL", "127.0.0.1:7070", "VVTV_API_URL='127.0.0.1:7070': must be an http(s) URL"),
        ("VVTV_ALERT_WEBHOOK_URL", "ftp://x", "VVTV_ALERT_WEBHOOK_URL='ftp://x': must be an http"),
        ("VVTV_PUBLIC_BASE_URL", "tv.example.com", "VVTV_PUBLIC_BASE_URL='tv.example.com': must"),
        (
            "VVTV_PUBLIC_BASE_URL",
            "https://a:b@tv.x",
            "VVTV_PUBLIC_BASE_URL='https://a:b@tv.x': must not carry",
        ),
        (
            "VVTV_PUBLIC_BASE_URL",
            "https://tv.x/?a=1",
            "VVTV_PUBLIC_BASE_URL='https://tv.x/?a=1': must not have",
        ),
        (
            "VVTV_PUBLIC_BASE_URL",
            "https://tv.x:99x",
            "VVTV_PUBLIC_BASE_URL='https://tv.x:99x': bad port",
        ),
        ("VVTV_CLOUDFLARE_CHANNEL", "News", "VVTV_CLOUDFLARE_CHANNEL='News': must be 1-32"),
        ("VVTV_CLOUDFLARE_CHANNEL", "a_b", "VVTV_CLOUDFLARE_CHANNEL='a_b': must be 1-32"),
        ("VVTV_CLOUDFLARE_CHANNEL", "-a", "VVTV_CLOUDFLARE_CHANNEL='-a': must be 1-32"),
        ("VVTV_CLOUDFLARE_CHANNEL", "x" * 33, "VVTV_CLOUDFLARE_CHANNEL='xxxxxxxx"),
        ("VVTV_EDGE_HLS", "sometimes", "VVTV_EDGE_HLS='sometimes' is not a boolean"),
        ("VVTV_EDGE_LAG_SEGMENTS", "0", "VVTV_EDGE_LAG_SEGMENTS='0' must be at least 1"),
        ("VVTV_ALERT_CLOUD_FAILING_SECS", "-5", "VVTV_ALERT_CLOUD_FAILING_SECS='-5' must be at"),
    ],
)
def test_a_malformed_value_is_an_error_naming_the_variable(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith(expected)


def test_every_malformed_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"VVTV_ALERT_QA_MIN": "x", "VVTV_ALERT_COOLDOWN_SECS": "y"})
    assert len(info.value.errors) == 2
    assert "VVTV_ALERT_QA_MIN" in str(info.value) and "VVTV_ALERT_COOLDOWN_SECS" in str(info.value)


def test_a_complete_production_environment_starts() -> None:
    s = Settings.from_env(PROD_OK).validate_for_startup()
    assert s.cloudflare_base_url and not s.is_dev


@pytest.mark.parametrize("value", [None, "dev-token"])
def test_outside_dev_the_control_token_must_be_set_and_not_the_default(value: str | None) -> None:
    env = {k: v for k, v in PROD_OK.items() if k != "VVTV_CONTROL_TOKEN"}
    if value:
        env["VVTV_CONTROL_TOKEN"] = value
    assert problems(env) == [
        "VVTV_CONTROL_TOKEN is unset or still 'dev-token' (VVTV_ENV=prod requires a real token)"
    ]


@pytest.mark.parametrize("value", [None, "dev-secret"])
def test_outside_dev_the_control_secret_must_be_set_and_not_the_default(value: str | None) -> None:
    env = {k: v for k, v in PROD_OK.items() if k != "VVTV_CONTROL_SECRET"}
    if value:
        env["VVTV_CONTROL_SECRET"] = value
    assert problems(env) == [
        "VVTV_CONTROL_SECRET is unset or still 'dev-secret' (VVTV_ENV=prod requires a real secret)"
    ]


def test_outside_dev_the_cloud_base_url_is_required() -> None:
    env = {k: v for k, v in PROD_OK.items() if not k.startswith("VVTV_CLOUDFLARE")}
    assert problems(env) == ["VVTV_CLOUDFLARE_BASE_URL is unset (VVTV_ENV=prod requires it)"]


@pytest.mark.parametrize("missing", ["VVTV_CLOUDFLARE_TOKEN", "VVTV_CLOUDFLARE_SECRET"])
def test_outside_dev_a_cloud_base_url_needs_its_token_and_secret(missing: str) -> None:
    env = {k: v for k, v in PROD_OK.items() if k != missing}
    assert problems(env) == [f"{missing} is unset but VVTV_CLOUDFLARE_BASE_URL is set"]


def test_outside_dev_every_broken_rule_is_listed() -> None:
    errors = problems({"VVTV_ENV": "staging"})
    assert len(errors) == 3
    assert all("VVTV_ENV=staging" in e for e in errors)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://tv.example.com", "https://tv.example.com"),
        ("https://tv.example.com/", "https://tv.example.com"),
        ("http://192.168.1.20:7070/vvtv/", "http://192.168.1.20:7070/vvtv"),
    ],
)
def test_the_public_base_url_loses_its_trailing_slash(value: str, expected: str) -> None:
    assert Settings.from_env({"VVTV_PUBLIC_BASE_URL": value}).public_base_url == expected


def test_without_a_mapping_the_process_environment_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VVTV_RUN_ONCE", "yes")
    monkeypatch.setenv("VVTV_LOG_LEVEL", "warning")
    s = Settings.from_env()
    assert s.run_once and s.log_level == "WARNING"
    monkeypatch.setenv("VVTV_LOG_LEVEL", "chatty")
    with pytest.raises(SettingsError, match="VVTV_LOG_LEVEL='chatty'"):
        Settings.from_env()


def test_a_child_process_gets_this_environment_plus_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VVTV_API_URL", "http://127.0.0.1:7071")
    env = process_env(VVTV_RUN_ONCE="1")
    assert env["VVTV_API_URL"] == "http://127.0.0.1:7071" and env["VVTV_RUN_ONCE"] == "1"


# --- the browser-facing settings (SPEC §10) ------------------------------------------


def test_the_http_face_defaults() -> None:
    s = Settings.from_env({})
    assert s.public_hosts == () and s.allowed_origins == ()
    assert (s.http_max_connections, s.http_keepalive_secs, s.http_read_timeout_secs) == (
        1024,
        5.0,
        10.0,
    )
    assert (s.http_max_header_bytes, s.http_h2c) == (16 * 1024, False)
    assert (s.ws_max_clients, s.ws_max_clients_per_address, s.ws_max_message_bytes) == (
        1024,
        64,
        4096,
    )


def test_public_hosts_and_allowed_origins_are_lists_normalised() -> None:
    s = Settings.from_env(
        {
            "VVTV_PUBLIC_HOSTS": "TV.Example.com, box.lan  192.168.1.20,[::1]",
            "VVTV_ALLOWED_ORIGINS": "https://Ops.Example.com,http://[::1]:8080",
        }
    )
    assert s.public_hosts == ("tv.example.com", "box.lan", "192.168.1.20", "::1")
    assert s.allowed_origins == ("https://ops.example.com:443", "http://[::1]:8080")


@pytest.mark.parametrize(
    ("name", "value", "bad"),
    [
        ("VVTV_PUBLIC_HOSTS", "tv.example.com,https://tv.example.com", "'https://tv.example.com'"),
        ("VVTV_PUBLIC_HOSTS", "tv.example.com:443", "'tv.example.com:443'"),
        ("VVTV_PUBLIC_HOSTS", "*.example.com", "'*.example.com'"),
        ("VVTV_ALLOWED_ORIGINS", "ops.example.com", "'ops.example.com'"),
        ("VVTV_ALLOWED_ORIGINS", "https://ops.example.com/app", "'https://ops.example.com/app'"),
        ("VVTV_ALLOWED_ORIGINS", "null", "'null'"),
    ],
)
def test_a_malformed_host_or_origin_is_refused_naming_the_variable(
    name: str, value: str, bad: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    [error] = info.value.errors
    assert error.startswith(f"{name}: {bad} is not")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VVTV_HTTP_MAX_CONNECTIONS", "0"),
        ("VVTV_HTTP_KEEPALIVE_SECS", "0"),
        ("VVTV_HTTP_READ_TIMEOUT_SECS", "-1"),
        ("VVTV_HTTP_MAX_HEADER_BYTES", "100"),
        ("VVTV_HTTP_H2C", "perhaps"),
        ("VVTV_WS_MAX_CLIENTS", "0"),
        ("VVTV_WS_MAX_CLIENTS_PER_ADDRESS", "x"),
        ("VVTV_WS_MAX_MESSAGE_BYTES", "12"),
    ],
)
def test_a_malformed_limit_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    [error] = info.value.errors
    assert error.startswith(f"{name}={value!r}")


# --- safe defaults at start ----------------------------------------------------------


@pytest.mark.parametrize("bind", ["0.0.0.0:7070", "[::]:7070", "192.168.1.20:7070", "box:7070"])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dev_credentials_never_guard_a_port_other_machines_reach(bind: str, env: str) -> None:
    """VVTV_API_BIND=0.0.0.0 alone would expose signed control with the public dev-token and
    dev-secret: refused in every environment, naming the variables."""
    base = {"VVTV_ENV": env, "VVTV_API_BIND": bind}
    if env == "prod":
        base = {**PROD_OK, **base}
        del base["VVTV_CONTROL_TOKEN"], base["VVTV_CONTROL_SECRET"]
    [exposed] = [e for e in problems(base) if "VVTV_API_BIND" in e]
    assert exposed.startswith(f"VVTV_API_BIND={bind} reaches beyond this machine")
    assert "VVTV_CONTROL_TOKEN and VVTV_CONTROL_SECRET are still the public dev value" in exposed
    # Only the secret left at its dev value: still refused, naming just that one.
    only_secret = {**base, "VVTV_CONTROL_TOKEN": "x" * 40}
    [exposed] = [e for e in problems(only_secret) if "VVTV_API_BIND" in e]
    assert "VVTV_CONTROL_SECRET is still the public dev value" in exposed


@pytest.mark.parametrize("bind", ["127.0.0.1:7070", "127.0.0.2:0", "localhost:7070", "[::1]:7070"])
def test_the_dev_credentials_are_fine_on_a_loopback_bind_in_dev(bind: str) -> None:
    assert Settings.from_env({"VVTV_API_BIND": bind}).startup_problems() == []


def test_real_credentials_may_bind_anywhere() -> None:
    env = {**PROD_OK, "VVTV_API_BIND": "0.0.0.0:7070"}
    assert Settings.from_env(env).startup_problems() == []
    dev = {"VVTV_API_BIND": "0.0.0.0:7070", "VVTV_CONTROL_TOKEN": "a" * 32}
    assert Settings.from_env({**dev, "VVTV_CONTROL_SECRET": "b" * 32}).startup_problems() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VVTV_CONTROL_TOKEN", "short-token"),
        ("VVTV_CONTROL_SECRET", "s" * 31),
        ("VVTV_CONTROL_SECRET", "é" * 15),  # 30 bytes in UTF-8, 15 characters
        ("VVTV_CLOUDFLARE_SECRET", "cf-secret"),
        ("VVTV_ALERT_WEBHOOK_SECRET", "hook"),
    ],
)
def test_outside_dev_a_secret_shorter_than_32_bytes_is_refused(name: str, value: str) -> None:
    [error] = problems({**PROD_OK, name: value})
    assert error.startswith(f"{name} is {len(value.encode())} bytes; VVTV_ENV=prod requires")
    assert "at least 32" in error and "secrets.token_urlsafe(32)" in error


def test_outside_dev_token_and_secret_must_differ() -> None:
    same = "x" * 40
    [error] = problems({**PROD_OK, "VVTV_CONTROL_TOKEN": same, "VVTV_CONTROL_SECRET": same})
    assert error.startswith("VVTV_CONTROL_TOKEN and VVTV_CONTROL_SECRET are the same value")
    [error] = problems({**PROD_OK, "VVTV_CLOUDFLARE_TOKEN": PROD_OK["VVTV_CLOUDFLARE_SECRET"]})
    assert error.startswith("VVTV_CLOUDFLARE_TOKEN and VVTV_CLOUDFLARE_SECRET are the same")


@pytest.mark.parametrize(
    ("name", "url", "refused"),
    [
        ("VVTV_CLOUDFLARE_BASE_URL", "http://api.voulezvous.tv", True),
        ("VVTV_CLOUDFLARE_BASE_URL", "http://10.0.0.5:8787", True),
        ("VVTV_ALERT_WEBHOOK_URL", "http://hooks.example.com/x", True),
        ("VVTV_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook", False),
        ("VVTV_ALERT_WEBHOOK_URL", "http://localhost:9/hook", False),
        ("VVTV_CLOUDFLARE_BASE_URL", "http://[::1]:8787", False),
        ("VVTV_ALERT_WEBHOOK_URL", "https://hooks.example.com/x", False),
    ],
)
def test_outside_dev_cleartext_urls_off_the_machine_are_refused(
    name: str, url: str, refused: bool
) -> None:
    env = {**PROD_OK, name: url}
    if refused:
        [error] = problems(env)
        assert error.startswith(f"{name}={url} is cleartext http:// to another machine")
    else:
        assert Settings.from_env(env).startup_problems() == []


def test_in_dev_only_the_exposure_rule_applies() -> None:
    env = {"VVTV_CONTROL_TOKEN": "same", "VVTV_CONTROL_SECRET": "same"}
    env["VVTV_ALERT_WEBHOOK_URL"] = "http://hooks.example.com/x"
    assert Settings.from_env(env).startup_problems() == []


def test_the_edge_settings_default_and_key_a_channel_of_a_shared_edge() -> None:
    plain = Settings.from_env({"VVTV_CLOUDFLARE_BASE_URL": "https://api.voulezvous.tv/"})
    assert plain.cloud_url == "https://api.voulezvous.tv"
    assert (plain.edge_hls, plain.edge_agent, plain.edge_lag_segments) == (True, True, 3)
    assert plain.alert_cloud_failing_secs == 300
    assert plain.cloud_control_credential == ("dev-token", "dev-secret")
    keyed = Settings.from_env(
        {
            "VVTV_CLOUDFLARE_BASE_URL": "https://edge.example.com/vvtv",
            "VVTV_CLOUDFLARE_CHANNEL": "news-2",
            "VVTV_CLOUDFLARE_CONTROL_TOKEN": "operator",
            "VVTV_CLOUDFLARE_CONTROL_SECRET": "operator-secret",
            "VVTV_EDGE_AGENT": "0",
        }
    )
    assert keyed.cloud_url == "https://edge.example.com/vvtv/c/news-2"
    assert keyed.cloud_control_credential == ("operator", "operator-secret")
    assert keyed.edge_agent is False
    assert Settings.from_env({}).cloud_url is None


def test_push_output_keys_are_every_vvtv_output_key_variable_and_never_shown() -> None:
    s = Settings.from_env(
        {
            "VVTV_OUTPUT_KEY_YOUTUBE": " yt-key-1234 ",
            "VVTV_OUTPUT_KEY_TWITCH": "live_123_abc",
            "VVTV_OUTPUT_KEY_EMPTY": "",
            "VVTV_CONTROL_SECRET": "not-a-stream-key-at-all-0123456789",
        }
    )
    assert dict(s.output_keys) == {
        "VVTV_OUTPUT_KEY_TWITCH": "live_123_abc",
        "VVTV_OUTPUT_KEY_YOUTUBE": "yt-key-1234",
    }
    assert "yt-key-1234" not in repr(s) and "live_123_abc" not in str(s)
    assert s.alert_output_down_secs == 60
    assert Settings.from_env({"VVTV_ALERT_OUTPUT_DOWN_SECS": "15"}).alert_output_down_secs == 15


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"VVTV_OUTPUT_KEY_YT": "first\nsecond"},
            "VVTV_OUTPUT_KEY_YT must be one line of at most 900 bytes (value not shown)",
        ),
        (
            {"VVTV_OUTPUT_KEY_YT": "k" * 901},
            "VVTV_OUTPUT_KEY_YT must be one line of at most 900 bytes (value not shown)",
        ),
        (
            {"VVTV_ALERT_OUTPUT_DOWN_SECS": "0"},
            "VVTV_ALERT_OUTPUT_DOWN_SECS='0' must be at least 1",
        ),
    ],
)
def test_a_malformed_push_setting_is_named_and_a_key_never_quoted(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert info.value.errors == [expected]
    assert "second" not in str(info.value) and "kkkk" not in str(info.value)
