from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('prefix', fields.CharField(unique=True, max_length=32)),
                ('key_hash', fields.CharField(max_length=128)),
                ('scopes', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_keys', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=128)),
                ('email', fields.CharField(max_length=254)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('birthday', fields.DateField(null=True)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('referral_code', fields.CharField(null=True, max_length=64)),
                ('tier', fields.CharField(null=True, max_length=64)),
                ('points_available', fields.BigIntField(default=0)),
                ('points_pending', fields.BigIntField(default=0)),
                ('lifetime_earned', fields.BigIntField(default=0)),
                ('lifetime_spend', fields.DecimalField(default=0, max_digits=20, decimal_places=4)),
                ('order_count', fields.IntField(default=0)),
                ('last_order_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('enrolled_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customers', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=128)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('currency', fields.CharField(max_length=3)),
                ('placed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('subtotal', fields.DecimalField(max_digits=20, decimal_places=4)),
                ('shipping_amount', fields.DecimalField(default=0, max_digits=20, decimal_places=4)),
                ('coupon_codes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('points_earned', fields.BigIntField(default=0)),
                ('rules_version', fields.CharField(max_length=64)),
                ('request_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'orders', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='ledger_entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('bucket', fields.CharField(max_length=16)),
                ('points', fields.BigIntField()),
                ('reason', fields.CharField(max_length=500)),
                ('rule_id', fields.CharField(null=True, max_length=128)),
                ('rules_version', fields.CharField(null=True, max_length=64)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='ledger_entries', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('available_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ledger_entries', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('sku', fields.CharField(max_length=128)),
                ('category', fields.CharField(null=True, max_length=128)),
                ('quantity', fields.IntField()),
                ('unit_price', fields.DecimalField(max_digits=20, decimal_places=4)),
            ],
            options={'table': 'order_lines', 'app': 'models', 'unique_together': (('order', 'position'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RewardEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=64)),
                ('customer_external_id', fields.CharField(null=True, max_length=128)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'reward_events', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RulesVersion',
            fields=[
                ('version', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('sources', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rules_versions', 'app': 'models', 'pk_attr': 'version'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Setting',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.TextField(unique=False)),
            ],
            options={'table': 'settings', 'app': 'models', 'pk_attr': 'key'},
            bases=['Model'],
        ),
    ]
