"""A session of the unit of work: one connection, its mode, and the repositories on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from persistence.connections import Connection


class Stale(Exception):
    """A guarded write found the customer changed since it was read; nothing was written."""


class NeedsLock(Exception):
    """Work in an unlocked session asked for something only the customer's lock allows."""


@dataclass
class Snapshot:
    """A customer row as read: its id, and the facts a guarded write checks."""

    id: int
    order_count: int
    lifetime_earned: int
    lifetime_spend: object
    tier: str | None
    points_available: int
    points_pending: int


@dataclass
class IdentityMap:
    customers: dict[str, Snapshot] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


class Session:
    def __init__(self, conn: Connection, *, mode: str):
        assert mode in ("locked", "unlocked", "read"), mode
        self.conn = conn
        self.mode = mode
        self._wrote = False
        self.seen = IdentityMap()

    # Repositories are made when first used: most sessions use two or three of them.
    @cached_property
    def customers(self) -> repositories.Customers:
        return repositories.Customers(self)

    @cached_property
    def orders(self) -> repositories.Orders:
        return repositories.Orders(self)

    @cached_property
    def ledger(self) -> repositories.Ledger:
        return repositories.Ledger(self)

    @cached_property
    def outbox(self) -> repositories.Outbox:
        return repositories.Outbox(self)

    @cached_property
    def limits(self) -> repositories.Limits:
        return repositories.Limits(self)

    @cached_property
    def returns(self) -> repositories.Returns:
        return repositories.Returns(self)

    @cached_property
    def events(self) -> repositories.Events:
        return repositories.Events(self)

    @cached_property
    def jobs(self) -> repositories.Jobs:
        return repositories.Jobs(self)

    @cached_property
    def adjustments(self) -> repositories.Adjustments:
        return repositories.Adjustments(self)

    @cached_property
    def credentials(self) -> repositories.Credentials:
        return repositories.Credentials(self)

    @cached_property
    def rules_versions(self) -> repositories.RulesVersions:
        return repositories.RulesVersions(self)

    @cached_property
    def rules_activations(self) -> repositories.RulesActivations:
        return repositories.RulesActivations(self)

    @property
    def locked(self) -> bool:
        """Customers read for change are locked (or writers serialised) until the end."""
        return self.mode == "locked"

    @property
    def on_postgres(self) -> bool:
        return self.conn.dialect == "postgres"

    def needs_lock(self) -> None:
        """Called before reads that are only meaningful under the customer's lock."""
        if not self.locked:
            raise NeedsLock()

    def writing(self, *, guarded: bool = False) -> None:
        """Called before every write. Unlocked, the one write allowed is a guarded one: it
        commits on its own, so it must be the whole change."""
        if self.locked:
            return
        assert self.mode == "unlocked", "a reading session writes nothing"
        assert not self._wrote, "an unlocked session writes once: its guarded write is the whole change"
        if not guarded:
            raise NeedsLock()
        self._wrote = True


# Last: the repositories import this module's names.
from persistence import repositories  # noqa: E402
