"""A delivery's claim is named by a token that its attempt's recording must still find: a
redelivery (or another worker's claim after this one lapsed) replaces or clears it, and the
attempt recorded after that no longer overwrites the new schedule (issue 11)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0019_backtest_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="WebhookDelivery",
            name="claim_token",
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
