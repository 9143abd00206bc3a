from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_append_only_ledger')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RulesActivation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.CharField(max_length=64)),
                ('activated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rules_activations', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row each time a worker puts a rules version in force (append-only).'},
            bases=['Model'],
        ),
    ]
