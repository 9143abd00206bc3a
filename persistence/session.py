"""A session of the unit of work: its mode, and the repositories that speak on it."""

from __future__ import annotations


class NeedsLock(Exception):
    """Work in an unlocked session asked for something only the customer's lock allows."""


class Session:
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
