"""Substring search indexes on SQLite: an FTS5 trigram table per searched text column.

PostgreSQL answers "contains" over a folded text column from pg_trgm GIN indexes (the CRM's
`search`, crm migration 0005; the client's `name_search`, conversations migration 0006). SQLite
has no such index: a rare fragment was a scan of the whole table (1.2-3 s at 1,000,000 CRM
contacts), a common one 38 ms over 606,578 clients for every client-name count. Here each
searched column gets `<table>_<column>_fts`, an FTS5 table with the trigram tokenizer over that
column (external content: it indexes the column without a copy of it). Triggers on the table
keep it in step with every write of the column, whoever writes it (a save, an `update()`, a bulk
insert, a merge and its undo, a delete), so no service has to remember it.

A fragment is looked up as an FTS5 phrase of its trigrams: the rows whose folded text contains
it, exactly as `column LIKE '%fragment%'` finds them (the text is folded before it is stored and
the fragment before it is looked up, so accents and case are already gone). Fragments shorter
than 3 characters have no trigram; callers read them with LIKE as before.

Django's SQLite schema editor rebuilds a table for most later changes of it (copy, drop, rename),
and the drop takes the triggers with it: `ensure` (run after every `migrate`, see
conversations/apps.py) puts back missing triggers and rebuilds the index from the table when it
had to.
"""

from __future__ import annotations

import logging

from django.db import connection as default_connection
from django.db.migrations import RunPython
from django.db.utils import DatabaseError

log = logging.getLogger("convodesk.search")

# The searched column of each indexed table.
INDEXED = {
    "crm_contact": "search",
    "crm_company": "search",
    "crm_lead": "search",
    "crm_deal": "search",
    "conversations_client": "name_search",
}
TABLES = tuple(INDEXED)
MIN_LENGTH = 3  # the trigram tokenizer finds nothing shorter
_known: set[tuple[str, str, str]] = set()  # (alias, database name, table) with its index


def fts_table(table: str) -> str:
    return f"{table}_{INDEXED[table]}_fts"


def _triggers(table: str) -> dict[str, str]:
    fts, col = fts_table(table), INDEXED[table]
    name = f"{table}_{col}"
    return {
        f"{name}_ai": (
            f'CREATE TRIGGER IF NOT EXISTS "{name}_ai" AFTER INSERT ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"(rowid, {col}) VALUES (new.id, new.{col}); END'
        ),
        f"{name}_ad": (
            f'CREATE TRIGGER IF NOT EXISTS "{name}_ad" AFTER DELETE ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"("{fts}", rowid, {col}) VALUES (\'delete\', old.id, old.{col}); '
            "END"
        ),
        f"{name}_au": (
            f'CREATE TRIGGER IF NOT EXISTS "{name}_au" AFTER UPDATE OF {col}, id '
            f'ON "{table}" BEGIN '
            f'INSERT INTO "{fts}"("{fts}", rowid, {col}) VALUES (\'delete\', old.id, old.{col}); '
            f'INSERT INTO "{fts}"(rowid, {col}) VALUES (new.id, new.{col}); END'
        ),
    }


def install(schema_editor, tables) -> bool:
    """Create these tables' indexes, triggers and index contents (SQLite only; idempotent).
    False when this SQLite cannot (no FTS5 or no trigram tokenizer, before 3.34): the searches
    then read LIKE."""
    conn = schema_editor.connection
    if conn.vendor != "sqlite":
        return False
    with conn.cursor() as cursor:
        for table in tables:
            fts = fts_table(table)
            try:
                cursor.execute(
                    f'CREATE VIRTUAL TABLE IF NOT EXISTS "{fts}" USING fts5({INDEXED[table]}, '
                    f"content='{table}', content_rowid='id', tokenize='trigram')"
                )
            except DatabaseError as exc:
                log.warning("SQLite FTS5 trigram is not available (%s); searches use LIKE", exc)
                return False
            for sql in _triggers(table).values():
                cursor.execute(sql)
            cursor.execute(f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')')
    return True


def migration(tables) -> RunPython:
    """The migration step that installs these tables' indexes (and removes them backwards)."""
    return RunPython(
        lambda apps, schema_editor: install(schema_editor, tables),
        lambda apps, schema_editor: uninstall(schema_editor, tables),
        elidable=False,
    )


def uninstall(schema_editor, tables) -> None:
    conn = schema_editor.connection
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        for table in tables:
            for name in _triggers(table):
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            cursor.execute(f'DROP TABLE IF EXISTS "{fts_table(table)}"')
    _known.clear()


def ensure(conn=None) -> list[str]:
    """Put back the triggers a rebuilt table lost and re-read that table into its index.
    Returns the tables repaired. Nothing to do on PostgreSQL or where the index was never made."""
    conn = conn or default_connection
    if conn.vendor != "sqlite":
        return []
    repaired = []
    with conn.cursor() as cursor:
        cursor.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {name for name, _kind in cursor.fetchall()}
        for table in TABLES:
            fts = fts_table(table)
            if fts not in present or table not in present:
                continue
            missing = [sql for name, sql in _triggers(table).items() if name not in present]
            if not missing:
                continue
            for sql in missing:
                cursor.execute(sql)
            cursor.execute(f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')')
            log.warning("The search index of %s was rebuilt (its triggers were missing)", table)
            repaired.append(table)
    return repaired


def available(table: str, conn=None) -> bool:
    """Whether `table` has its index here (SQLite with the migration applied)."""
    conn = conn or default_connection
    if conn.vendor != "sqlite" or table not in TABLES:
        return False
    key = (conn.alias, str(conn.settings_dict.get("NAME")), table)
    if key in _known:
        return True
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [fts_table(table)]
        )
        found = cursor.fetchone() is not None
    if found:  # only a yes is kept: a server started before `migrate` asks again
        _known.add(key)
    return found


def phrase(folded: str) -> str:
    """An FTS5 query for rows containing `folded` (already folded): one quoted phrase."""
    return '"' + folded.replace('"', '""') + '"'


def matching_sql(table: str) -> str:
    """SQL of the ids whose search text contains the phrase given as its one parameter."""
    fts = fts_table(table)
    return f'SELECT rowid FROM "{fts}" WHERE "{fts}" MATCH %s'


def usable(table: str, fragments) -> bool:
    return all(len(f) >= MIN_LENGTH for f in fragments) and available(table)
