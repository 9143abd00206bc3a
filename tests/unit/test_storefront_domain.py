"""Referral refusals, feedback validation, and order digests with tags and a country."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from domain.errors import DomainErrors, ErrorCode
from domain.exchange import ExchangeRates
from domain.feedback import FeedbackInput, rule_attributes, validate_feedback
from domain.orders import OrderInput, OrderLineInput, validate_order
from domain.referrals import _ALPHABET, CODE_LENGTH, Party, new_referral_code, new_referral_codes, refusal

EARLY, LATE = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)


def party(external_id: str, enrolled_at: datetime = EARLY, **extra) -> Party:
    return Party(external_id, f"{external_id}@example.com", enrolled_at, **extra)


def test_a_referral_code_is_short_and_has_no_look_alike_characters():
    codes = {new_referral_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == CODE_LENGTH and not set(code) & set("01ILO") for code in codes)


def test_codes_drawn_many_at_once_are_as_new_referral_code_draws_them():
    codes = new_referral_codes(20_000)
    assert len(set(codes)) == 20_000 and new_referral_codes(0) == []
    assert all(len(code) == CODE_LENGTH for code in codes)
    # Every letter of the alphabet, each about as often (160,000 letters: 5,161 each on
    # average, a standard deviation of 71; reading all 256 byte values mod 31 would give
    # eight letters 5,625 each).
    counts = {letter: 0 for letter in _ALPHABET}
    for code in codes:
        for letter in code:
            counts[letter] += 1
    assert sum(counts.values()) == 160_000
    assert all(4_810 < n < 5_510 for n in counts.values()), counts


@pytest.mark.parametrize(
    ("referrer", "friend", "code"),
    [
        (party("a"), party("a"), ErrorCode.SELF_REFERRAL),
        (party("a"), Party("b", "A@example.com", LATE), ErrorCode.SELF_REFERRAL),
        (party("a"), party("b", LATE, referred=True), ErrorCode.ALREADY_REFERRED),
        (party("a", LATE), party("b", EARLY), ErrorCode.REFERRER_ENROLLED_LATER),
        (party("a"), party("b", LATE, order_count=1), ErrorCode.REFERRAL_TOO_LATE),
    ],
)
def test_a_referral_is_refused_for_its_reason(referrer, friend, code):
    problem = refusal(referrer, friend)
    assert problem is not None and problem.code is code and problem.field == ["referral_code"]


def test_an_earlier_customer_may_refer_a_new_one():
    assert refusal(party("a"), party("b", LATE)) is None


def test_feedback_takes_a_score_from_0_to_10_and_an_optional_comment():
    valid = validate_feedback(FeedbackInput("c-1", 0, "  ", "o-1"))
    assert (valid.score, valid.comment) == (0, None)
    assert rule_attributes(valid) == {"score": 0, "has_comment": False, "for_order": True}
    with pytest.raises(DomainErrors) as caught:
        validate_feedback(FeedbackInput("c-1", -1, "x" * 2001, "bad id"))
    assert [(e.field, e.code) for e in caught.value.errors] == [
        (["order_external_id"], ErrorCode.INVALID_ID),
        (["score"], ErrorCode.INVALID),
        (["comment"], ErrorCode.INVALID),
    ]


def _order(lines, **extra) -> OrderInput:
    return OrderInput("o-1", "c-1", "EUR", tuple(lines), **extra)


def test_an_order_without_tags_or_country_keeps_the_digest_it_had_before_they_existed():
    valid = validate_order(_order([OrderLineInput("A", 1, "1.00", "toys")]), ExchangeRates("EUR"))
    before = {
        "customer": "c-1",
        "currency": "EUR",
        "shipping": "0",
        "coupons": [],
        "placedAt": None,
        "lines": [["A", "toys", 1, "1.00"]],
    }
    assert valid.request_hash == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()


def test_tags_and_country_are_part_of_an_orders_digest():
    rates = ExchangeRates("EUR")
    plain = validate_order(_order([OrderLineInput("A", 1, "1.00")]), rates)
    tagged = validate_order(_order([OrderLineInput("A", 1, "1.00", tags=("b", "a"))]), rates)
    retagged = validate_order(_order([OrderLineInput("A", 1, "1.00", tags=("a", "b"))]), rates)
    shipped = validate_order(_order([OrderLineInput("A", 1, "1.00")], country="fr"), rates)
    assert tagged.request_hash == retagged.request_hash
    assert len({plain.request_hash, tagged.request_hash, shipped.request_hash}) == 3
    assert shipped.facts.country == "FR"
    assert tagged.facts.lines[0].tags == frozenset({"a", "b"})
