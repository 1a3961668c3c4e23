"""A clean stop for the long-running commands (timers, db_worker, email_fetch, telegram_poll).

systemd, container runtimes and `manage.py serve` stop a process with SIGTERM, Ctrl-C sends
SIGINT. Either one asks the loop to stop: the item in hand (a timer sweep, a mailbox, a Telegram
update, a task) is finished, and the next sleep ends at once. Waiting on the network for new
work (Telegram's long poll) is `abortable()`: a stop there returns at once, since nothing was
taken yet. A second signal stops the process on the spot.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

log = logging.getLogger("convodesk.ops")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stop(BaseException):
    """Raised inside an `abortable()` block when a stop is asked for (a BaseException, like
    KeyboardInterrupt, so that no `except Exception` on the way swallows it)."""


class Stopping:
    def __init__(self, name: str):
        self.name = name
        self.event = threading.Event()
        self._abortable = False

    def install(self) -> Stopping:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.event.is_set():
            log.warning("%s: second %s, stopping now", self.name, signal.Signals(signum).name)
            raise SystemExit(128 + signum)
        log.info("%s: %s received, stopping", self.name, signal.Signals(signum).name)
        self.event.set()
        if self._abortable:
            raise Stop()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep, unless a stop comes first; True when the loop should go on."""
        if seconds > 0:
            self.event.wait(seconds)
        return not self.event.is_set()

    @contextlib.contextmanager
    def abortable(self):
        """Waiting for work: a stop raises `Stop` here instead of waiting for the end."""
        if self.event.is_set():
            raise Stop()
        self._abortable = True
        try:
            yield
        finally:
            self._abortable = False
