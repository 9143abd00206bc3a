"""A backtest (`loyalty rules simulate`, issue 13) replays a period's orders and events with
each customer's facts as of then: it reads the events by when they happened, and each
replayed order's customer's earlier orders (their count, spend and last date)."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0017_analytics")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="EngagementEvent",
            index=Index(fields=["occurred_at"]),
        ),
        ops.AddIndex(
            model_name="Order",
            index=Index(fields=["customer_id", "placed_at"]),
        ),
    ]
