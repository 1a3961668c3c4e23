"""The process supervisor behind `manage.py serve`.

Each child runs in a process group of its own, so a stop reaches the processes it starts too
(uvicorn's workers) and a terminal's Ctrl-C reaches only the supervisor, which stops the children
in order. On SIGTERM, SIGINT or SIGHUP every child gets SIGTERM; those still running after the
grace period get SIGKILL. Finished children are reaped at once (no zombie after the demo
loader). A long-running child that exits is started again after a growing pause; one that exits
more than `max_restarts` times within `window` seconds stops everything with a non-zero exit.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger("convodesk.serve")


@dataclass
class Child:
    name: str
    command: list[str]
    restart: bool = True  # False: runs once (the demo loader)
    process: subprocess.Popen | None = None
    exits: deque = field(default_factory=deque)
    next_start: float = 0.0
    finished: bool = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class KeepsFailing(Exception):
    def __init__(self, child: Child):
        super().__init__(child.name)
        self.child = child


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        grace: float = 10.0,
        max_restarts: int = 5,
        window: float = 60.0,
        say=None,
    ):
        self.children = children
        self.grace = grace
        self.max_restarts = max_restarts
        self.window = window
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.stop_requested = threading.Event()
        self.stop_signal: int | None = None
        self.kill_now = False

    # Signals ------------------------------------------------------------------------------

    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.stop_requested.is_set():
            self.kill_now = True  # a second signal: no more waiting
        self.stop_signal = signum
        self.stop_requested.set()

    # Children -----------------------------------------------------------------------------

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, start_new_session=True)

    def check(self, child: Child, now: float) -> None:
        """Reap a child that exited; start it (again) when it is due."""
        if child.process is not None:
            code = child.process.poll()  # reaps it
            if code is None:
                return
            child.process = None
            if not child.restart:
                child.finished = True
                if code:
                    self.say(f"The {child.name} process exited with code {code}.")
                return
            child.exits.append(now)
            while child.exits and child.exits[0] < now - self.window:
                child.exits.popleft()
            if len(child.exits) > self.max_restarts:
                raise KeepsFailing(child)
            pause = min(2 ** (len(child.exits) - 1), 10)
            child.next_start = now + pause
            self.say(
                f"The {child.name} process exited (code {code}); starting it again in {pause} s."
            )
        if not child.finished and now >= child.next_start:
            self.start(child)

    def run(self) -> int:
        """Supervise until a stop is asked for (0) or a child keeps failing (1)."""
        code = 0
        try:
            while not self.stop_requested.is_set():
                now = time.monotonic()
                for child in self.children:
                    self.check(child, now)
                self.stop_requested.wait(0.2)
            name = signal.Signals(self.stop_signal).name if self.stop_signal else "stop"
            self.say(f"{name} received: stopping (up to {self.grace:g} s)…")
        except KeepsFailing as failing:
            self.say(
                f"The {failing.child.name} process keeps failing ({self.max_restarts + 1} exits "
                f"within {self.window:g} s): stopping everything."
            )
            code = 1
        finally:
            self.stop_all()
        return code

    def stop_all(self) -> None:
        """SIGTERM to every child's group, SIGKILL to what is left after the grace period."""
        running = [c for c in self.children if c.process is not None]
        for child in running:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while (
            any(c.process.poll() is None for c in running)
            and time.monotonic() < deadline
            and not self.kill_now
        ):
            time.sleep(0.05)
        for child in running:
            if child.process.poll() is None:
                self.say(f"The {child.name} process did not stop in time: killing it.")
            # The group too: a child's own children (uvicorn's workers) must not outlive it.
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
