"""Load generator (a separate process, loopback only, bounded in count and time).

`python -m benchmarks.loadgen --url URL --token T --run-id R --out FILE
    (--concurrency C | --rate R) --count N --seconds S`
Closed loop: C workers post back to back. Open loop: requests start at a fixed rate. Every
request carries a unique external_message_id; the accepted ids are written out so the caller can
check that each is stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


async def run(args) -> dict:
    latencies, statuses, accepted = [], {}, []
    limits = httpx.Limits(max_connections=max(args.concurrency, 64), max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    deadline = time.monotonic() + args.seconds
    counter = iter(range(args.count))

    async with httpx.AsyncClient(limits=limits, timeout=30.0, headers=headers) as client:

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
            try:
                response = await client.post(args.url, json=body)
                code = response.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            latencies.append(time.perf_counter() - t0)
            statuses[str(code)] = statuses.get(str(code), 0) + 1
            if code in (200, 201):
                accepted.append(ext)

        started = time.monotonic()
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
    args = parser.parse_args()
    result = asyncio.run(run(args))
    with open(args.out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
