import logging
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from convodesk.connectors import mail, skipped
from convodesk.lines.models import Connection
from convodesk.ops.heartbeat import Beat
from convodesk.ops.stopping import Stopping

log = logging.getLogger("convodesk.email")


class Command(BaseCommand):
    help = (
        "Fetch new mail of the e-mail connections by IMAP (once, or every --interval seconds "
        "with --loop). One failing mailbox never stops the others: each gets a line, and the "
        "command exits non-zero when any of them failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="Only this connection id.")
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=60)

    def handle(self, *args, connection=None, loop=False, interval=60, **options):
        # With --loop, SIGTERM / SIGINT let the mailbox in hand finish (its last UID is saved
        # with each message), skip the others and end the wait at once.
        self.stopping = Stopping("email_fetch").install() if loop else None
        beat = Beat("mail") if loop else None
        try:
            while True:
                rows = Connection.objects.select_related("line").filter(kind="email", active=True)
                if connection:
                    rows = rows.filter(pk=connection)
                rows = [c for c in rows if (c.config or {}).get("imap", {}).get("host")]
                if connection and not rows:
                    raise CommandError(
                        f"Connection {connection} is not an active e-mail connection with IMAP settings."
                    )
                failed = self.fetch_all(rows)
                if not loop:
                    if failed:
                        raise CommandError(
                            f"{len(failed)} of {len(rows)} mailbox(es) failed: " + ", ".join(failed)
                        )
                    return
                beat.tick()
                close_old_connections()
                deadline = time.monotonic() + interval
                while (left := deadline - time.monotonic()) > 0:
                    if not self.stopping.sleep(min(left, beat.every)):
                        return
                    beat.tick()
        finally:
            if beat is not None:
                beat.stop()

    def fetch_all(self, rows) -> list[str]:
        """Fetch every mailbox, whatever happens to one of them; the names of those that failed."""
        failed = []
        for conn in rows:
            if getattr(self, "stopping", None) is not None and self.stopping.requested:
                break
            try:
                result = mail.fetch(conn)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the next mailbox
                log.exception("email %s: fetch failed", conn.pk)
                self.stderr.write(f"{conn.name}: failed: {type(exc).__name__}: {exc}")
                failed.append(conn.name)
                if skipped.database_away(exc):  # do not reuse a broken database connection
                    close_old_connections()
                continue
            self.stdout.write(
                f"{conn.name}: {result.stored} stored, {result.ignored} automatic ignored, "
                f"{result.skipped} skipped"
                + (" (UIDVALIDITY changed: resynced)" if result.resynced else "")
            )
        return failed
