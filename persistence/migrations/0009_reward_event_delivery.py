from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint


class PostgresOnlySQL(ops.RunSQL):
    """SQL for PostgreSQL only (SQLite has no NOTIFY: its in-process bus and polling stand in)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


# Every committed insert into the outbox wakes the listeners of every worker (see
# app/event_stream.py). NOTIFY is sent at commit and never for a rolled-back transaction;
# a per-statement trigger sends one per statement, and PostgreSQL folds identical ones
# of a transaction into one.
NOTIFY_SQL = [
    """CREATE FUNCTION loyalty_reward_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('loyalty_reward_events', '');
  RETURN NULL;
END $$""",
    """CREATE TRIGGER reward_events_notify AFTER INSERT ON reward_events
FOR EACH STATEMENT EXECUTE FUNCTION loyalty_reward_events_notify()""",
]
NOTIFY_REVERSE_SQL = [
    "DROP TRIGGER reward_events_notify ON reward_events",
    "DROP FUNCTION loyalty_reward_events_notify()",
]


class Migration(migrations.Migration):
    dependencies = [('models', '0008_foreign_key_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerEventSequence',
            fields=[
                ('customer_external_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('last_sequence', fields.BigIntField()),
            ],
            options={'table': 'customer_event_sequences', 'app': 'models', 'pk_attr': 'customer_external_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxCursor',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('last_event_id', fields.BigIntField()),
            ],
            options={'table': 'outbox_cursors', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(max_length=2000)),
                ('event_types', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret', fields.CharField(max_length=128)),
                ('previous_secret', fields.CharField(null=True, max_length=128)),
                ('previous_secret_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.CharField(null=True, max_length=1000)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_success_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhooks', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event', fields.ForeignKeyField('models.RewardEvent', source_field='event_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=1000)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'unique_together': (('webhook_id', 'event_id'),), 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('delivery', fields.ForeignKeyField('models.WebhookDelivery', source_field='delivery_id', db_constraint=True, to_field='id', related_name='attempt_log', on_delete=OnDelete.CASCADE)),
                ('attempt', fields.IntField()),
                ('status_code', fields.IntField(null=True)),
                ('latency_ms', fields.IntField()),
                ('error', fields.CharField(null=True, max_length=1000)),
                ('attempted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_attempts', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='RewardEvent',
            name='customer_sequence',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='RewardEvent',
            name='rules_version',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='RewardEvent',
            constraint=UniqueConstraint(fields=('customer_external_id', 'customer_sequence'), name=None),
        ),
        PostgresOnlySQL(NOTIFY_SQL, NOTIFY_REVERSE_SQL),
    ]
