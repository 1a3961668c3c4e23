"""Real processes for the operations tests: a fresh installation in a folder of its own, the
product's commands started as the service manager would, and Linux's view of what is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(PROJECT / "manage.py")]
SECRET = "ops-tests-secret-key-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, step: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def installation_env(var_dir: Path, **extra) -> dict:
    """The environment of one installation: its own var folder (SQLite, key, static files)
    unless DATABASE_URL is given; the real task backend, not the tests' immediate one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TASKS_BACKEND", "CONVODESK_TEST_DB")
    }
    env.update(
        CONVODESK_VAR_DIR=str(var_dir),
        SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="1",
        PG_POOL_MAX="4",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args, check=True, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MANAGE, *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def start(env: dict, *args, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [*MANAGE, *args], env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT
    )


# Linux's process table ---------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) from /proc, or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                children.setdefault(stat[0], []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (Z) or a vanished pid is not alive."""
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X")


def zombies(pids) -> set[int]:
    return {p for p in pids if (_stat(p) or (0, ""))[1] == "Z"}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> int:
    """Stop a process the test started (and, failing that, kill it); its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


def kill_tree(pid: int) -> None:
    """Clean-up after a failed test: whatever is left of a process and its descendants."""
    for child in descendants(pid) | {pid}:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
