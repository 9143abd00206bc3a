"""Issue 12, expiry: `points.expiring` notices once per customer and date, and
adjustments that count toward a tier."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint


class Migration(migrations.Migration):
    dependencies = [("models", "0023_carts")]

    initial = False

    operations = [
        ops.AddField(
            model_name="LedgerEntry",
            name="counts_toward_tier",
            field=fields.BooleanField(null=True),
        ),
        ops.CreateModel(
            name="ExpiryNotice",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.Customer",
                        source_field="customer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="expiry_notices",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("expires_on", fields.DateField()),
                ("points", fields.BigIntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "expiry_notices", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.AddConstraint(
            model_name="ExpiryNotice",
            constraint=UniqueConstraint(fields=("customer_id", "expires_on"), name=None),
        ),
    ]
