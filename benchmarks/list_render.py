"""The list page's Python time per page (issue 23 item 3): page time minus its SQL time.

`DATABASE_URL=… python -m benchmarks.list_render --runs 15 [--profile admin]` on a generated data
set (`manage.py generate`). For each request: the page's median / p95 in ms, its statements'
total, and "python" = page − SQL per sample (middleware, view, rows and template rendering).
`--profile NAME` runs that request under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pathlib
import pstats
import re
import statistics
import sys
import time
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from benchmarks.inproc import LIST, QueryTimer  # noqa: E402
from convodesk.devtools import generate  # noqa: E402

REQUESTS = {
    "admin": ("admin", {"view": "all"}),
    "admin-200": ("admin", {"view": "all", "per_page": "200"}),
    "operator": ("operator", {"view": "all"}),
    "client": ("admin", {"client": "garcía"}),
    "waiting": ("admin", {"status": "waiting"}),
}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def measure(client, url, runs, warmup):
    page, sql = [], []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        with QueryTimer() as timer:
            response = client.get(url)
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200, response.status_code
        if i >= warmup:
            page.append(elapsed * 1000)
            sql.append(sum(timer.times) * 1000)
    python = [p - s for p, s in zip(page, sql, strict=True)]
    return {
        "page": (statistics.median(page), pct(page, 0.95)),
        "sql": (statistics.median(sql), pct(sql, 0.95)),
        "python": (statistics.median(python), pct(python, 0.95)),
        "bytes": len(response.content),
    }


CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


def dump_pages(clients, names, folder) -> int:
    """The pages' HTML with the clock frozen and CSRF tokens blanked, in English and Spanish:
    diff two dumps to check that a change to the rendering left the output as it was."""
    from unittest import mock

    from django.utils import timezone

    out = pathlib.Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    frozen = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        for name in names:
            role, params = REQUESTS[name]
            for lang in ("en", "es"):
                client = clients[role]
                client.cookies["django_language"] = lang
                body = client.get(LIST + "?" + urlencode(params), HTTP_ACCEPT_LANGUAGE=lang)
                html = CSRF.sub(r"\1-", body.content.decode())
                (out / f"{name}-{lang}.html").write_text(html)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", default=",".join(REQUESTS))
    parser.add_argument("--profile", default="")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--dump", default="", help="Write each page's HTML here (clock frozen, CSRF blanked)."
    )
    args = parser.parse_args()
    users = generate.bench_users()
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    if args.dump:
        return dump_pages(clients, args.only.split(","), args.dump)
    if args.profile:
        role, params = REQUESTS[args.profile]
        url = LIST + "?" + urlencode(params)
        for _ in range(args.warmup):
            clients[role].get(url)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.runs):
            clients[role].get(url)
        prof.disable()
        if os.environ.get("PROFILE_OUT"):
            prof.dump_stats(os.environ["PROFILE_OUT"])
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        return 0
    print("request | page median / p95 | SQL median / p95 | python median / p95 (ms) | bytes")
    for name in args.only.split(","):
        role, params = REQUESTS[name]
        r = measure(clients[role], LIST + "?" + urlencode(params), args.runs, args.warmup)
        print(
            f"{name} | {r['page'][0]:.1f} / {r['page'][1]:.1f} | {r['sql'][0]:.1f} / "
            f"{r['sql'][1]:.1f} | {r['python'][0]:.1f} / {r['python'][1]:.1f} | {r['bytes']:,}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
