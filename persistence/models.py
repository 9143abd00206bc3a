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
    # Custom attributes the rule files declare (customer_attributes), checked on the way in.
    # Nullable so that migration 0015 can add it to a table that already has customers
    # (NULL reads as no attributes); every enrolment writes an object.
    attributes: fields.JSONField[dict] = fields.JSONField(default=dict, null=True)
    referral_code = fields.CharField(max_length=64, null=True)
    # The customer's own code, given to friends (`enrollCustomer(referralCode)`).
    referral_code = fields.CharField(max_length=64, null=True, unique=True)
    # Who referred this customer: set once, at most one referrer (see app.referrals).
    referred_by: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="referred_friends", null=True, on_delete=fields.RESTRICT
    )
    referred_by_id: int | None
    tier = fields.CharField(max_length=64, null=True)
    points_available = fields.BigIntField(default=0)
    points_pending = fields.BigIntField(default=0)
    lifetime_earned = fields.BigIntField(default=0)
    lifetime_spend = fields.DecimalField(max_digits=20, decimal_places=4, default=0)
    order_count = fields.IntField(default=0)
    last_order_at = fields.DatetimeField(null=True)
    enrolled_at = fields.DatetimeField()
    # The date of the last tier review applied to the customer (app.tier_reviews): a review
    # is applied once, whichever runner gets to it.
    tier_reviewed_at = fields.DatetimeField(null=True)
    # The last year the birthday job wished the customer a happy birthday (once a year).
    birthday_year = fields.IntField(null=True)

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
    # The shipping country (ISO 3166-1 alpha-2) the rules saw; NULL when none was sent.
    country = fields.CharField(max_length=2, null=True)
    points_earned = fields.BigIntField(default=0)
    rules_version = fields.CharField(max_length=64)
    # Digest of the order as first recorded: a replay with other content is refused.
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "orders"
        # Metrics read orders by when they were placed (persistence.analytics); a backtest
        # reads each replayed order's customer's earlier orders (persistence.history).
        indexes = (("placed_at",), ("customer_id", "placed_at"))


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
    # The product's tags the rules saw, sorted; NULL for lines recorded before they were kept.
    tags: fields.JSONField[list[str]] = fields.JSONField(null=True)

    class Meta:
        table = "order_lines"
        unique_together = (("order", "position"),)


# Docstrings on models become SQL table comments in Tortoise's migrations, so the notes
# on tables below are comments.


# Products a rule's free_item gave an order, as its evaluation decided (the store adds
# them as lines at price 0): what the order reports, and a replay reads back.
class OrderFreeItem(Model):
    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="free_items", on_delete=fields.CASCADE
    )
    rule_id = fields.CharField(max_length=128)
    sku = fields.CharField(max_length=128)
    quantity = fields.IntField()
    value = fields.DecimalField(max_digits=20, decimal_places=4)
    """What the free units are worth, in the program currency."""

    class Meta:
        table = "order_free_items"


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
    # `experiment/variant` when the rule that earned it belongs to an experiment (A/B).
    variant = fields.CharField(max_length=160, null=True)
    # An adjustment whose points count toward the customer's tier (`adjustPoints`'
    # countsTowardTier); earn and reverse entries always count, other kinds never.
    # Nullable so that migration 0020 adds it to a ledger that has entries (NULL: no).
    counts_toward_tier = fields.BooleanField(null=True)

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
        # A backtest replays the events of a period, and checks which event types were seen
        # in one (persistence.history).
        indexes = (("occurred_at",),)


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
    amount = fields.DecimalField(max_digits=20, decimal_places=4, default=0)
    """Discounts the use gave, in the program currency (for budgets in money)."""
    scope = fields.CharField(max_length=256, null=True)
    """The value of the event attribute a limit counts per (`limit: {per: event.order_id}`)."""
    used_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "rule_uses"
        indexes = (("customer_id", "rule_id", "used_at"), ("order_id",))


# One row per counter counted across customers (a budget in points or money, a program
# cap), for a rule or a campaign: locked while an award is decided, so that concurrent
# orders of different customers cannot overspend it.
class RuleBudget(Model):
    rule_id = fields.CharField(max_length=128, primary_key=True)
    """A counter key: a rule id, or campaign:<id>."""
    points_awarded = fields.BigIntField(default=0)
    amount_awarded = fields.DecimalField(max_digits=20, decimal_places=4, default=0)
    uses = fields.BigIntField(default=0)
    """Uses across the whole program (for `limit: {total: N}`)."""

    class Meta:
        table = "rule_budgets"


