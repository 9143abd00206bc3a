"""A/B splits: which variant of an experiment a customer is in.

The split is a hash of the experiment id and the customer's external id, so it is the same
on every worker, in every rules version that keeps the experiment's shares, and needs no
stored assignment; a different experiment id reshuffles customers independently.
"""

from __future__ import annotations

import hashlib

from rules.model import Experiment


def bucket(experiment_id: str, customer_id: str) -> int:
    """0-99, uniform over customers."""
    digest = hashlib.sha256(f"{experiment_id}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def variant_of(experiment: Experiment, customer_id: str) -> str:
    """The variant whose share covers the customer's bucket (shares add up to 100)."""
    point, covered = bucket(experiment.id, customer_id), 0
    for name, share in experiment.variants:
        covered += share
        if point < covered:
            return name
    raise AssertionError(f"experiment {experiment.id}: shares add up to {covered}, not 100")
