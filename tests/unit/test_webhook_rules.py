"""Which webhook targets are refused, and when a failed delivery is tried again."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from domain.errors import DomainError, DomainErrors
from domain.webhooks import MAX_ATTEMPTS, RETRY_DELAYS, refused_address, retry_delay, validate_event_types, validate_url


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "private or reserved"),
        ("100.64.0.1", "private or reserved"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_internal_addresses_are_refused_naming_why(address, why):
    reason = refused_address(address)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert refused_address(address) is None


def test_a_url_must_be_https_without_credentials_unless_private_targets_are_allowed():
    assert validate_url("https://hooks.example.com/x", allow_private=False, field=["url"]).host == "hooks.example.com"
    assert validate_url("http://127.0.0.1:9/x", allow_private=True, field=["url"]).host == "127.0.0.1"
    for bad in ("http://hooks.example.com/x", "https://u:p@hooks.example.com/x", "ftp://x", "https://x:99999/"):
        with pytest.raises(DomainError):
            validate_url(bad, allow_private=False, field=["url"])


def test_event_types_are_checked_each_naming_its_place():
    assert validate_event_types(None, ["a.b"], ["event_types"]) is None
    assert validate_event_types(["a.b", "a.b"], ["a.b"], ["event_types"]) == ["a.b"]
    with pytest.raises(DomainErrors) as errors:
        validate_event_types(["a.b", "x", "y"], ["a.b"], ["event_types"])
    assert [e.field for e in errors.value.errors] == [["event_types", "1"], ["event_types", "2"]]


def test_the_first_retry_comes_within_ten_seconds_and_the_schedule_spans_about_three_days():
    rng = random.Random(7)
    assert all(timedelta(seconds=4) <= retry_delay(1, rng) <= timedelta(seconds=6) for _ in range(1000))
    assert timedelta(days=3) <= sum(RETRY_DELAYS, timedelta()) <= timedelta(days=3, hours=6)
    assert retry_delay(MAX_ATTEMPTS - 1, rng) is not None
    assert retry_delay(MAX_ATTEMPTS, rng) is None


def test_waits_are_jittered_so_endpoints_that_failed_together_are_not_retried_together():
    rng = random.Random(1)
    waits = {retry_delay(3, rng) for _ in range(20)}
    assert len(waits) == 20
    assert all(timedelta(minutes=4) <= w <= timedelta(minutes=6) for w in waits)
