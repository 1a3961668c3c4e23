"""The CRM contact list at 1,000,000 contacts (issue 20, item 2), on PostgreSQL or SQLite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_crm \\
        .venv/bin/python -m benchmarks.crm_list --contacts 1000000
    DATABASE_URL=sqlite:////path/to/bench_crm.sqlite3 \\
        .venv/bin/python -m benchmarks.crm_list --contacts 1000000

Creates the database's schema (migrate), generates the contacts once (accented names, a phone
each, 20 operators as responsible, 10% with nobody) with set-based SQL, then requests list pages
through Django's test client as an administrator (CRM level all) and as an operator (own), and
reports median / p95 / max per request, the number of SQL statements and whether the count was
exact. Target (PERFORMANCE.md, the conversation list's): page p95 ≤ 100 ms; counts exact or "≈".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .common import VAR, dump, ensure_pg_database, secret_key, summary, timed

FIRST = [
    ("Ana", "ana"),
    ("José", "jose"),
    ("María", "maria"),
    ("Luis", "luis"),
    ("Lucía", "lucia"),
    ("Jesús", "jesus"),
    ("Sofía", "sofia"),
    ("Iñaki", "inaki"),
    ("Olga", "olga"),
    ("Erik", "erik"),
]
LAST = [
    ("Martínez", "martinez"),
    ("García", "garcia"),
    ("Núñez", "nunez"),
    ("Pérez", "perez"),
    ("López", "lopez"),
    ("Sánchez", "sanchez"),
    ("Gómez", "gomez"),
    ("Fernández", "fernandez"),
    ("Díaz", "diaz"),
    ("Muñoz", "munoz"),
    ("Smith", "smith"),
    ("Olsen", "olsen"),
]
OPERATORS = 20


def _array(values) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate(total: int) -> float:
    from django.db import connection

    from convodesk.accounts.models import Role, User
    from convodesk.crm.models import Contact

    have = Contact.objects.count()
    if have >= total:
        return 0.0
    manager = Role.objects.get(name="Manager")
    ops = []
    for i in range(OPERATORS):
        user, created = User.objects.get_or_create(username=f"crm-op-{i}")
        if created:
            user.set_password("pass12345")
            user.save()
            user.roles.set([manager])
        ops.append(user.pk)
    start = time.perf_counter()
    if connection.vendor == "sqlite":
        _generate_sqlite(have, total, ops)
        return time.perf_counter() - start
    first, first_f = [f for f, _ in FIRST], [f for _, f in FIRST]
    last, last_f = [f for f, _ in LAST], [f for _, f in LAST]
    sql = f"""
        INSERT INTO crm_contact (name, name_key, search, comment, created_at, updated_at,
                                 responsible_id, company_id)
        SELECT fn[1 + g %% {len(FIRST)}] || ' ' || ln[1 + (g / {len(FIRST)}) %% {len(LAST)}],
               ff[1 + g %% {len(FIRST)}] || ' ' || lf[1 + (g / {len(FIRST)}) %% {len(LAST)}],
               ff[1 + g %% {len(FIRST)}] || ' ' || lf[1 + (g / {len(FIRST)}) %% {len(LAST)}]
                 || ' +34 ' || (600000000 + g)::text || ' +34' || (600000000 + g)::text
                 || ' p' || g::text || '@example.com',
               '', now() - g * interval '1 second', now() - g * interval '1 second',
               CASE WHEN g %% 10 = 0 THEN NULL ELSE (ops[1 + g %% {OPERATORS}]) END, NULL
        FROM generate_series(%s, %s) g,
             (SELECT {_array(first)} fn, {_array(first_f)} ff,
                     {_array(last)} ln, {_array(last_f)} lf,
                     ARRAY[{",".join(str(o) for o in ops)}]::bigint[] ops) names
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM crm_contact")
        before = cursor.fetchone()[0]
        cursor.execute(sql, [have + 1, total])
        cursor.execute(
            r"""
            INSERT INTO crm_contactphone (contact_id, value, normalized, verified)
            SELECT id, '+34 ' || digits, '+34' || digits, true
            FROM (SELECT id, substring(search from '\+34 ([0-9]+)') AS digits
                  FROM crm_contact WHERE id > %s) numbered
            """,
            [before],
        )
        cursor.execute("ANALYZE crm_contact")
        cursor.execute("ANALYZE crm_contactphone")
    return time.perf_counter() - start


