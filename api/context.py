"""The per-request context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app.bootstrap import Services
from domain.auth import Caller
from persistence import repositories as repo
from persistence.rows import CustomerRow


def _customer_loader() -> DataLoader[str, CustomerRow | None]:
    async def load(external_ids: list[str]) -> list[CustomerRow | None]:
        found = await repo.customers_by_external_ids(external_ids)
        return [found.get(external_id) for external_id in external_ids]

    return DataLoader(load_fn=load)


@dataclass
class Context:
    services: Services
    caller: Caller
    customers: DataLoader[str, CustomerRow | None] = field(default_factory=_customer_loader)
    connection_params: dict | None = None
    """graphql-transport-ws: the `connection_init` payload (strawberry sets it)."""


Info = StrawberryInfo[Context, None]