# Outbox of reward events, written in the transaction that caused them; the id orders
# them so that subscribers can resume after the last one they saw.
# `customer_sequence` numbers one customer's events 1, 2, 3... (see persistence.outbox).
class RewardEvent(Model):
    id = fields.BigIntField(primary_key=True)
    type = fields.CharField(max_length=64)
    customer_external_id = fields.CharField(max_length=128, null=True)
    occurred_at = fields.DatetimeField()
    payload: fields.JSONField[dict] = fields.JSONField()
    customer_sequence = fields.BigIntField(null=True)
    rules_version = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "reward_events"
        unique_together = (("customer_external_id", "customer_sequence"),)


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


# A referral's progress: linked at enrolment; completed (both rewarded) once the friend's
# first order has passed its return window; void when that order came back before; taken
# back when it came back after. One row per friend: a friend has one referrer.
class Referral(Model):
    id = fields.BigIntField(primary_key=True)
    referrer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="referrals_made", on_delete=fields.RESTRICT
    )
    friend: fields.OneToOneRelation[Customer] = fields.OneToOneField(
        "models.Customer", related_name="referral", on_delete=fields.RESTRICT
    )
    status = fields.CharField(max_length=16)
    first_order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    linked_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referrals"
        indexes = (("status", "id"), ("first_order_id",))


# A customer's recommendation score (0-10, NPS), at most one per order: the unique index
# on order_id settles two submissions at once. Its reward, if any, is the engagement event.
class Feedback(Model):
    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="feedback", on_delete=fields.RESTRICT
    )
    order: fields.OneToOneNullableRelation[Order] = fields.OneToOneField(
        "models.Order", related_name="feedback", null=True, on_delete=fields.RESTRICT
    )
    score = fields.SmallIntField()
    comment = fields.TextField(null=True)
    event: fields.ForeignKeyNullableRelation[EngagementEvent] = fields.ForeignKeyField(
        "models.EngagementEvent", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "feedback"


# "Bought together": how many orders hold both skus, rebuilt from order history by the
# learned-suggestions job in one INSERT ... SELECT. Pairs are stored both ways round.
class LearnedPair(Model):
    id = fields.BigIntField(primary_key=True)
    sku = fields.CharField(max_length=128)
    category = fields.CharField(max_length=128, null=True)
    suggested_sku = fields.CharField(max_length=128)
    suggested_category = fields.CharField(max_length=128, null=True)
    orders = fields.IntField()
    refreshed_at = fields.DatetimeField()

    class Meta:
        table = "learned_pairs"
        unique_together = (("sku", "suggested_sku"),)


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


# One `points.expiring` notice per customer and expiry date (app.expiry_notices): the
# unique key makes a second run, or two at once, write no second notice; a new date (the
# inactivity policy's, moved by a new activity) is a new notice.
class ExpiryNotice(Model):
    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="expiry_notices", on_delete=fields.RESTRICT
    )
    expires_on = fields.DateField()
    points = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "expiry_notices"
        unique_together = (("customer_id", "expires_on"),)


# One row per scheduled job: whoever holds an unexpired lease runs it, so that several
# workers or hosts run each job one at a time. The lease is taken and given back in
# statements of their own (no connection is held while the job runs); a holder killed
# half-way leaves a lease that simply runs out.
class JobLease(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=200)
    leased_until = fields.DatetimeField()
    next_run_at = fields.DatetimeField()

    class Meta:
        table = "job_leases"


