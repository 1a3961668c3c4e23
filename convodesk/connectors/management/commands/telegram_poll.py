import logging
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from convodesk.connectors import skipped, telegram
from convodesk.lines.models import Connection

log = logging.getLogger("convodesk.telegram")


class Command(BaseCommand):
    help = (
        "Receive Telegram updates by polling (getUpdates) for connections that cannot get webhooks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="Only this connection id.")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")
        parser.add_argument("--timeout", type=int, default=25, help="Long-poll seconds.")

    def handle(self, *args, connection=None, once=False, timeout=25, **options):
        rows = Connection.objects.select_related("line").filter(kind="telegram", active=True)
        if connection:
            rows = rows.filter(pk=connection)
        else:
            rows = [c for c in rows if (c.config or {}).get("mode") == "polling"]
        rows = list(rows)
        if not rows:
            raise CommandError("No active Telegram connection in polling mode.")
        while True:
            failed = []
            for conn in rows:  # one failing bot never stops the others
                try:
                    conn.refresh_from_db()
                    handled = telegram.poll_once(conn, timeout=0 if once else timeout)
                    if handled:
                        self.stdout.write(f"{conn.name}: {handled} update(s)")
                except Exception as exc:  # noqa: BLE001 - reported; the offset stays for a retry
                    if not isinstance(exc, telegram.TelegramError):
                        log.exception("telegram %s: polling failed", conn.pk)
                    self.stderr.write(f"{conn.name}: failed: {exc}")
                    failed.append(conn.name)
                    if skipped.database_away(exc):
                        close_old_connections()
            if once:
                if failed:
                    raise CommandError(
                        f"{len(failed)} of {len(rows)} connection(s) failed: " + ", ".join(failed)
                    )
                return
            if failed:
                time.sleep(5)
