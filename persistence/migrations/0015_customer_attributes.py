"""Custom customer attributes (issue 13): the values, as JSON, of the attributes the rule
files declare under `customer_attributes`. Nullable: customers enrolled before it have
none (NULL), and a NOT NULL column cannot be added to a table with rows."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0014_birthdays")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Customer",
            name="attributes",
            field=fields.JSONField(
                default=dict, null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
    ]
