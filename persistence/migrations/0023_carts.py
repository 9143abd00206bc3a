"""Live carts (`updateCart`), for abandoned-cart detection (issue 12); see persistence.carts."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0022_order_free_items')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Cart',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('cart_id', fields.CharField(unique=True, max_length=128)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='carts', on_delete=OnDelete.RESTRICT)),
                ('currency', fields.CharField(max_length=3)),
                ('lines', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('subtotal', fields.DecimalField(max_digits=20, decimal_places=4)),
                ('program_subtotal', fields.DecimalField(max_digits=20, decimal_places=4)),
                ('state', fields.CharField(max_length=16)),
                ('revision', fields.IntField(default=1)),
                ('abandonments', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('abandoned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'carts', 'app': 'models', 'indexes': [Index(fields=['state', 'updated_at']), Index(fields=['customer_id']), Index(fields=['order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
