"""Who is calling, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    ADMIN = "admin"
    ORDERS_WRITE = "orders:write"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    EVENTS_READ = "events:read"
    RULES_WRITE = "rules:write"
    METRICS_READ = "metrics:read"


@dataclass(frozen=True)
class ApiKeyCaller:
    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class CustomerCaller:
    """A storefront acting for one customer: sees that customer and nothing else."""

    external_id: str


Caller = ApiKeyCaller | CustomerCaller | None
