from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_tier_reviews')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Customer',
            name='birthday_year',
            field=fields.IntField(null=True),
        ),
    ]
