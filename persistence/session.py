"""A session of the unit of work: one connection, its mode, and the repositories on it."""

from __future__ import annotations

from dataclasses import dataclass, field

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
        from persistence import repositories  # they import this module's names

        self.conn = conn
        self.mode = mode
        self._wrote = False
        self.seen = IdentityMap()
        self.customers = repositories.Customers(self)
        self.orders = repositories.Orders(self)
        self.ledger = repositories.Ledger(self)
        self.outbox = repositories.Outbox(self)
        self.limits = repositories.Limits(self)
        self.returns = repositories.Returns(self)
        self.events = repositories.Events(self)
        self.jobs = repositories.Jobs(self)
        self.credentials = repositories.Credentials(self)
        self.rules_versions = repositories.RulesVersions(self)

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
