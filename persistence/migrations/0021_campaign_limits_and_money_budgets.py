"""Limits shared by a campaign's rules, program caps, limits per an event attribute and
budgets in money (issue 13): a rule use keeps the discount it gave and the value it was
counted under; a budget row (rule or campaign:<id>) keeps discounts given and uses."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0020_events_claim_token")]

    initial = False

    operations = [
        ops.AddField(
            model_name="RuleUse",
            name="amount",
            field=fields.DecimalField(max_digits=20, decimal_places=4, default=0),
        ),
        ops.AddField(
            model_name="RuleUse",
            name="scope",
            field=fields.CharField(max_length=256, null=True),
        ),
        ops.AddField(
            model_name="RuleBudget",
            name="amount_awarded",
            field=fields.DecimalField(max_digits=20, decimal_places=4, default=0),
        ),
        ops.AddField(
            model_name="RuleBudget",
            name="uses",
            field=fields.BigIntField(default=0),
        ),
    ]
