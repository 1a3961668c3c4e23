"""`manage.py move_to_postgres <DATABASE_URL>`: copy this installation into PostgreSQL.

Run it with the installation stopped (or at least its writers), from the installation's own
environment (its SQLite database and its key). The target database must exist and be empty; it
is migrated to the same schema, then every table of every app is copied row by row with its ids
(employees, roles, lines, connections, conversations, messages, events, CRM, settings, API
tokens, sessions, tasks, audit log, rollups). Values pass through each field as they are, so
encrypted secrets stay encrypted under the same key. The whole copy is one transaction (foreign
keys are checked at its end), the sequences are moved past the copied ids, the statistics
rollups are rebuilt on the target, and every table's count is compared. Then point DATABASE_URL
at the target and start the roles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction

TARGET = "move_target"
BATCH = 2000


def models_to_copy():
    """Every concrete table Django manages here, many-to-many tables included."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        found.append(model)
    return found


class Command(BaseCommand):
    help = (
        "Copy this installation's data into an empty PostgreSQL database (migrated here first), "
        "rebuild the statistics rollups there and compare every table's row count."
    )

    def add_arguments(self, parser):
        parser.add_argument("database_url", help="postgres://user:password@host:port/name")
        parser.add_argument(
            "--skip-rollups", action="store_true", help="Copy the rollups as they are."
        )

    def handle(self, *args, database_url, skip_rollups=False, **options):
        target = self.connect(database_url)
        source = connections[DEFAULT_DB_ALIAS]
        if source.settings_dict["ENGINE"] == target.settings_dict["ENGINE"] and (
            source.settings_dict["NAME"] == target.settings_dict["NAME"]
            and source.settings_dict.get("HOST") == target.settings_dict.get("HOST")
        ):
            raise CommandError("The target is this installation's own database.")
        started = time.monotonic()
        self.stdout.write(f"Migrating {self.describe(target)}…")
        call_command("migrate", database=TARGET, interactive=False, verbosity=0)
        self.refuse_unless_empty()
        models = models_to_copy()
        # The migrations wrote their own rows (content types, permissions, default roles):
        # empty every table so the copy keeps the installation's ids.
        self.empty(target, models)
        copied = {}
        with transaction.atomic(using=TARGET):
            for model in models:
                copied[model._meta.db_table] = self.copy(model, source, target)
            statements = target.ops.sequence_reset_sql(no_style(), models)
            with target.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        self.stdout.write(f"Copied {sum(copied.values()):,} rows of {len(models)} tables.")
        if not skip_rollups:
            self.rebuild_rollups(database_url)
        self.check_counts(models, source)
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved in {time.monotonic() - started:.1f} s. Start the installation with "
                f"DATABASE_URL={self.masked(database_url)} (same SECRET_KEY or key file)."
            )
        )

    # Steps ----------------------------------------------------------------------------------

    def connect(self, database_url: str):
        try:
            parsed = dj_database_url.parse(database_url)
        except Exception as exc:  # noqa: BLE001 - its own message says what is wrong
            raise CommandError(f"Not a database URL: {exc}") from None
        if not parsed.get("ENGINE", "").endswith("postgresql"):
            raise CommandError("The target must be a postgres:// URL.")
        settings_dict = {
            **connections[DEFAULT_DB_ALIAS].settings_dict,
            **parsed,
            "OPTIONS": {},
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "TEST": {},
        }
        connections.settings[TARGET] = settings_dict
        target = connections[TARGET]
        try:
            target.ensure_connection()
        except Exception as exc:  # noqa: BLE001
            raise CommandError(f"Cannot reach {self.describe(target)}: {exc}") from None
        return target

    def describe(self, target) -> str:
        d = target.settings_dict
        return f"PostgreSQL database {d['NAME']} on {d.get('HOST') or 'localhost'}:{d.get('PORT') or 5432}"

    def masked(self, url: str) -> str:
        parsed = dj_database_url.parse(url)
        if parsed.get("PASSWORD"):
            return url.replace(f":{parsed['PASSWORD']}@", ":***@")
        return url

    def refuse_unless_empty(self) -> None:
        from convodesk.accounts.models import User
        from convodesk.conversations.models import Conversation

        if User.objects.using(TARGET).exists() or Conversation.objects.using(TARGET).exists():
            raise CommandError(
                "The target database already holds an installation (employees or "
                "conversations); give an empty database."
            )

    def empty(self, target, models) -> None:
        tables = [m._meta.db_table for m in models]
        statements = target.ops.sql_flush(
            no_style(), tables, reset_sequences=True, allow_cascade=True
        )
        target.ops.execute_sql_flush(statements)

    def copy(self, model, source, target) -> int:
        fields = [f for f in model._meta.concrete_fields]
        columns = ", ".join(target.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {target.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
        names = [f.attname for f in fields]
        rows = (
            model._base_manager.using(DEFAULT_DB_ALIAS)
            .order_by("pk")
            .values_list(*names)
            .iterator(chunk_size=BATCH)
        )
        count = 0
        batch = []
        with target.cursor() as cursor:
            for row in rows:
                batch.append(
                    [
                        f.get_db_prep_save(v, connection=target)
                        for f, v in zip(fields, row, strict=True)
                    ]
                )
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        if count:
            self.stdout.write(f"  {model._meta.db_table}: {count:,}")
        return count

    def rebuild_rollups(self, database_url: str) -> None:
        """In a process of its own on the target, as the installation will run there."""
        self.stdout.write("Rebuilding the statistics rollups on the target…")
        env = {**os.environ, "DATABASE_URL": database_url}
        result = subprocess.run(
            [sys.executable, os.path.abspath(sys.argv[0]), "rebuild_rollups"],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise CommandError(f"rebuild_rollups failed: {result.stderr.strip()[-2000:]}")

    def check_counts(self, models, source) -> None:
        from convodesk.stats import models as stats_models

        rollups = {
            m._meta.db_table
            for m in apps.get_app_config("stats").get_models()
            if m.__module__ == stats_models.__name__
        }
        wrong = []
        for model in models:
            table = model._meta.db_table
            if table in rollups:
                continue  # rebuilt on the target from its conversations
            here = model._base_manager.using(DEFAULT_DB_ALIAS).count()
            there = model._base_manager.using(TARGET).count()
            if here != there:
                wrong.append(f"{table}: {here} here, {there} there")
        if wrong:
            raise CommandError("The counts differ after the copy:\n  " + "\n  ".join(wrong))
        self.stdout.write(f"Counts checked: {len(models)} tables agree.")
