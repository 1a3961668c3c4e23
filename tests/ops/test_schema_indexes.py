"""No product table keeps an index that another index already serves, unless it is listed below.

An index whose columns are the leading columns of another index on the same table can answer
every lookup the shorter one can, and every insert, and every update that cannot stay on its
page, writes it all the same: every message and every event wrote one (issue 17). A planner may
still choose the narrower index, and where measuring showed it did, the index is kept and listed
in KEPT with the figure. Read from the database itself, on each backend.
"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

# Kept on purpose, each measured without it (BENCHMARKS.md, stop 37):
# - SQLite, which keeps no table statistics here, costs an index by its width: for
#   "responsible = x AND status = y" it took `conv_status_started` over `conv_resp_started`, and
#   the exact count of that filter at 1,000,000 conversations went from 7 to 276 ms; the line is
#   filtered the same way;
# - PostgreSQL reads the participants of a statistics page's conversations through the narrow
#   index: the page with an arbitrary filter at 10,000,000 went from 2.7 to 5.1 s without it.
KEPT = {
    ("conversations_conversation", ("line_id",)),
    ("conversations_conversation", ("responsible_id",)),
    ("conversations_conversationparticipant", ("conversation_id",)),
}


def _partial_names(model) -> set[str]:
    """Indexes and unique constraints declared with a condition: they cover only some rows."""
    declared = [*model._meta.indexes, *model._meta.constraints]
    return {item.name for item in declared if getattr(item, "condition", None) is not None}


def _product_models():
    for model in apps.get_models(include_auto_created=False):
        if model._meta.app_config.name.startswith("convodesk.") and model._meta.managed:
            yield model


def _key(info) -> tuple:
    """(kind, ((column, order), ...)): a GIN index serves no B-tree's lookups, and past the first
    column the order decides which sorts an index serves (PostgreSQL reports it; SQLite does
    not)."""
    orders = info.get("orders") or [None] * len(info["columns"])
    kind = info.get("type")
    kind = "btree" if kind in (None, "btree", "idx") else kind  # a unique constraint: B-tree
    return kind, tuple(zip(info["columns"], orders, strict=True))


def _served(short: tuple, long: tuple) -> bool:
    (kind, columns), (other_kind, others) = short, long
    if kind != other_kind or len(others) < len(columns):
        return False
    if len(columns) == 1:  # an equality lookup on one column: either direction serves it
        return others[0][0] == columns[0][0]
    return others[: len(columns)] == columns


def redundant_indexes() -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for model in _product_models():
            table = model._meta.db_table
            partial = _partial_names(model)
            constraints = connection.introspection.get_constraints(cursor, table)
            full = {
                name: _key(info)
                for name, info in constraints.items()
                if (info["index"] or info["unique"] or info["primary_key"])
                and info["columns"]
                and None not in info["columns"]  # an expression index
                and name not in partial
                and not name.endswith("_like")  # PostgreSQL's pattern twin of a text index
            }
            for name, key in full.items():
                info = constraints[name]
                if info["unique"] or info["primary_key"]:
                    continue
                if (table, tuple(c for c, _o in key[1])) in KEPT:
                    continue
                for other, longer in full.items():
                    if other == name or not _served(key, longer):
                        continue
                    if longer == key and not constraints[other]["unique"] and other > name:
                        continue  # two equal plain indexes: report one of them
                    found.append(f"{table}.{name} {key[1]} is served by {other} {longer[1]}")
                    break
    return found


def test_no_index_is_the_leading_part_of_another():
    assert redundant_indexes() == []


def test_the_indexes_kept_on_purpose_are_there():
    """Each of KEPT was measured without it (above); dropping one brings that back."""
    with connection.cursor() as cursor:
        present = {
            (table, tuple(info["columns"]))
            for table in {table for table, _columns in KEPT}
            for info in connection.introspection.get_constraints(cursor, table).values()
            if info["index"] and not info["unique"]
        }
    assert KEPT <= present, sorted(KEPT - present)
