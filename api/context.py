"""The per-request context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app import program_metrics
from app.bootstrap import Services
from app.reads import customers_by_external_ids
from domain.auth import Caller
from domain.customers import Customer
from domain.metrics import Period

MetricGroups = list[tuple[str, program_metrics.Metrics]]


def _customer_loader(services: Services) -> DataLoader[str, Customer | None]:
    async def load(external_ids: list[str]) -> list[Customer | None]:
        return await customers_by_external_ids(services.uow, external_ids)

    return DataLoader(load_fn=load)


def _metrics_loader(services: Services) -> DataLoader[tuple[Period, program_metrics.Dimension], MetricGroups]:
    """The parts of one programMetrics query (overall, byTier, byCohort, byMonth) are
    resolved together: computed in one call, which sums each large table once for them."""

    async def load(keys: list[tuple[Period, program_metrics.Dimension]]) -> list[MetricGroups]:
        found: dict[Period, dict[program_metrics.Dimension, MetricGroups]] = {}
        for span in dict.fromkeys(span for span, _ in keys):
            wanted = list(dict.fromkeys(d for s, d in keys if s == span))
            found[span] = await program_metrics.figures_for(services.uow, services.program, span, wanted)
        return [found[span][dimension] for span, dimension in keys]

    return DataLoader(load_fn=load)


@dataclass
class Context:
    services: Services
    caller: Caller
    connection_params: dict | None = None
    """graphql-transport-ws: the `connection_init` payload (strawberry sets it)."""
    _customers: DataLoader[str, Customer | None] | None = field(default=None, init=False, repr=False)
    _metric_groups: DataLoader[tuple[Period, program_metrics.Dimension], MetricGroups] | None = field(
        default=None, init=False, repr=False
    )

    # The loaders are made when first used, once per request: most requests use neither,
    # and two DataLoaders per request were a fortieth of a storefront read's CPU.
    @property
    def customers(self) -> DataLoader[str, Customer | None]:
        if self._customers is None:
            self._customers = _customer_loader(self.services)
        return self._customers

    @property
    def metric_groups(self) -> DataLoader[tuple[Period, program_metrics.Dimension], MetricGroups]:
        if self._metric_groups is None:
            self._metric_groups = _metrics_loader(self.services)
        return self._metric_groups


Info = StrawberryInfo[Context, None]
