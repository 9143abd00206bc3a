from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EngagementEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=128)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='engagement_events', on_delete=OnDelete.RESTRICT)),
                ('type', fields.CharField(max_length=64)),
                ('attributes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('points_earned', fields.BigIntField(default=0)),
                ('rules_version', fields.CharField(max_length=64)),
                ('request_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'engagement_events', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleBudget',
            fields=[
                ('rule_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('points_awarded', fields.BigIntField(default=0)),
            ],
            options={'table': 'rule_budgets', 'app': 'models', 'pk_attr': 'rule_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleUse',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rule_id', fields.CharField(max_length=128)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='rule_uses', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='rule_uses', on_delete=OnDelete.RESTRICT)),
                ('event', fields.ForeignKeyField('models.EngagementEvent', source_field='event_id', null=True, db_constraint=True, to_field='id', related_name='rule_uses', on_delete=OnDelete.RESTRICT)),
                ('uses', fields.IntField()),
                ('points', fields.BigIntField()),
                ('used_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rule_uses', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'rule_id', 'used_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='LedgerEntry',
            name='event',
            field=fields.ForeignKeyField('models.EngagementEvent', source_field='event_id', null=True, db_constraint=True, to_field='id', related_name='ledger_entries', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='LedgerEntry',
            name='related_entry',
            field=fields.ForeignKeyField('models.LedgerEntry', source_field='related_entry_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT),
        ),
        ops.AddIndex(
            model_name='LedgerEntry',
            index=Index(fields=['bucket', 'available_at']),
        ),
        ops.AddConstraint(
            model_name='LedgerEntry',
            constraint=UniqueConstraint(fields=('kind', 'bucket', 'related_entry_id'), name=None),
        ),
    ]
