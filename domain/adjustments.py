"""Manual adjustments: the request, checked, and what tells a retry from a reuse of its key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

from domain import validation


@dataclass(frozen=True)
class ValidAdjustment:
    customer_external_id: str
    points: int
    reason: str
    idempotency_key: str | None = None
    counts_toward_tier: bool = False
    """Whether the points count toward the customer's tier (and lifetime earned) like
    earned points; by default a manual credit does not (a goodwill gesture is not spend)."""

    @cached_property
    def request_hash(self) -> str:
        """Same content, same digest: how a retry is told from a conflicting reuse of a key."""
        body: dict[str, object] = {"customer": self.customer_external_id, "points": self.points, "reason": self.reason}
        if self.counts_toward_tier:
            # Only when set, so that the digests of adjustments made before it stay as they were.
            body["countsTowardTier"] = True
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def validate_adjustment(
    customer_external_id: str,
    points: int,
    reason: str,
    idempotency_key: str | None = None,
    counts_toward_tier: bool = False,
) -> ValidAdjustment:
    validation.external_id(customer_external_id, ["customer_external_id"])
    reason_text = validation.text(reason, ["reason"], 500, required=True) or ""
    if idempotency_key is not None:
        validation.external_id(idempotency_key, ["idempotency_key"])
    return ValidAdjustment(customer_external_id, points, reason_text, idempotency_key, counts_toward_tier)
