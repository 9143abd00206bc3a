"""The per-request context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app.bootstrap import Services
from app.reads import customers_by_external_ids
from domain.auth import Caller
from domain.customers import Customer


def _customer_loader() -> DataLoader[str, Customer | None]:
    return DataLoader(load_fn=customers_by_external_ids)


@dataclass
class Context:
    services: Services
    caller: Caller
    customers: DataLoader[str, Customer | None] = field(default_factory=_customer_loader)
    connection_params: dict | None = None
    """graphql-transport-ws: the `connection_init` payload (strawberry sets it)."""


Info = StrawberryInfo[Context, None]
