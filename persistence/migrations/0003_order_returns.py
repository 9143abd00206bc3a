from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_engagement_and_rule_uses')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderReturn',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=128)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='returns', on_delete=OnDelete.RESTRICT)),
                ('returned_amount', fields.DecimalField(max_digits=20, decimal_places=4)),
                ('points_reversed', fields.BigIntField()),
                ('request_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'order_returns', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderReturnLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_return', fields.ForeignKeyField('models.OrderReturn', source_field='order_return_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('sku', fields.CharField(max_length=128)),
                ('quantity', fields.IntField()),
            ],
            options={'table': 'order_return_lines', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
