from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_referrals_feedback_learned_pairs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('reward_id', fields.CharField(max_length=128)),
                ('reward_name', fields.CharField(max_length=200)),
                ('kind', fields.CharField(max_length=32)),
                ('value', fields.DecimalField(null=True, max_digits=20, decimal_places=4)),
                ('sku', fields.CharField(null=True, max_length=128)),
                ('min_order', fields.DecimalField(null=True, max_digits=20, decimal_places=4)),
                ('currency', fields.CharField(max_length=3)),
                ('points_spent', fields.BigIntField()),
                ('points_untraced', fields.BigIntField(default=0)),
                ('state', fields.CharField(max_length=16)),
                ('rules_version', fields.CharField(max_length=64)),
                ('idempotency_key', fields.CharField(null=True, unique=True, max_length=128)),
                ('request_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'redemptions', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'reward_id', 'created_at']), Index(fields=['state', 'expires_at']), Index(fields=['order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RedemptionLot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', db_constraint=True, to_field='id', related_name='lots', on_delete=OnDelete.RESTRICT)),
                ('entry', fields.ForeignKeyField('models.LedgerEntry', source_field='entry_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('points', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'redemption_lots', 'app': 'models', 'indexes': [Index(fields=['entry_id']), Index(fields=['redemption_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RewardStock',
            fields=[
                ('reward_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('redeemed', fields.BigIntField(default=0)),
            ],
            options={'table': 'reward_stock', 'app': 'models', 'pk_attr': 'reward_id'},
            bases=['Model'],
        ),
    ]
