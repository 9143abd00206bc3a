"""The points jobs (issue 12) read each batch's customers' due entries: pending earn
entries whose day has come (release), earn entries whose expiry is past or near (expiry,
notices). Without these partial indexes a batch read every entry of its customers, by
the ledger's index by customer, and the table's row for each to test its kind, bucket
and dates, twice (the lock, then the entries): 10,000,000 rows over a run at 1,000,000
customers for a tenth of them due. With them it reads the earn entries' index entries
by customer and date, and the table only for those due.

PostgreSQL only, as the jobs' statements are shaped for its planner; SQLite keeps its
indexes."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class PostgresOnlySQL(ops.RunSQL):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [("models", "0025_analytics_covering_indexes")]

    initial = False

    operations = [
        PostgresOnlySQL(
            [
                "CREATE INDEX IF NOT EXISTS idx_ledger_entries_pending_earn ON ledger_entries"
                " (customer_id, available_at) WHERE kind = 'earn' AND bucket = 'pending'",
                "CREATE INDEX IF NOT EXISTS idx_ledger_entries_earn_expiry ON ledger_entries"
                " (customer_id, expires_at) WHERE kind = 'earn'",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS idx_ledger_entries_earn_expiry",
                "DROP INDEX IF EXISTS idx_ledger_entries_pending_earn",
            ],
        ),
    ]