# Each run of a job, scheduled or by `loyalty jobs run`: when, as of which time, what it
# did, and how it ended (what operators count and alert on).
class JobRun(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    holder = fields.CharField(max_length=200)
    as_of = fields.DatetimeField()
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    status = fields.CharField(max_length=16)
    customers = fields.BigIntField(default=0)
    entries = fields.BigIntField(default=0)
    points = fields.BigIntField(default=0)
    error = fields.TextField(null=True)

    class Meta:
        table = "job_runs"
        indexes = (("name", "started_at"),)


# One customer's redemption of a reward: the reward as it was when redeemed (a later rules
# version cannot change what was paid for), its coupon code and its state. The points it
# spent are the REDEEM ledger entry whose source names it; a refund is a REFUND entry
# related to that one (the unique index on the ledger makes a refund happen once).
class Redemption(Model):
    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="redemptions", on_delete=fields.RESTRICT
    )
    reward_id = fields.CharField(max_length=128)
    reward_name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=32)
    value = fields.DecimalField(max_digits=20, decimal_places=4, null=True)
    sku = fields.CharField(max_length=128, null=True)
    min_order = fields.DecimalField(max_digits=20, decimal_places=4, null=True)
    currency = fields.CharField(max_length=3)
    points_spent = fields.BigIntField()
    # Points spent beyond the lots of earn entries (manual credits), given back as they are.
    points_untraced = fields.BigIntField(default=0)
    state = fields.CharField(max_length=16)
    rules_version = fields.CharField(max_length=64)
    # The client's key for retries, unique when given; the digest tells a retry from a reuse.
    idempotency_key = fields.CharField(max_length=128, unique=True, null=True)
    request_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="redemptions", null=True, on_delete=fields.RESTRICT
    )
    used_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "redemptions"
        # By customer (limits, listings), by due expiry (the job), by order (returns).
        indexes = (("customer_id", "reward_id", "created_at"), ("state", "expires_at"), ("order_id",))


# Which earn entries' points a redemption spent (positive) and a refund put back
# (negative), append-only: an earn entry's lot is what it put in the available bucket less
# these, and the expiry job expires only what is left.
class RedemptionLot(Model):
    id = fields.BigIntField(primary_key=True)
    redemption: fields.ForeignKeyRelation[Redemption] = fields.ForeignKeyField(
        "models.Redemption", related_name="lots", on_delete=fields.RESTRICT
    )
    entry: fields.ForeignKeyRelation[LedgerEntry] = fields.ForeignKeyField(
        "models.LedgerEntry", related_name=False, on_delete=fields.RESTRICT
    )
    points = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "redemption_lots"
        indexes = (("entry_id",), ("redemption_id",))


# One row per reward with a stock: locked while a redemption is decided (after the
# customer's row, like budgets), so concurrent redemptions cannot oversell it.
class RewardStock(Model):
    reward_id = fields.CharField(max_length=128, primary_key=True)
    redeemed = fields.BigIntField(default=0)

    class Meta:
        table = "reward_stock"


# Marketing spend a marketer recorded for a period, so that metrics can answer the
# customer acquisition cost (spend / new enrolments). Append-only: spend for a period is
# the sum of its rows.
class MarketingSpend(Model):
    id = fields.BigIntField(primary_key=True)
    period_start = fields.DateField()
    period_end = fields.DateField()
    amount = fields.DecimalField(max_digits=20, decimal_places=4)
    currency = fields.CharField(max_length=3)
    created_at = fields.DatetimeField()

    class Meta:
        table = "marketing_spend"
        indexes = (("period_start",),)


# A live cart the store told the service about (`updateCart`), one row per cart id: the
# latest lines win. The abandoned-carts job moves an open cart not followed by an order
# to `abandoned` (and writes `cart.abandoned`) with one guarded UPDATE, so two runners
# abandon it once; an update re-opens it, an order with its id closes it (`ordered`, or
# `recovered` when an abandonment had been sent: the metric marketers follow).
class Cart(Model):
    id = fields.BigIntField(primary_key=True)
    cart_id = fields.CharField(max_length=128, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="carts", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    lines: fields.JSONField[list] = fields.JSONField()
    # In the cart's currency, and in the program's (what the rules and metrics count).
    subtotal = fields.DecimalField(max_digits=20, decimal_places=4)
    program_subtotal = fields.DecimalField(max_digits=20, decimal_places=4)
    state = fields.CharField(max_length=16)
    # Counts every update: the job abandons the cart only as it evaluated it.
    revision = fields.IntField(default=1)
    abandonments = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    abandoned_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name=False, null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "carts"
        # The job's selection: open carts by when they were last updated.
        indexes = (("state", "updated_at"), ("customer_id",), ("order_id",))
