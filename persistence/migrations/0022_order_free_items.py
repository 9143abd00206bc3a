"""Free items (issue 13): the products a rule's `free_item` gave an order, kept with it."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0021_campaign_limits_and_money_budgets")]

    initial = False

    operations = [
        ops.CreateModel(
            name="OrderFreeItem",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="free_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("rule_id", fields.CharField(max_length=128)),
                ("sku", fields.CharField(max_length=128)),
                ("quantity", fields.IntField()),
                ("value", fields.DecimalField(max_digits=20, decimal_places=4)),
            ],
            options={"table": "order_free_items", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
