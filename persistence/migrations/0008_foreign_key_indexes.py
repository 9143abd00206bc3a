from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_rules_activations')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='LedgerEntry',
            index=Index(fields=['order_id']),
        ),
        ops.AddIndex(
            model_name='LedgerEntry',
            index=Index(fields=['event_id']),
        ),
        ops.AddIndex(
            model_name='LedgerEntry',
            index=Index(fields=['related_entry_id']),
        ),
        ops.AddIndex(
            model_name='OrderReturn',
            index=Index(fields=['order_id']),
        ),
        ops.AddIndex(
            model_name='OrderReturnLine',
            index=Index(fields=['order_return_id']),
        ),
        ops.AddIndex(
            model_name='RuleUse',
            index=Index(fields=['order_id']),
        ),
    ]
