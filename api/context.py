"""The per-request context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app import reads
from app.bootstrap import Services
from domain.auth import Caller
from domain.customers import Customer


@dataclass
class Context:
    services: Services
    caller: Caller
    customers: DataLoader[str, Customer | None] = field(init=False)

    def __post_init__(self) -> None:
        uow = self.services.uow

        async def load(external_ids: list[str]) -> list[Customer | None]:
            return await reads.customers_by_external_ids(uow, external_ids)

        self.customers = DataLoader(load_fn=load)


Info = StrawberryInfo[Context, None]
