"""Experiments (issue 13): an earn entry records the `experiment/variant` of the rule that
earned it, so that analytics can compare variants. A nullable column added to the
append-only ledger: no existing row is rewritten."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0015_customer_attributes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="LedgerEntry",
            name="variant",
            field=fields.CharField(null=True, max_length=160),
        ),
    ]
