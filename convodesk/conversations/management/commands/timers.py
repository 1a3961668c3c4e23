import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from convodesk.bitrix24 import events as bitrix24_events
from convodesk.connectors import delivery
from convodesk.conversations import services
from convodesk.ops.heartbeat import Beat
from convodesk.ops.stopping import Stopping
from convodesk.stats import rollups
from convodesk.workspace import presence

log = logging.getLogger("convodesk.timers")


class Command(BaseCommand):
    help = (
        "Fire due queue time-outs, auto-closes, full closes and reply-time breaches every few "
        "seconds, and fold the statistics shards of closed periods. Several copies may run at "
        "once (each conversation is re-checked under its row lock, so every timer fires once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="Seconds between sweeps.")
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")

    def handle(self, *args, interval=None, once=False, **options):
        interval = interval or settings.CONVODESK["TIMER_INTERVAL_SECONDS"]
        # SIGTERM / SIGINT: the sweep in hand finishes (each firing is its own transaction),
        # then the loop ends; the wait between sweeps ends at once.
        verbose = options.get("verbosity", 1) > 1
        stopping = Stopping("timers")
        if not once:
            stopping.install()
        beat = Beat("timers")
        try:
            while not stopping.requested:
                started = time.monotonic()
                try:
                    fired = services.run_due_timers()
                    if fired:
                        # A line per sweep only when asked (-v 2 or LOG_LEVEL=DEBUG): the console
                        # of `make run` is not a log of every queue time-out.
                        (log.info if verbose else log.debug)("timers: %s fired", fired)
                    # The rollup rows of closed periods: their shards folded into shard 0.
                    rollups.fold_shards()
                    # The safety net of outbound delivery: retries whose task was lost (worker crash).
                    delivery.deliver_due()
                    bitrix24_events.deliver_due()  # OnOpenLineSessionFinish retries
                    # Employees whose last operator socket closed more than the grace period ago go away.
                    presence.sweep()
                    if not once:
                        beat.tick()
                except Exception:  # keep sweeping; the next sweep retries what failed
                    log.exception("timer sweep failed")
                finally:
                    close_old_connections()
                if once:
                    return
                stopping.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            if not once:
                beat.stop()
