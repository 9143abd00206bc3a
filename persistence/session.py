"""A session of the unit of work: its mode, and the repositories that speak on it.

A repository is one of persistence's modules, in domain terms: its functions run on the
session's connection (the unit of work binds it for the session's duration, see
persistence.sql), so a use case reaches them as the session's members
(`session.customers.lock_customer(...)`), and a fake session (tests/fake_uow.py) stands
in for all of them.
"""

from __future__ import annotations

from persistence import (
    adjustments,
    analytics,
    birthdays,
    bulk_imports,
    carts,
    credentials,
    engagement,
    entries,
    expiry_notices,
    feedback,
    free_items,
    history,
    imports,
    job_leases,
    jobs,
    order_details,
    order_writes,
    outbox,
    reads,
    redemptions,
    referrals,
    returns,
    rule_uses,
    rules_activations,
    suggestions,
    tier_reviews,
    webhooks,
)
from persistence import repositories as customers


class NeedsLock(Exception):
    """Work in an unlocked session asked for something only the customer's lock allows."""


class Session:
    # Customers, their orders as read back, their ledger sums and the rules versions.
    customers = customers
    ledger = entries
    orders = order_writes
    order_details = order_details
    adjustments = adjustments
    analytics = analytics
    birthdays = birthdays
    carts = carts
    credentials = credentials
    events = engagement
    feedback = feedback
    free_items = free_items
    history = history
    imports = imports
    bulk_imports = bulk_imports
    job_leases = job_leases
    jobs = jobs
    outbox = outbox
    expiry_notices = expiry_notices
    reads = reads
    redemptions = redemptions
    referrals = referrals
    returns = returns
    limits = rule_uses
    rules_activations = rules_activations
    suggestions = suggestions
    tiers = tier_reviews
    webhooks = webhooks

    def __init__(self, *, mode: str):
        assert mode in ("locked", "unlocked", "read"), mode
        self.mode = mode

    @property
    def locked(self) -> bool:
        """Customers read for change are locked (or writers serialised) until the end."""
        return self.mode == "locked"

    def needs_lock(self) -> None:
        """Called before work that is only right under the customer's lock."""
        if not self.locked:
            raise NeedsLock()
