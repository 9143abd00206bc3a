from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Orders keep their own currency and amounts beside what they count for in the program
# currency. Orders recorded before were taken as program-currency amounts: rate 1.
class Migration(migrations.Migration):
    dependencies = [('models', '0003_order_returns')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='exchange_rate',
            field=fields.DecimalField(null=True, max_digits=30, decimal_places=12),
        ),
        ops.AddField(
            model_name='Order',
            name='program_currency',
            field=fields.CharField(null=True, max_length=3),
        ),
        ops.AddField(
            model_name='Order',
            name='program_subtotal',
            field=fields.DecimalField(null=True, max_digits=20, decimal_places=4),
        ),
        ops.RunSQL(
            "UPDATE orders SET program_currency = currency, program_subtotal = subtotal, exchange_rate = 1"
            " WHERE program_currency IS NULL",
            reverse_sql="SELECT 1",
        ),
    ]
