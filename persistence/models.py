"""Tortoise models: the only place that knows table shapes.

Balances on `Customer` are a cache of the ledger kept in the same transaction as the
entries they sum; `tests/` check the two never disagree.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Customer(Model):
    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, unique=True)
    email = fields.CharField(max_length=254)
    name = fields.CharField(max_length=200, null=True)
    birthday = fields.DateField(null=True)
    tags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    referral_code = fields.CharField(max_length=64, null=True)
    tier = fields.CharField(max_length=64, null=True)
    points_available = fields.BigIntField(default=0)
    points_pending = fields.BigIntField(default=0)
    lifetime_earned = fields.BigIntField(default=0)
    lifetime_spend = fields.DecimalField(max_digits=20, decimal_places=4, default=0)
    order_count = fields.IntField(default=0)
    last_order_at = fields.DatetimeField(null=True)
    enrolled_at = fields.DatetimeField()

    class Meta:
        table = "customers"


class Order(Model):
    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="orders", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    placed_at = fields.DatetimeField()
    subtotal = fields.DecimalField(max_digits=20, decimal_places=4)
    shipping_amount = fields.DecimalField(max_digits=20, decimal_places=4, default=0)
    # The order counts in the program currency: its subtotal converted at the rate the
    # rules version in force declared (1 when the order is in the program currency). The
    # columns above keep the order's own currency and amounts. Always written; nullable only
    # so that migration 0004 could add them to existing rows before filling them in.
    program_currency = fields.CharField(max_length=3, null=True)
    program_subtotal = fields.DecimalField(max_digits=20, decimal_places=4, null=True)
    exchange_rate = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    coupon_codes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    points_earned = fields.BigIntField(default=0)
    rules_version = fields.CharField(max_length=64)
    # Digest of the order as first recorded: a replay with other content is refused.
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "orders"


class OrderLine(Model):
    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    sku = fields.CharField(max_length=128)
    category = fields.CharField(max_length=128, null=True)
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        table = "order_lines"
        unique_together = (("order", "position"),)


# Docstrings on models become SQL table comments in Tortoise's migrations, so the notes
# on tables below are comments.


# Append-only: rows are inserted, never updated or deleted.
class LedgerEntry(Model):
    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="ledger_entries", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16)
    bucket = fields.CharField(max_length=16)
    points = fields.BigIntField()
    reason = fields.CharField(max_length=500)
    rule_id = fields.CharField(max_length=128, null=True)
    rules_version = fields.CharField(max_length=64, null=True)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )
    # Who asked for it: an API key name for adjustments, an event id for engagement.
    source = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField()
    available_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    # The entry this one acts on (the earn entry a release, reversal or expiry moves); the
    # unique index makes each of those happen once, however many jobs run at once.
    related_entry: fields.ForeignKeyNullableRelation[LedgerEntry] = fields.ForeignKeyField(
        "models.LedgerEntry", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    event: fields.ForeignKeyNullableRelation[EngagementEvent] = fields.ForeignKeyField(
        "models.EngagementEvent", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "ledger_entries"
        # Every foreign key a query filters on has its own index (returns by order_id,
        # engagement by event_id, releases and expiries by related_entry_id).
        indexes = (
            ("customer_id", "id"),
            ("bucket", "available_at"),
            ("order_id",),
            ("event_id",),
            ("related_entry_id",),
        )
        unique_together = (("kind", "bucket", "related_entry_id"),)


# An engagement event the store reported (review.published, social.followed, ...);
# idempotent on external_id like orders.
class EngagementEvent(Model):
    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="engagement_events", on_delete=fields.RESTRICT
    )
    type = fields.CharField(max_length=64)
    attributes: fields.JSONField[dict] = fields.JSONField(default=dict)
    occurred_at = fields.DatetimeField()
    points_earned = fields.BigIntField(default=0)
    rules_version = fields.CharField(max_length=64)
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "engagement_events"


# Uses of limited rules (per-customer limits, budgets), append-only like the ledger: a
# returned order gives its uses back with a row of negative uses dated like the original,
# so it counts in the period it was taken from.
class RuleUse(Model):
    id = fields.BigIntField(primary_key=True)
    rule_id = fields.CharField(max_length=128)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="rule_uses", on_delete=fields.RESTRICT
    )
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="rule_uses", null=True, on_delete=fields.RESTRICT
    )
    event: fields.ForeignKeyNullableRelation[EngagementEvent] = fields.ForeignKeyField(
        "models.EngagementEvent", related_name="rule_uses", null=True, on_delete=fields.RESTRICT
    )
    uses = fields.IntField()
    points = fields.BigIntField()
    used_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "rule_uses"
        indexes = (("customer_id", "rule_id", "used_at"), ("order_id",))


# One row per rule with a budget: locked while an award is decided, so that concurrent
# orders of different customers cannot overspend it.
class RuleBudget(Model):
    rule_id = fields.CharField(max_length=128, primary_key=True)
    points_awarded = fields.BigIntField(default=0)

    class Meta:
        table = "rule_budgets"


# Outbox of reward events, written in the transaction that caused them; the id orders
# them so that subscribers can resume after the last one they saw.
class RewardEvent(Model):
    id = fields.BigIntField(primary_key=True)
    type = fields.CharField(max_length=64)
    customer_external_id = fields.CharField(max_length=128, null=True)
    occurred_at = fields.DatetimeField()
    payload: fields.JSONField[dict] = fields.JSONField()

    class Meta:
        table = "reward_events"


class RulesVersion(Model):
    version = fields.CharField(max_length=64, primary_key=True)
    sources: fields.JSONField[dict[str, str]] = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "rules_versions"


class RulesActivation(Model):
    """One row each time a worker puts a rules version in force (append-only).

    The newest row is the version every worker must run (app.rules_sync follows it)."""

    id = fields.BigIntField(primary_key=True)
    version = fields.CharField(max_length=64)
    activated_at = fields.DatetimeField()

    class Meta:
        table = "rules_activations"


class ApiKey(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=32, unique=True)
    key_hash = fields.CharField(max_length=128)
    scopes: fields.JSONField[list[str]] = fields.JSONField()
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class Setting(Model):
    key = fields.CharField(max_length=64, primary_key=True)
    value = fields.TextField()

    class Meta:
        table = "settings"


# A return the store reported against an order; idempotent on external_id. Its ledger
# entries are the order's REVERSE entries whose source names it.
class OrderReturn(Model):
    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, unique=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="returns", on_delete=fields.RESTRICT
    )
    returned_amount = fields.DecimalField(max_digits=20, decimal_places=4)
    points_reversed = fields.BigIntField()
    # What the return should have taken back but the customer had already spent: kept so
    # that a replay answers what the first recording answered.
    points_unrecovered = fields.BigIntField(db_default=0)
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "order_returns"
        indexes = (("order_id",),)


class OrderReturnLine(Model):
    id = fields.BigIntField(primary_key=True)
    order_return: fields.ForeignKeyRelation[OrderReturn] = fields.ForeignKeyField(
        "models.OrderReturn", related_name="lines", on_delete=fields.CASCADE
    )
    sku = fields.CharField(max_length=128)
    quantity = fields.IntField()

    class Meta:
        table = "order_return_lines"
        indexes = (("order_return_id",),)


# A manual adjustment that came with an idempotency key: the key's unique index makes a
# retried adjustment write nothing; the ledger entry it wrote answers the replay.
class Adjustment(Model):
    id = fields.BigIntField(primary_key=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="adjustments", on_delete=fields.RESTRICT
    )
    entry: fields.ForeignKeyRelation[LedgerEntry] = fields.ForeignKeyField(
        "models.LedgerEntry", related_name=False, on_delete=fields.RESTRICT
    )
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "adjustments"
