"""Settings are checked at start: a bad value names its variable and the form it must take."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import pytest

from app.settings import ConfigError, Settings, mask_password


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LOYALTY_MAX_TOKENS", "lots", "LOYALTY_MAX_TOKENS must be a whole number of at least 1, not 'lots'"),
        ("LOYALTY_AUTH_FAILURE_LIMIT", "-1", "LOYALTY_AUTH_FAILURE_LIMIT must be a whole number of at least 0"),
        ("LOYALTY_ENV", "prod", "LOYALTY_ENV must be development, test or production, not 'prod'"),
        ("LOYALTY_DATABASE_URL", "mysql://db", "LOYALTY_DATABASE_URL must be a Tortoise URL: sqlite://…"),
        ("LOYALTY_METRICS_ALLOW", "10.0.0.300", "LOYALTY_METRICS_ALLOW must be comma-separated addresses"),
        ("LOYALTY_LOG_FORMAT", "xml", "LOYALTY_LOG_FORMAT must be json or text, not 'xml'"),
        ("LOYALTY_SHUTDOWN_GRACE_SECONDS", "soon", "LOYALTY_SHUTDOWN_GRACE_SECONDS must be a number of seconds"),
    ],
)
def test_a_bad_setting_is_named_with_the_form_it_must_take(variable, value, expected):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(expected)


def test_metrics_are_open_to_loopback_by_default_and_to_the_networks_listed():
    assert Settings.from_env({}).metrics_allow == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    listed = Settings.from_env({"LOYALTY_METRICS_ALLOW": "10.1.2.3, 192.168.0.0/16"}).metrics_allow
    assert [str(n) for n in listed] == ["10.1.2.3/32", "192.168.0.0/16"]


def test_the_described_configuration_masks_secrets_and_the_database_password():
    settings = Settings.from_env(
        {
            "LOYALTY_DATABASE_URL": "postgres://loyalty:s3cret@db:5432/loyalty",
            "LOYALTY_TOKEN_SECRET": "hush" * 8,
            "LOYALTY_BOOTSTRAP_API_KEY": "lk_hush",
        }
    )
    described = dict(settings.described())
    assert described["LOYALTY_DATABASE_URL"] == "postgres://loyalty:********@db:5432/loyalty"
    assert "hush" not in str(described)
    assert described["LOYALTY_TOKEN_SECRET"] == "Secret('**********')"
    assert described["LOYALTY_METRICS"] == "on"
    assert mask_password("sqlite://./loyalty.db") == "sqlite://./loyalty.db"


def _loyalty(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_loyalty_config_prints_the_effective_configuration_with_secrets_masked(tmp_path):
    done = _loyalty("config", LOYALTY_DATABASE_URL="postgres://u:pw123@h/db", LOYALTY_TOKEN_SECRET="pw456" * 7)
    assert done.returncode == 0, done.stderr
    assert "LOYALTY_DATABASE_URL=postgres://u:********@h/db" in done.stdout.splitlines()
    assert "LOYALTY_MAX_TOKENS=2000" in done.stdout.splitlines()
    assert "pw123" not in done.stdout and "pw456" not in done.stdout


def test_a_short_token_secret_is_refused_at_start_with_the_length_it_needs():
    done = _loyalty("serve", LOYALTY_TOKEN_SECRET="x" * 31)
    assert done.returncode == 2
    assert done.stderr.startswith("loyalty: LOYALTY_TOKEN_SECRET must be at least 32 bytes")
    assert "x" * 31 not in done.stderr
    assert Settings.from_env({"LOYALTY_TOKEN_SECRET": "x" * 32}).token_secret is not None


def test_a_bad_setting_stops_the_command_with_one_line_not_a_traceback():
    done = _loyalty("serve", LOYALTY_TOKEN_TTL_SECONDS="1d")
    assert done.returncode == 2
    assert done.stderr == "loyalty: LOYALTY_TOKEN_TTL_SECONDS must be a whole number of at least 1, not '1d'\n"