def _generate_sqlite(have: int, total: int, ops: list[int]) -> None:
    """The same rows as the PostgreSQL generator, by a recursive CTE (names from JSON arrays)."""
    import json

    from django.db import connection

    first = json.dumps([f for f, _ in FIRST], ensure_ascii=False)
    first_f = json.dumps([f for _, f in FIRST])
    last = json.dumps([f for f, _ in LAST], ensure_ascii=False)
    last_f = json.dumps([f for _, f in LAST])
    fn = f"json_extract(%s, '$[' || (g.n %% {len(FIRST)}) || ']')"
    ln = f"json_extract(%s, '$[' || ((g.n / {len(FIRST)}) %% {len(LAST)}) || ']')"
    sql = f"""
        WITH RECURSIVE g(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM g WHERE n < %s)
        INSERT INTO crm_contact (name, name_key, search, comment, created_at, updated_at,
                                 responsible_id, company_id)
        SELECT {fn} || ' ' || {ln}, {fn} || ' ' || {ln},
               {fn} || ' ' || {ln} || ' +34 ' || (600000000 + g.n) || ' +34' || (600000000 + g.n)
                 || ' p' || g.n || '@example.com',
               '', datetime('now', '-' || g.n || ' seconds'), datetime('now', '-' || g.n || ' seconds'),
               CASE WHEN g.n %% 10 = 0 THEN NULL
                    ELSE json_extract(%s, '$[' || (g.n %% {OPERATORS}) || ']') END,
               NULL
        FROM g
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM crm_contact")
        before = cursor.fetchone()[0]
        cursor.execute(
            sql,
            [have + 1, total, first, last, first_f, last_f, first_f, last_f, json.dumps(ops)],
        )
        cursor.execute(
            """
            INSERT INTO crm_contactphone (contact_id, value, normalized, verified)
            SELECT id, '+34 ' || digits, '+34' || digits, 1
            FROM (SELECT id, substr(search, instr(search, ' +34 ') + 5, 9) AS digits
                  FROM crm_contact WHERE id > %s)
            """,
            [before],
        )
        cursor.execute("ANALYZE")


def measure(runs: int) -> list[dict]:
    import re
    from html import unescape

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from convodesk.accounts.models import User

    settings.ALLOWED_HOSTS = ["*"]  # the test client's "testserver"
    admin = User.objects.filter(is_superuser=True).first()
    if admin is None:
        admin = User.objects.create_superuser("crm-admin", password="pass12345")
    operator = User.objects.get(username="crm-op-3")
    clients = {}
    for who, user in (("admin", admin), ("operator", operator)):
        client = Client()
        client.force_login(user)
        clients[who] = client
    first_page = clients["admin"].get("/crm/contacts/", {"sort": "name"}).content.decode()
    after = re.search(r'after=([^"&]+)', unescape(first_page)).group(1)
    deep_page = clients["admin"].get("/crm/contacts/", {"sort": "name", "page": 1000})
    deep_after = re.search(r'after=([^"&]+)', unescape(deep_page.content.decode())).group(1)
    cases = [
        ("admin", "unfiltered (newest first)", {}),
        ("operator", "operator, own scope", {}),
        ("admin", "search without accents: q=martinez", {"q": "martinez"}),
        ("admin", "search with accents: q=Núñez", {"q": "Núñez"}),
        ("admin", "phone fragment: q=600 123", {"q": "600 123"}),
        ("admin", "one contact by e-mail: q=p777777@example.com", {"q": "p777777@example.com"}),
        ("admin", "filter responsible", {"responsible": str(operator.pk)}),
        ("admin", "sort by name", {"sort": "name"}),
        ("admin", "sort by name, next page (keyset)", {"sort": "name", "page": 2, "after": after}),
        (
            "admin",
            "sort by name, page 1001 (keyset from page 1000)",
            {"sort": "name", "page": 1001, "after": deep_after},
        ),
        ("admin", "sort by name descending", {"sort": "-name"}),
        ("admin", "sort by created (oldest first)", {"sort": "created_at"}),
        ("admin", "page 1000 (jump)", {"page": 1000}),
        ("admin", "has an open conversation = false", {"has_open_conversation": "false"}),
    ]
    results = []
    for who, label, params in cases:
        client = clients[who]

        def request(client=client, params=params):
            return client.get("/crm/contacts/", params)

        samples, response = timed(request, warmup=2, runs=runs)
        assert response.status_code == 200, (label, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            response = request()
        html = response.content.decode()
        shown = re.search(r'id="crm-count">([^<]*)', html)
        results.append(
            {
                "request": label,
                "rows": html.count("<tr data-id="),
                "queries": len(queries),
                "count": shown.group(1).strip() if shown else "–",
                **summary(samples),
            }
        )
        print(results[-1], flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--out", help="Where to write the JSON result (default var/bench/crm_list_<vendor>.json)."
    )
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", secret_key())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres", "sqlite")):
        print("Set DATABASE_URL to a PostgreSQL database or a SQLite file.", file=sys.stderr)
        return 2
    if os.environ["DATABASE_URL"].startswith("postgres") and (
        reason := ensure_pg_database(os.environ["DATABASE_URL"])
    ):
        print(reason, file=sys.stderr)
        return 2
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    took = generate(args.contacts)
    from convodesk.crm.models import Contact

    total = Contact.objects.count()
    print(f"{total:,} contacts ({took:.1f} s generating)", flush=True)
    results = measure(args.runs)
    from django.db import connection

    dump(
        Path(args.out) if args.out else VAR / f"crm_list_{connection.vendor}.json",
        {"contacts": total, "generation_s": took, "results": results},
    )
    print()
    print("| request | rows | page median / p95 / max (ms) | queries | count | p95 ≤ 100 ms |")
    print("|---|---|---|---|---|---|")
    for r in results:
        ok = "yes" if r["p95"] <= 100 else "**no**"
        print(
            f"| {r['request']} | {r['rows']} | {r['median']} / {r['p95']} / {r['max']} | "
            f"{r['queries']} | {r['count']} | {ok} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
