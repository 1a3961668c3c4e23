"""Timing and memory helpers shared by the scenarios."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Benchmarks call the API thousands of times with one token (servers they start inherit this).
os.environ.setdefault("API_RATE_BURST", "1000000000")
VAR = Path(os.environ.get("CONVODESK_BENCH_DIR", ROOT / "var" / "bench"))


def secret_key() -> str:
    """The benchmark installation's own key (kept with its data, so reruns read what they wrote)."""
    from convodesk import keyfile

    return os.environ.get("SECRET_KEY") or keyfile.ensure(VAR / "secret_key")


def summary(samples_s: list[float]) -> dict:
    """Median, p95 and max in milliseconds (p95 = nearest rank)."""
    ms = sorted(x * 1000 for x in samples_s)
    if not ms:
        return {"n": 0}
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    return {
        "n": len(ms),
        "median": round(statistics.median(ms), 2),
        "p95": round(p95, 2),
        "max": round(ms[-1], 2),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports kB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(fn, warmup: int, runs: int) -> tuple[list[float], object]:
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return samples, result


def dump(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))


def ensure_pg_database(url: str) -> str | None:
    """Create the PostgreSQL database if missing; return a reason when PostgreSQL is not reachable."""
    import psycopg

    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(base + "/postgres", autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {base}: {exc}"
    return None
