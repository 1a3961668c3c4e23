"""The benchmark entry point: `python -m benchmarks.run --quick | --full` (make bench-quick / make bench).

--quick: 100,000 generated conversations on SQLite (var/bench/quick.sqlite3), every scenario once.
--full:  S = 1,000,000 conversations on SQLite (var/bench/s.sqlite3) and L = 10,000,000 on
         PostgreSQL (database convodesk_bench_l, messages for the latest 1,000,000).
Data sets are created or continued (`manage.py generate` is resumable) and reused by later runs.
Each scenario runs in its own process; results go to var/bench/<set>/*.json and BENCHMARKS.md.
Options: --sets Q,S,L to choose, --only list,export,ingest,peer,http to choose scenarios, --runs N.
http: the list, API, statistics and export over HTTP against `manage.py serve` (benchmarks/http_read.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, VAR, secret_key
from benchmarks.report import write_report

PY = sys.executable
PG_BASE = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")

SETS = {
    "Q": {
        "label": "quick: 100,000 conversations, SQLite",
        "url": f"sqlite:///{VAR / 'quick.sqlite3'}",
        "conversations": 100_000,
        "messages_for": None,
        "export_rows": 100_000,
    },
    "S": {
        "label": "S: 1,000,000 conversations, SQLite",
        "url": f"sqlite:///{VAR / 's.sqlite3'}",
        "conversations": 1_000_000,
        "messages_for": None,
        "export_rows": 1_000_000,
    },
    "L": {
        "label": "L: 10,000,000 conversations, PostgreSQL (messages for the latest 1,000,000)",
        "url": f"{PG_BASE}/convodesk_bench_l",
        "conversations": 10_000_000,
        "messages_for": 1_000_000,
        "export_rows": 1_000_000,
    },
    "QP": {
        "label": "quick on PostgreSQL: 100,000 conversations",
        "url": f"{PG_BASE}/convodesk_bench_qp",
        "conversations": 100_000,
        "messages_for": None,
        "export_rows": 100_000,
    },
    # Ingestion on PostgreSQL in quick mode needs no bulk data: only the organisation.
    "PGI": {
        "label": "PostgreSQL ingestion (organisation only)",
        "url": f"{PG_BASE}/convodesk_bench_ingest",
        "conversations": 0,
        "messages_for": None,
        "export_rows": 0,
    },
}
SCENARIOS = ("list", "export", "ingest", "peer", "http")
EXTRA_SCENARIOS = ("stats",)  # part of "list"; alone it reruns only the statistics page
PEER_PY = ROOT / "benchmarks" / "peers" / ".venv-helpdesk" / "bin" / "python"


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def env_for(url: str) -> dict:
    return dict(
        os.environ,
        DATABASE_URL=url,
        PYTHONPATH=str(ROOT),
        DEBUG="false",
        SECRET_KEY=secret_key(),
    )


def step(
    cmd: list[str], env: dict, nice: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess:
    if nice:
        cmd = ["nice", "-n", "10", *cmd]
    return subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, text=True, capture_output=True)


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


def prepare(key: str, spec: dict, results: dict) -> bool:
    """Migrate and generate (or continue) the data set; False when it must be skipped."""
    env = env_for(spec["url"])
    if spec["url"].startswith("postgres"):
        reason = ensure_pg_database(spec["url"])
        if reason:
            results["skipped"] = reason
            log(f"[{key}] skipped: {reason}")
            return False
    else:
        VAR.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    out = step([PY, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"], env)
    if out.returncode:
        results["skipped"] = "migrate failed: " + out.stderr[-2000:]
        log(f"[{key}] migrate failed:\n{out.stderr[-2000:]}")
        return False
    results["migrate_seconds"] = round(time.monotonic() - t0, 1)
    cmd = [PY, "manage.py", "generate", "--conversations", str(spec["conversations"])]
    if spec["messages_for"]:
        cmd += ["--messages-for", str(spec["messages_for"])]
    log(f"[{key}] generating {spec['conversations']:,} conversations (resumable)…")
    t0 = time.monotonic()
    out = step(cmd, env, nice=True)
    results["generate_seconds"] = round(time.monotonic() - t0, 1)
    results["generate_log"] = out.stdout[-4000:]
    print(out.stdout[-3000:], flush=True)
    if out.returncode:
        results["skipped"] = "generate failed: " + out.stderr[-2000:]
        log(f"[{key}] generate failed:\n{out.stderr[-3000:]}")
        return False
    if "Not enough disk" in out.stdout:
        results["skipped"] = out.stdout.strip().splitlines()[-1]
        return False
    return True


def run_set(key: str, spec: dict, args) -> dict:
    results: dict = {"label": spec["label"], "url": spec["url"].split("@")[-1]}
    work = VAR / key
    work.mkdir(parents=True, exist_ok=True)
    if not prepare(key, spec, results):
        return results
    env = env_for(spec["url"])
    if "list" in args.only and spec["conversations"]:
        log(f"[{key}] list, counts, API, statistics, EXPLAIN…")
        out = step(
            [
                PY,
                "-m",
                "benchmarks.inproc",
                "--out",
                str(work / "inproc.json"),
                "--runs",
                str(args.runs),
                "--warmup",
                str(args.warmup),
            ],
            env,
        )
        if out.returncode:
            results["inproc_error"] = out.stderr[-3000:]
            log(f"[{key}] in-process scenarios failed:\n{out.stderr[-3000:]}")
        else:
            results["inproc"] = json.loads((work / "inproc.json").read_text())
    if "stats" in args.only and "list" not in args.only and spec["conversations"]:
        log(f"[{key}] statistics page only…")
        out = step(
            [
                PY,
                "-m",
                "benchmarks.inproc",
                "--stats-only",
                "--out",
                str(work / "stats.json"),
                "--runs",
                str(args.runs),
                "--warmup",
                str(args.warmup),
            ],
            env,
        )
        if out.returncode:
            results["stats_error"] = out.stderr[-3000:]
            log(f"[{key}] statistics failed:\n{out.stderr[-3000:]}")
        else:
            fresh = json.loads((work / "stats.json").read_text())
            # A set measured before keeps its list figures; a fresh one takes the run's header.
            results["inproc"] = {**fresh, **results.get("inproc", {}), "stats": fresh["stats"]}
            results["stats_run"] = {
                "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "conversations": fresh["conversations"],
                "vendor": fresh["vendor"],
            }
    if "export" in args.only and spec["export_rows"]:
        results["export"] = {}
        for mode in ("floor", "ours"):
            log(f"[{key}] export {spec['export_rows']:,} rows: {mode}…")
            target = work / f"export-{mode}.json"
            out = step(
                [
                    PY,
                    "-m",
                    "benchmarks.export_run",
                    "--mode",
                    mode,
                    "--rows",
                    str(spec["export_rows"]),
                    "--out",
                    str(target),
                ],
                env,
            )
            if out.returncode:
                results["export"][mode] = {"error": out.stderr[-2000:]}
                log(f"[{key}] export {mode} failed:\n{out.stderr[-2000:]}")
            else:
                results["export"][mode] = json.loads(target.read_text())
    if "ingest" in args.only and key in ("Q", "S", "PGI", "QP", "L"):
        log(f"[{key}] ingestion (2 uvicorn workers vs bare app)…")
        out = step(
            [
                PY,
                "-m",
                "benchmarks.ingest",
                "--out",
                str(work / "ingest.json"),
                "--count",
                str(args.ingest_count),
                "--seconds",
                str(args.ingest_seconds),
            ],
            env,
        )
        if out.returncode:
            results["ingest_error"] = out.stderr[-3000:]
            log(f"[{key}] ingestion failed:\n{out.stderr[-3000:]}")
        else:
            results["ingest"] = json.loads((work / "ingest.json").read_text())
    if "http" in args.only and spec["conversations"]:
        log(f"[{key}] list, API, statistics and export over HTTP against serve…")
        target = work / "http.json"
        target.unlink(missing_ok=True)
        cmd = ["-m", "benchmarks.http_read", "--out", str(target), "--runs", str(args.runs)]
        out = step([PY, *cmd, "--warmup", str(args.warmup)], env)
        if target.exists():
            results["http"] = json.loads(target.read_text())
        results["http_error"] = out.stderr[-3000:] if out.returncode else None
        if out.returncode:
            log(f"[{key}] over HTTP failed:\n{out.stderr[-3000:]}")
    if "peer" in args.only and spec["conversations"] and key in PEER_TICKETS:
        results["peer"] = run_peer(key, spec, work)
    return results


# Tickets the peer gets per data set: the same count, except on L, where 1,000,000 tickets (the
# PERFORMANCE.md figure) are compared with our 10,000,000 conversations: against us, not for us.
PEER_TICKETS = {"Q": 100_000, "S": 1_000_000, "L": 1_000_000}


def run_peer(key: str, spec: dict, work: Path) -> dict:
    """django-helpdesk in its own venv, on the same database engine (its own database)."""
    if not PEER_PY.exists():
        log(f"[{key}] peer: creating benchmarks/peers/.venv-helpdesk…")
        out = step(
            ["sh", str(ROOT / "benchmarks" / "peers" / "setup.sh")], dict(os.environ), nice=True
        )
        if out.returncode or not PEER_PY.exists():
            return {
                "skipped": "could not install django-helpdesk into benchmarks/peers/.venv-helpdesk: "
                + (out.stderr or out.stdout)[-800:]
            }
    tickets = PEER_TICKETS[key]
    log(f"[{key}] peer: django-helpdesk with {tickets:,} tickets…")
    target = work / "peer.json"
    if spec["url"].startswith("postgres"):
        db = f"{PG_BASE}/convodesk_bench_peer_{key.lower()}"
        reason = ensure_pg_database(db)
        if reason:
            return {"skipped": reason}
    else:
        db = f"sqlite:///{VAR / f'peer-{key}.sqlite3'}"
    out = step(
        [
            str(PEER_PY),
            str(ROOT / "benchmarks" / "peers" / "helpdesk_bench.py"),
            "--tickets",
            str(tickets),
            "--db",
            db,
            "--out",
            str(target),
        ],
        dict(os.environ),
        nice=False,
    )
    if out.returncode:
        return {"skipped": "django-helpdesk benchmark failed: " + out.stderr[-1500:]}
    return json.loads(target.read_text())


def machine() -> dict:
    def sh(cmd):
        try:
            return subprocess.run(
                cmd, shell=True, capture_output=True, text=True, cwd=ROOT
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "nproc": sh("nproc"),
        "free": sh("free -h | head -2"),
        "uname": sh("uname -srmo"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        "python": platform.python_version(),
        "commit": sh("git rev-parse --short HEAD"),
        "dirty": bool(sh("git status --porcelain")),
        "load": sh("cat /proc/loadavg"),
        "sqlite": __import__("sqlite3").sqlite_version,
        "postgres": sh("psql -h 127.0.0.1 -U postgres -Atc 'show server_version' 2>/dev/null"),
    }


def _save(path: Path, results: dict, keys: list[str]) -> dict:
    """Write this run's data sets into results.json, keeping what other runs wrote meanwhile."""
    merged = dict(results)
    if path.exists():
        try:
            others = json.loads(path.read_text()).get("sets", {})
        except ValueError:
            others = {}
        merged["sets"] = {
            **{k: v for k, v in others.items() if k not in keys},
            **{k: v for k, v in results["sets"].items() if k in keys},
        }
    path.write_text(json.dumps(merged, indent=1, default=str))
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--sets", default="", help="Comma-separated data sets (Q, S, L, PGI).")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help="Scenarios: list,export,ingest,peer,http; stats alone reruns only the statistics page.",
    )
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--report", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--report-only", action="store_true", help="Rewrite BENCHMARKS.md from results.json."
    )
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((VAR / "results.json").read_text()), Path(args.report))
        return 0
    if not (args.quick or args.full):
        parser.error("one of --quick, --full or --report-only is required")
    args.only = set(args.only.split(","))
    keys = args.sets.split(",") if args.sets else (["Q", "PGI"] if args.quick else ["S", "L"])
    args.warmup = args.warmup or (1 if args.quick else 3)
    args.runs = args.runs or (5 if args.quick else 15)
    args.ingest_count = 1500 if args.quick else 6000
    args.ingest_seconds = 10 if args.quick else 25
    started = time.monotonic()
    command = " ".join(["python -m benchmarks.run", *sys.argv[1:]])
    all_results = {
        "mode": "quick" if args.quick else "full",
        "command": command,
        "machine": machine(),
        "sets": {},
    }
    previous = VAR / "results.json"
    if previous.exists():  # keep the other data sets' latest figures in the report
        try:
            all_results["sets"] = json.loads(previous.read_text()).get("sets", {})
        except ValueError:
            pass
    partial = set(SCENARIOS) - args.only  # a partial run keeps the set's other scenarios' figures
    for key in keys:
        if not partial:
            all_results["sets"].pop(key, None)
    for key in keys:
        set_started = time.monotonic()
        fresh = run_set(key, SETS[key], args)
        earlier = all_results["sets"].get(key, {})
        merged = {**earlier, **fresh} if partial else fresh
        if partial and "inproc" in earlier and "inproc" in fresh:
            merged["inproc"] = {**earlier["inproc"], **fresh["inproc"]}  # a statistics-only rerun
        stats_only = "stats" in args.only and "list" not in args.only
        if not stats_only:
            merged.pop("stats_run", None)  # the statistics table is this run's again
        all_results["sets"][key] = merged
        all_results["sets"][key].update(
            # A statistics-only rerun says so above its table and keeps the set's header.
            command=merged.get("command", command) if stats_only else command,
            finished=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            seconds=round(time.monotonic() - set_started, 1),
        )
        _save(previous, all_results, keys)
    all_results["seconds"] = round(time.monotonic() - started, 1)
    all_results = _save(previous, all_results, keys)
    write_report(all_results, Path(args.report))
    log(f"done in {all_results['seconds']:.0f} s; wrote {args.report} and {VAR / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
