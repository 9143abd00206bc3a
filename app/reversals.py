"""Taking back what was earned: from the bucket the points sit in, never below zero."""

from __future__ import annotations

from domain.ledger import Balance, Bucket, EntryKind, NewEntry
from persistence.returns import EarnedPart


def reversal_entries(
    earned: list[EarnedPart], due: dict[str, int], balance: Balance, reason: str
) -> tuple[list[NewEntry], int]:
    """Reverse from the bucket the points sit in, never below zero: points already spent
    cannot be taken back, and are reported as unrecovered instead."""
    left = {Bucket.AVAILABLE: balance.available, Bucket.PENDING: balance.pending}
    entries: list[NewEntry] = []
    unrecovered = 0
    for part in earned:
        points = due.pop(part.rule_id, 0)
        if not points:
            continue
        bucket = Bucket.AVAILABLE if part.available else Bucket.PENDING
        take = min(points, left[bucket])
        left[bucket] -= take
        unrecovered += points - take
        if take:
            entries.append(
                NewEntry(
                    EntryKind.REVERSE,
                    bucket,
                    -take,
                    reason,
                    rule_id=part.rule_id,
                    rules_version=part.rules_version,
                )
            )
    return entries, unrecovered
