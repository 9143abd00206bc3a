from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_redemptions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('holder', fields.CharField(max_length=200)),
                ('leased_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_run_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_leases', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('holder', fields.CharField(max_length=200)),
                ('as_of', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(max_length=16)),
                ('customers', fields.BigIntField(default=0)),
                ('entries', fields.BigIntField(default=0)),
                ('points', fields.BigIntField(default=0)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'job_runs', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='JobRun',
            index=Index(fields=['name', 'started_at']),
        ),
    ]
