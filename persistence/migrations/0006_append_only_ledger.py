"""The ledger is append-only: the database itself refuses UPDATE, DELETE (and, on
PostgreSQL, TRUNCATE) of its entries, whoever connects and whatever code runs."""

from tortoise import migrations
from tortoise.migrations import operations as ops

POSTGRES = """
CREATE OR REPLACE FUNCTION refuse_ledger_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();
"""

POSTGRES_REVERSE = """
DROP TRIGGER ledger_entries_no_truncate ON ledger_entries;
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
DROP FUNCTION refuse_ledger_change();
"""

SQLITE = """
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on ledger_entries refused'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on ledger_entries refused'); END;
"""

SQLITE_REVERSE = """
DROP TRIGGER ledger_entries_no_delete;
DROP TRIGGER ledger_entries_no_update;
"""


def _script(postgres: str, sqlite: str):
    async def run(apps, schema_editor) -> None:
        client = schema_editor.client
        dialect = client.capabilities.dialect
        if dialect == "postgres":
            await client.execute_script(postgres)
        elif dialect == "sqlite":
            await client.execute_script(sqlite)
        else:
            raise NotImplementedError(f"no append-only trigger for {dialect}")

    return run


class Migration(migrations.Migration):
    dependencies = [("models", "0005_idempotent_replays")]

    initial = False

    operations = [
        ops.RunPython(_script(POSTGRES, SQLITE), _script(POSTGRES_REVERSE, SQLITE_REVERSE)),
    ]
