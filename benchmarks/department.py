"""The department supervisor's list, API, deep pages and counts (issue 23 item 1), in-process.

    DATABASE_URL=sqlite:///var/bench/quick.sqlite3 python -m benchmarks.department --runs 15

Measures, for the generated data set's supervisor (level "department"): the list page 1, a jump
to a deep page (page 1000, or the last full page when the department has fewer), the next page by
cursor, the API page 1 and its next page, the statistics page for the last 30 days, the total
(`bounded_count` of `countable`) and the tab counts, and prints the plans of the statements that
find the page's ids. It reads the data set
that `manage.py generate` (or `python -m benchmarks.run --quick --sets Q --only list`) made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The benchmark calls the API thousands of times with one token: lift the per-token limit.
os.environ.setdefault("API_RATE_BURST", "1000000000")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from benchmarks.common import summary, timed  # noqa: E402
from convodesk.conversations.filters import ConversationFilter  # noqa: E402
from convodesk.conversations.models import Conversation  # noqa: E402
from convodesk.conversations.paging import bounded_count  # noqa: E402
from convodesk.conversations.views.params import normalize  # noqa: E402
from convodesk.conversations.views.tabs import all_tabs, count_tabs  # noqa: E402
from convodesk.conversations.visibility import countable, granting_rows  # noqa: E402
from convodesk.devtools.generate import bench_users  # noqa: E402

LIST = "/contact-center/conversations/"
STATS = "/contact-center/statistics/"
API = "/api/v1/conversations"
AFTER = re.compile(r"after=([A-Za-z0-9_\-]+)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    user = bench_users()["supervisor"]
    client = Client()
    client.force_login(user)
    from convodesk.api.models import ApiToken

    token = ApiToken.issue(user, name="benchmark")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    flt = ConversationFilter(normalize(QueryDict("view=all")))
    count = bounded_count(countable(user, flt, "view"))
    seen = Conversation.objects.visible_to(user, "view", shape="set").count()  # once, exact
    deep = max(1, min(1000, seen // 50))
    first = client.get(LIST + "?view=all").content.decode()
    after = AFTER.search(first).group(1)
    api_first = client.get(API, **auth).json()
    from django.utils import timezone

    from30 = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    results = {"vendor": connection.vendor, "sees": seen, "total": count.value}
    results["exact"] = count.exact
    requests = {
        "list page 1": (LIST + "?view=all", {}),
        f"list page {deep} (jump)": (LIST + f"?view=all&page={deep}", {}),
        "list page 2 (cursor)": (LIST + "?" + urlencode({"page": 2, "after": after}), {}),
        "API page 1": (API, auth),
        "API page 2 (cursor)": (API + "?" + urlencode({"cursor": api_first["next_cursor"]}), auth),
        "statistics, last 30 days": (STATS + "?" + urlencode({"started_from": from30}), {}),
    }
    for name, (url, headers) in requests.items():
        sql = []

        def one(url=url, headers=headers, sql=sql):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)
            sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
            return len(queries.captured_queries)

        samples, statements = timed(one, args.warmup, args.runs)
        sql_ms = sorted(sql[args.warmup :])
        results[name] = {
            **summary(samples),
            "statements": statements,
            "sql_median": round(sql_ms[len(sql_ms) // 2], 1),
        }
    samples, _ = timed(lambda: bounded_count(countable(user, flt, "view")), args.warmup, args.runs)
    results["count"] = summary(samples)

    def tabs():
        tab_list = all_tabs(user, [])
        visible = Conversation.objects.visible_to(user, "view", shape="set")
        try:
            from convodesk.conversations.visibility import merged_walk
        except ImportError:
            count_tabs(visible, tab_list, granting_rows(user, "view"))
        else:
            count_tabs(visible, tab_list, granting_rows(user, "view"), walk=merged_walk(user))
        return [t.count for t in tab_list]

    samples, _ = timed(tabs, args.warmup, args.runs)
    results["tab counts"] = summary(samples)
    results["plans"] = plans(user, deep)
    print(
        f"{connection.vendor}: department sees {seen:,}; the list says {count.value:,}"
        f" (exact: {count.exact})"
    )
    for name, value in results.items():
        if isinstance(value, dict) and "p95" in value:
            extra = ""
            if "statements" in value:
                extra = f", {value['statements']} statements, SQL median {value['sql_median']} ms"
            print(
                f"  {name:28} median {value['median']:8.1f} ms  p95 {value['p95']:8.1f} ms{extra}"
            )
    for name, plan in results["plans"].items():
        print(f"\n-- {name}\n{plan}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


def plans(user, deep: int) -> dict:
    """The plan of the statement that finds the ids of page 1 and of the deep page."""
    out = {}
    for name, page in (("page 1 ids", 1), (f"page {deep} ids", deep)):
        c = Client()
        c.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            c.get(LIST + f"?view=all&page={page}")
        ids_sql = [
            q["sql"]
            for q in queries.captured_queries
            if "conversationparticipant" in q["sql"]
            and "LIMIT 51" in q["sql"]  # the page's ids (50 rows and one to know of a next)
            and "COUNT" not in q["sql"].upper()[:40]
        ]
        if not ids_sql:
            continue
        sql = max(ids_sql, key=len)
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql)
            rows = cursor.fetchall()
        out[name] = "\n".join(" ".join(str(x) for x in row) for row in rows)
    return out


if __name__ == "__main__":
    main()
