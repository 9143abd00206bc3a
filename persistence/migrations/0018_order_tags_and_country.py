"""Line tags and the shipping country (issue 10) are kept with the order, as the rules saw
them. Nullable: orders recorded before, and imported ones (whose files carry neither), have
NULL, read as no tags and no country."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0017_analytics")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Order",
            name="country",
            field=fields.CharField(null=True, max_length=2),
        ),
        ops.AddField(
            model_name="OrderLine",
            name="tags",
            field=fields.JSONField(null=True),
        ),
    ]
