from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# Until now referral_code held the code a customer typed in at enrolment, which linked
# nothing. From here on it is each customer's own code: existing customers get a random
# one (40 bits, upper-case hex) before the column becomes unique.
_OWN_CODES = {
    "postgres": "UPDATE customers SET referral_code = upper(substr(md5(random()::text || id::text), 1, 10))",
    "sqlite": "UPDATE customers SET referral_code = upper(hex(randomblob(5)))",
}


async def _own_codes(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(_OWN_CODES[client.capabilities.dialect])


class Migration(migrations.Migration):
    dependencies = [('models', '0009_reward_event_delivery')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Feedback',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='feedback', on_delete=OnDelete.RESTRICT)),
                ('order', fields.OneToOneField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='feedback', on_delete=OnDelete.RESTRICT)),
                ('score', fields.SmallIntField()),
                ('comment', fields.TextField(null=True, unique=False)),
                ('event', fields.ForeignKeyField('models.EngagementEvent', source_field='event_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'feedback', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LearnedPair',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sku', fields.CharField(max_length=128)),
                ('category', fields.CharField(null=True, max_length=128)),
                ('suggested_sku', fields.CharField(max_length=128)),
                ('suggested_category', fields.CharField(null=True, max_length=128)),
                ('orders', fields.IntField()),
                ('refreshed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'learned_pairs', 'app': 'models', 'unique_together': (('sku', 'suggested_sku'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('referrer', fields.ForeignKeyField('models.Customer', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referrals_made', on_delete=OnDelete.RESTRICT)),
                ('friend', fields.OneToOneField('models.Customer', source_field='friend_id', db_constraint=True, to_field='id', related_name='referral', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(max_length=16)),
                ('first_order', fields.ForeignKeyField('models.Order', source_field='first_order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals', 'app': 'models', 'indexes': [Index(fields=['status', 'id']), Index(fields=['first_order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(_own_codes, reverse_code=ops.RunPython.noop),
        ops.AlterField(
            model_name='Customer',
            name='referral_code',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='Customer',
            name='referred_by',
            field=fields.ForeignKeyField('models.Customer', source_field='referred_by_id', null=True, db_constraint=True, to_field='id', related_name='referred_friends', on_delete=OnDelete.RESTRICT),
        ),
    ]
