"""The per-request context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app.bootstrap import Services
from app.reads import customers_by_external_ids
from domain.auth import Caller
from domain.customers import Customer


def _customer_loader(services: Services) -> DataLoader[str, Customer | None]:
    async def load(external_ids: list[str]) -> list[Customer | None]:
        return await customers_by_external_ids(services.uow, external_ids)

    return DataLoader(load_fn=load)


@dataclass
class Context:
    services: Services
    caller: Caller
    customers: DataLoader[str, Customer | None] = field(init=False)
    connection_params: dict | None = None
    """graphql-transport-ws: the `connection_init` payload (strawberry sets it)."""

    def __post_init__(self) -> None:
        self.customers = _customer_loader(self.services)


Info = StrawberryInfo[Context, None]
