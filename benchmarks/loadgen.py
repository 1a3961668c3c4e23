"""Load generator (a separate process, loopback only, bounded in count and time).

`python -m benchmarks.loadgen --url URL --token T --run-id R --out FILE
    (--concurrency C | --rate R) --count N --seconds S`
Closed loop: C workers post back to back. Open loop: requests start at a fixed rate. Every
request carries a unique external_message_id; the accepted ids are written out so the caller can
check that each is stored exactly once. With --retry, a failed request (connection error, timeout,
429 or 5xx) is posted again with the same id until accepted, as a connector would (`sent_ids` and
the counts of retries are written out too; latency is then first try to acceptance).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


async def run(args) -> dict:
    latencies, statuses, accepted = [], {}, []
    sent_ids, retried, failures, accepted_at = [], [], {}, []
    give_up = time.monotonic() + args.seconds + 60  # a retried message stops trying after this
    limits = httpx.Limits(max_connections=max(args.concurrency, 64), max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    deadline = time.monotonic() + args.seconds
    counter = iter(range(args.count))

    timeout = 10.0 if args.retry else 30.0
    async with httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers) as client:

        async def one(n: int) -> None:
            ext = f"{args.run_id}-{n}"
            body = {
                "external_message_id": ext,
                "text": f"Load test message {n}",
                "client": {
                    "external_id": f"{args.run_id}-client-{n % args.clients}",
                    "name": f"Load {n % args.clients}",
                },
            }
            t0 = time.perf_counter()
            sent_ids.append(ext)
            for attempt in range(1_000_000):
                try:
                    response = await client.post(args.url, json=body)
                    code = response.status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                failed = not isinstance(code, int) or code == 429 or code >= 500
                if not (args.retry and failed and time.monotonic() < give_up):
                    break
                failures[str(code)] = failures.get(str(code), 0) + 1
                if attempt == 0:
                    retried.append(ext)
                await asyncio.sleep(0.05)
            latencies.append(time.perf_counter() - t0)
            statuses[str(code)] = statuses.get(str(code), 0) + 1
            if code in (200, 201):
                accepted.append(ext)
                accepted_at.append(time.monotonic() - started)

        started, started_wall = time.monotonic(), time.time()
        if args.rate:
            tasks = []
            interval = 1.0 / args.rate
            for n in counter:
                when = started + n * interval
                if when > deadline:
                    break
                delay = when - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(n)))
            await asyncio.gather(*tasks)
        else:

            async def worker() -> None:
                for n in counter:
                    if time.monotonic() > deadline:
                        return
                    await one(n)

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.monotonic() - started
    ms = sorted(x * 1000 for x in latencies)

    def pct(p):
        return round(ms[min(len(ms) - 1, max(0, round(p * len(ms)) - 1))], 1) if ms else None

    extra = {}
    if args.retry:
        extra = {
            "started_at": started_wall,
            "retried": len(retried),
            "first_try": len(sent_ids) - len(retried),
            "failed_requests": sum(failures.values()),
            "failures": failures,
            "sent_ids": sent_ids,
            "accepted_at": [round(t, 3) for t in accepted_at],
        }
    return {
        "sent": len(ms),
        "seconds": round(elapsed, 2),
        "rate": round(len(accepted) / elapsed, 1) if elapsed else 0,
        "statuses": statuses,
        "p50": pct(0.5),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": round(ms[-1], 1) if ms else None,
        "accepted": accepted,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--retry", action="store_true", help="Post a failed message again.")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    with open(args.out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
