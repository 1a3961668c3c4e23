import time

from django.core.management.base import BaseCommand, CommandError

from convodesk.connectors import telegram
from convodesk.lines.models import Connection


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
            for conn in rows:
                conn.refresh_from_db()
                try:
                    handled = telegram.poll_once(conn, timeout=0 if once else timeout)
                    if handled:
                        self.stdout.write(f"{conn.name}: {handled} update(s)")
                except telegram.TelegramError as exc:
                    self.stderr.write(f"{conn.name}: {exc}")
                    if once:
                        raise CommandError(str(exc)) from None
                    time.sleep(5)
            if once:
                return
