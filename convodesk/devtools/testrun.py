"""`make test`: the whole suite on SQLite, then the database-dependent tests on PostgreSQL.

Outside CI a missing PostgreSQL is a visible skip line; inside CI (CI=true) it is a failure.
"""

import os
import socket
import subprocess
import sys
import uuid

PG_HOST, PG_PORT = "127.0.0.1", 5432
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def run(label: str, env: dict, args: list[str]) -> int:
    print(f"\n=== {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main(argv: list[str]) -> int:
    workers = os.environ.get("TEST_WORKERS", "2")
    base = {**os.environ, "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}
    base.pop("DATABASE_URL", None)
    # Whole files to the workers in collection order, the slowest first (tests/conftest.py's
    # SLOWEST_FILES); xdist would otherwise hand out the files with the most tests first, and a
    # heavy file of one test (a real export, a moved installation) ran alone at the end.
    common = ["-n", workers, "--dist", "loadfile", "--no-loadscope-reorder", "-q", *argv]

    sqlite_env = {**base, "CONVODESK_VAR_DIR": os.path.abspath("var/test-sqlite")}
    code = run(
        "SQLite: the whole suite but the API fuzz run", sqlite_env, [*common, "-m", "not fuzz"]
    )
    # schemathesis's generated cases are one pytest item per operation only without xdist (under
    # a worker each fuzz test collapses into one item that makes a few dozen calls). One process
    # on its own SQLite file (tests/conftest.py names one per process): it runs beside the
    # PostgreSQL pass, and its output is printed after it.
    fuzz = ["-p", "no:xdist", "-q", "-m", "fuzz", *argv]
    fuzz_label = "SQLite: the API fuzz run (schemathesis, beside the PostgreSQL pass)"
    fuzz_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", *fuzz],
        env=sqlite_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def fuzz_result() -> int:
        output, _ = fuzz_run.communicate()
        print(f"\n=== {fuzz_label} ===\n{output}", flush=True)
        return fuzz_run.returncode

    if not postgres_reachable():
        message = f"PostgreSQL on {PG_HOST}:{PG_PORT} is not reachable"
        code = fuzz_result() or code
        if IN_CI:
            print(f"FAILED: {message}; CI needs it.", flush=True)
            return 1
        print(f"SKIPPED the PostgreSQL pass: {message}.", flush=True)
        return code

    pg_env = {
        **base,
        "DATABASE_URL": f"postgres://postgres@{PG_HOST}:{PG_PORT}/test",
        "CONVODESK_TEST_DB": f"test_convodesk_{uuid.uuid4().hex[:8]}",
        "CONVODESK_VAR_DIR": os.path.abspath("var/test-postgres"),
    }
    pg_code = run(
        "PostgreSQL: the database-dependent tests",
        pg_env,
        [*common, "-m", "not nodb and not browser and not fuzz"],
    )
    return fuzz_result() or code or pg_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
