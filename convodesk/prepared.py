"""Reads of a fixed shape compiled once: the write path's hot look-ups bind new values into the
SQL Django compiled on their first call instead of compiling the same query on every call.

Compiling a queryset (joins, select_related columns, ORDER BY, expression hashing) costs more CPU
than running the statement on a warm database; a message's look-ups (its connection, the
client's open conversation or identity, the line with its members, the row lock) have the same
shape every time and differ only in a few ids and strings.

`Prepared(build)`: `build(*args)` returns the queryset for those arguments (ints and strings
only, compared with `=` or `IN`, not transformed by a lookup). The first call per database
builds it once with marker values, compiles it, and finds where each marker lands in the
statement's parameters; later calls substitute the arguments there and read the rows as
`QuerySet.__iter__` would (select_related, annotations, database converters). A query whose
markers cannot all be found (a value the lookup transformed) is simply built every time.

On PostgreSQL the statement is also prepared on the server, once per connection: planning these
joins (the conversation with its line, connection, identity and client; an event with its actor)
took three to five times as long as running them. It is sent with PostgreSQL's own `$1`
placeholders, written once at compile time: psycopg rewrites `%s` placeholders in Python on every
call for a statement longer than 4 kB (the conversation's look-up is 5 kB), and not at all for
`$1`. `PG_PREPARED=0` turns that off, for a connection pooler in transaction mode that cannot
keep a connection's prepared statements.
"""

from __future__ import annotations

import functools
import re

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.query import get_related_populators

_UNUSABLE = object()
_PLACEHOLDER = re.compile(r"%([s%])")


class _Numbered(str):
    """A statement's text with PostgreSQL's `$1` placeholders, carrying Django's (`django`) for
    the query log."""

    django: str


def _numbered(sql: str) -> _Numbered:
    """Django's statement with PostgreSQL's numbered placeholders (`%s` -> `$n`, `%%` -> `%`)."""
    count = 0

    def number(match):
        nonlocal count
        if match.group(1) == "%":
            return "%"
        count += 1
        return f"${count}"

    numbered = _Numbered(_PLACEHOLDER.sub(number, sql))
    numbered.django = sql
    return numbered


def _marker(index: int, value):
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, int):
        return -7_340_000_000 - index  # outside any id range
    return f"\x00prepared-{index}\x00"


class _Compiled:
    __slots__ = (
        "sql",
        "numbered",
        "params",
        "slots",
        "compiler",
        "init_list",
        "bounds",
        "annotations",
        "converters",
    )

    def __init__(self, queryset, markers):
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = []
        for index, marker in enumerate(markers):
            # isinstance: PostgreSQL's backend may pass an integer typed (psycopg's Int8, an int).
            found = [n for n, p in enumerate(params) if isinstance(p, type(marker)) and p == marker]
            if not found or str(marker) in sql:
                raise LookupError(index)
            slots.append((index, found))
        self.sql, self.params, self.slots, self.compiler = sql, list(params), slots, compiler
        self.numbered = _numbered(sql)
        select_fields = compiler.klass_info["select_fields"]
        self.bounds = (select_fields[0], select_fields[-1] + 1)
        self.init_list = [
            f[0].target.attname for f in compiler.select[self.bounds[0] : self.bounds[1]]
        ]
        self.annotations = compiler.annotation_col_map
        self.converters = compiler.get_converters(
            [s[0] for s in compiler.select[0 : compiler.col_count]]
        )


class Prepared:
    def __init__(self, build):
        self.build = build
        self.compiled: dict[tuple[str, tuple[type, ...]], _Compiled | object] = {}

    def __call__(self, *args) -> list:
        """The rows of `build(*args)`, as model instances."""
        alias = DEFAULT_DB_ALIAS
        key = (alias, tuple(type(a) for a in args))
        compiled = self.compiled.get(key)
        if compiled is None:
            markers = [_marker(n, a) for n, a in enumerate(args)]
            try:
                if any(m is None for m in markers):
                    raise LookupError(args)
                compiled = _Compiled(self.build(*markers).using(alias), markers)
            except Exception:  # noqa: BLE001 - e.g. a marker a field cannot take: built every time
                compiled = _UNUSABLE
            self.compiled[key] = compiled
        if compiled is _UNUSABLE:
            return list(self.build(*args))
        return self._run(compiled, alias, args)

    def first(self, *args):
        rows = self(*args)
        return rows[0] if rows else None

    @staticmethod
    def _run(compiled: _Compiled, alias: str, args) -> list:
        params = list(compiled.params)
        for index, positions in compiled.slots:
            for n in positions:
                params[n] = args[index]
        cursor, numbered = _cursor(connections[alias])
        with cursor:
            cursor.execute(compiled.numbered if numbered else compiled.sql, params)
            rows = cursor.fetchall()
        if not rows:
            return []
        compiler = compiled.compiler
        klass_info = compiler.klass_info
        model = klass_info["model"]
        populators = get_related_populators(klass_info, compiler.select, alias)
        start, end = compiled.bounds
        objects = []
        if compiler.has_extra_select:
            rows = [r[: compiler.col_count] for r in rows]
        if compiled.converters:
            rows = compiler.apply_converters(rows, compiled.converters)
        for row in rows:
            obj = model.from_db(alias, compiled.init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _cursor(connection):
    """A cursor of `connection` with server-side binding and `$1` placeholders, whose statements
    psycopg prepares on first use and keeps per connection (the most recent 100, by SQL and
    parameter types), on PostgreSQL unless PG_PREPARED=0; else the connection's own cursor.
    Wrapped as Django wraps its cursors, so query logging and capture see these statements too.
    (Django's own cursors bind on the client and are never prepared.) Returns the cursor and
    whether it takes `$1` placeholders."""
    if connection.vendor != "postgresql" or not settings.CONVODESK["PG_PREPARED"]:
        return connection.cursor(), False
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = psycopg.RawCursor(connection.connection)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _logged_cursor_class()(raw, connection), True
    return connection.make_cursor(raw), True


@functools.cache
def _logged_cursor_class():
    """Django's logging cursor reads a statement's text back from psycopg, which keeps none for
    a prepared statement: this one logs the statement (Django's text of it) with its values
    bound on the client."""
    from django.db.backends.postgresql.base import CursorDebugWrapper
    from django.db.backends.utils import CursorWrapper

    class Logged(CursorDebugWrapper):
        def execute(self, sql, params=None):
            with self.debug_sql(self.db.ops.compose_sql(getattr(sql, "django", sql), params)):
                return CursorWrapper.execute(self, sql, params)

    return Logged
