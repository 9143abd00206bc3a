"""The repositories, each a member of the unit of work's session (`session.customers`...)."""

from persistence.adjustments import Adjustments
from persistence.credentials import Credentials, RulesVersions
from persistence.customers import Customers
from persistence.engagement import Events
from persistence.jobs import Jobs
from persistence.ledger import Ledger
from persistence.orders import Orders
from persistence.outbox import Outbox
from persistence.returns import Returns
from persistence.rule_uses import Limits
from persistence.rules_activations import RulesActivations

__all__ = [
    "Adjustments",
    "Credentials",
    "Customers",
    "Events",
    "Jobs",
    "Ledger",
    "Limits",
    "Orders",
    "Outbox",
    "Returns",
    "RulesActivations",
    "RulesVersions",
]
