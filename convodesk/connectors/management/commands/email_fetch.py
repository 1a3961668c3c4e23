import imaplib
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from convodesk.connectors import mail
from convodesk.lines.models import Connection


class Command(BaseCommand):
    help = "Fetch new mail of the e-mail connections by IMAP (once, or every --interval seconds with --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="Only this connection id.")
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=60)

    def handle(self, *args, connection=None, loop=False, interval=60, **options):
        while True:
            rows = Connection.objects.select_related("line").filter(kind="email", active=True)
            if connection:
                rows = rows.filter(pk=connection)
            rows = [c for c in rows if (c.config or {}).get("imap", {}).get("host")]
            if connection and not rows:
                raise CommandError(
                    f"Connection {connection} is not an active e-mail connection with IMAP settings."
                )
            for conn in rows:
                try:
                    result = mail.fetch(conn)
                    self.stdout.write(
                        f"{conn.name}: {result.stored} stored, {result.ignored} automatic ignored, "
                        f"{result.skipped} malformed skipped"
                        + (" (UIDVALIDITY changed: resynced)" if result.resynced else "")
                    )
                except (imaplib.IMAP4.error, OSError, ValueError) as exc:
                    self.stderr.write(f"{conn.name}: {exc}")
                    if not loop:
                        raise CommandError(str(exc)) from None
            if not loop:
                return
            close_old_connections()
            time.sleep(interval)
