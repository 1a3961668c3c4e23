import logging

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from convodesk.connectors import skipped, telegram
from convodesk.lines.models import Connection
from convodesk.ops.heartbeat import Beat
from convodesk.ops.stopping import Stop, Stopping

log = logging.getLogger("convodesk.telegram")


class Command(BaseCommand):
    help = (
        "Receive Telegram updates by polling (getUpdates) for connections that cannot get webhooks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="Only this connection id.")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")
        parser.add_argument("--timeout", type=int, default=25, help="Long-poll seconds.")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="With no polling connection yet, wait for one instead of failing (manage.py serve).",
        )

    def connections(self, connection):
        rows = Connection.objects.select_related("line").filter(kind="telegram", active=True)
        if connection:
            return list(rows.filter(pk=connection))
        return [c for c in rows if (c.config or {}).get("mode") == "polling"]

    def handle(self, *args, connection=None, once=False, timeout=25, wait=False, **options):
        # SIGTERM / SIGINT: a long poll still waiting for updates is dropped at once (the offset
        # has not moved, so nothing is lost); updates already received are stored first.
        stopping = Stopping("telegram_poll")
        if not once:
            stopping.install()
        beat = None if once else Beat("mail", every=timeout)
        rows = self.connections(connection)
        if not rows and not wait:
            raise CommandError("No active Telegram connection in polling mode.")
        try:
            while not stopping.requested:
                if beat is not None:
                    beat.tick()
                if not rows:  # --wait: look again in a while
                    close_old_connections()
                    if not stopping.sleep(30):
                        return
                    rows = self.connections(connection)
                    continue
                failed = []
                for conn in rows:  # one failing bot never stops the others
                    if stopping.requested:
                        return
                    try:
                        conn.refresh_from_db()
                        try:
                            with stopping.abortable():
                                updates = telegram.get_updates(conn, timeout=0 if once else timeout)
                        except Stop:
                            return
                        handled = telegram.handle_updates(conn, updates)
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
                            f"{len(failed)} of {len(rows)} connection(s) failed: "
                            + ", ".join(failed)
                        )
                    return
                if failed:
                    stopping.sleep(5)
                if wait and not connection:
                    rows = self.connections(connection)  # connections added or switched meanwhile
        finally:
            if beat is not None:
                beat.stop()
