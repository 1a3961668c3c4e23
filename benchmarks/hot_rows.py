"""Hot rollup rows under concurrent writers (issue 17, item 3): one row per key, sharded rows,
or append-only deltas folded later. PostgreSQL only.

Each writer thread runs transactions shaped like a service's: some work holding no shared row
(`--hold` ms, the message and event inserts of a real one), then the upsert of one channel's
coarse row, then COMMIT (which waits for the WAL flush while the row stays locked). All writers
write the same channel: the 16-day row every transaction of a channel moves.

- single: one row per key (before issue 17): writers queue on the row from upsert to commit;
- sharded: the key has `--shards` rows, each connection adds to its own (what the product does);
- append: each transaction inserts a delta row; a folder thread moves them into the counters
  every second (DELETE … RETURNING into an upsert), reads add the unfolded deltas.

Usage: python -m benchmarks.hot_rows [--dsn postgres://postgres@127.0.0.1:5432/test]
       [--writers 8] [--seconds 5] [--hold 1] [--shards 8]
Prints transactions per second per mode and checks that the totals are exact.
"""

from __future__ import annotations

import argparse
import threading
import time

import psycopg

DB = "bench_hot_rows"


def _admin(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def _setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE counters (k text, shard int, n bigint NOT NULL, s bigint NOT NULL, "
            "PRIMARY KEY (k, shard))"
        )
        conn.execute("CREATE TABLE deltas (id bigserial PRIMARY KEY, k text, n bigint, s bigint)")
        conn.execute("CREATE TABLE work (id bigserial PRIMARY KEY, payload text)")


def _reset(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE counters, deltas, work")


def _writer(dsn, mode, index, shards, hold, stop, counts, waits):
    done = 0
    waited = 0.0
    with psycopg.connect(dsn) as conn:
        shard = index % shards if mode == "sharded" else 0
        while not stop.is_set():
            with conn.transaction():
                conn.execute("INSERT INTO work (payload) VALUES ('message and event')")
                if hold:
                    time.sleep(hold / 1000)
                began = time.perf_counter()
                if mode == "append":
                    conn.execute("INSERT INTO deltas (k, n, s) VALUES ('api', 1, 7)")
                else:
                    conn.execute(
                        "INSERT INTO counters (k, shard, n, s) VALUES ('api', %s, 1, 7) "
                        "ON CONFLICT (k, shard) DO UPDATE SET n = counters.n + excluded.n, "
                        "s = counters.s + excluded.s",
                        (shard,),
                    )
                waited += time.perf_counter() - began
            done += 1
    counts[index] = done
    waits[index] = waited


def _folder(dsn, stop):
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(1.0):
            _fold(conn)


def _fold(conn) -> None:
    conn.execute(
        "WITH d AS (DELETE FROM deltas RETURNING k, n, s) "
        "INSERT INTO counters (k, shard, n, s) SELECT k, 0, SUM(n), SUM(s) FROM d GROUP BY k "
        "ON CONFLICT (k, shard) DO UPDATE SET n = counters.n + excluded.n, "
        "s = counters.s + excluded.s"
    )


def _total(conn) -> tuple[int, int]:
    row = conn.execute(
        "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(s), 0) FROM "
        "(SELECT n, s FROM counters WHERE k = 'api' UNION ALL "
        "SELECT n, s FROM deltas WHERE k = 'api') x"
    ).fetchone()
    return int(row[0]), int(row[1])


def run_mode(dsn, mode, writers, seconds, hold, shards) -> dict:
    _reset(dsn)
    stop = threading.Event()
    counts, waits = [0] * writers, [0.0] * writers
    threads = [
        threading.Thread(target=_writer, args=(dsn, mode, i, shards, hold, stop, counts, waits))
        for i in range(writers)
    ]
    if mode == "append":
        threads.append(threading.Thread(target=_folder, args=(dsn, stop)))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    done = sum(counts)
    with psycopg.connect(dsn, autocommit=True) as conn:
        n, s = _total(conn)
        read_began = time.perf_counter()
        for _ in range(200):
            _total(conn)
        read_ms = (time.perf_counter() - read_began) / 200 * 1000
    return {
        "mode": mode,
        "tx_per_s": done / seconds,
        "upsert_wait_ms": 1000 * sum(waits) / max(done, 1),
        "read_ms": read_ms,
        "exact": n == done and s == 7 * done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--hold", type=float, default=1.0, help="ms of other work per transaction")
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    _admin(args.dsn, f"DROP DATABASE IF EXISTS {DB}")
    _admin(args.dsn, f"CREATE DATABASE {DB}")
    dsn = args.dsn.rsplit("/", 1)[0] + f"/{DB}"
    try:
        _setup(dsn)
        print(
            f"{args.writers} writers of one channel, {args.seconds:g} s each, "
            f"{args.hold:g} ms of other work per transaction, {args.shards} shards"
        )
        print(
            "| mode | transactions/s | wait in the rollup statement (ms/tx) | read (ms) | exact |"
        )
        print("|---|---|---|---|---|")
        for mode in ("single", "sharded", "append"):
            r = run_mode(dsn, mode, args.writers, args.seconds, args.hold, args.shards)
            print(
                f"| {r['mode']} | {r['tx_per_s']:,.0f} | {r['upsert_wait_ms']:.2f} | "
                f"{r['read_ms']:.2f} | {'yes' if r['exact'] else '**no**'} |"
            )
    finally:
        _admin(args.dsn, f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
