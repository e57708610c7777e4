"""Settings: every VVTV_* variable parsed, SPEC §4's fail-fast rules outside dev."""

from __future__ import annotations

from pathlib import Path

import pytest

from vvtv.core.settings import Settings, SettingsError, process_env

PROD_OK = {
    "VVTV_ENV": "prod",
    "VVTV_CONTROL_TOKEN": "t0k3n-real",
    "VVTV_CONTROL_SECRET": "s3cr3t-real",
    "VVTV_CLOUDFLARE_BASE_URL": "https://api.voulezvous.tv",
    "VVTV_CLOUDFLARE_TOKEN": "cf-token",
    "VVTV_CLOUDFLARE_SECRET": "cf-secret",
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
    assert s.owner_card_path == Path("config/owner_card.sample.yaml")
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
