"""Operations for migrations that Django's own would make heavier than the change they carry."""

from django.db import migrations


def index_dropped(alter_field: migrations.AlterField, table: str, column: str, index: str):
    """`alter_field` sets db_index=False on a foreign key whose column already leads another
    index. Django would rebuild the whole table on SQLite and drop and validate the foreign key
    again on PostgreSQL (a scan of every row); the one thing that changes is the index, so that
    is all the database does."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter_field],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
    )
