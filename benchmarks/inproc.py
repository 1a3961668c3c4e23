"""In-process scenarios on one data set: list page mix, counts, API list, statistics, EXPLAIN.

Run by `benchmarks.run` as `python -m benchmarks.inproc --out FILE [--runs N]` with DATABASE_URL set.
Each request is measured through Django's test Client in this process (request in -> response out,
middleware, queries and template rendering included), with every SQL statement timed through
`connection.execute_wrapper`, the fetching of its rows included (`QueryTimer`); its reference is a
hand-written SQL query returning the same rows on the same database (benchmarks/floor.py), run
with the raw DB-API cursor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
import traceback
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The benchmark calls the API thousands of times with one token: lift the per-token limit.
os.environ.setdefault("API_RATE_BURST", "1000000000")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.backends.utils import CursorWrapper  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks import floor  # noqa: E402
from benchmarks.common import dump, peak_rss_mb, summary, timed  # noqa: E402
from convodesk.conversations.models import Client as ClientRow  # noqa: E402
from convodesk.conversations.models import Conversation  # noqa: E402
from convodesk.conversations.visibility import countable, department_employee_ids  # noqa: E402
from convodesk.devtools import generate  # noqa: E402
from convodesk.lines.models import Line  # noqa: E402

ROW_ID = re.compile(r'<tr id="row-(\d+)"')
LIST = "/contact-center/conversations/"
STATS = "/contact-center/statistics/"
API = "/api/v1/conversations"
METRICS = ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close")


class QueryTimer:
    """Times every statement a request runs (the page's own data access), its rows' fetching
    included: SQLite steps through most of a statement's rows inside `fetchall`/`fetchmany`,
    after `execute` has returned, so an execute-only figure leaves out much of its SQL time.

    Used as a context manager around the request: it installs itself as the connection's
    execute wrapper and times the cursor's fetches, adding each to the statement executed last.
    """

    FETCHES = ("fetchone", "fetchmany", "fetchall")

    def __init__(self):
        self.times: list[float] = []
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.times.append(time.perf_counter() - t0)
            self.sql.append(sql)

    def _fetch(self, name):
        timer = self

        def fetch(cursor_wrapper, *args):
            t0 = time.perf_counter()
            try:
                with cursor_wrapper.db.wrap_database_errors:
                    return getattr(cursor_wrapper.cursor, name)(*args)
            finally:
                if timer.times:
                    timer.times[-1] += time.perf_counter() - t0

        return fetch

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        for name in self.FETCHES:  # CursorWrapper passes these to the DB-API cursor otherwise
            setattr(CursorWrapper, name, self._fetch(name))
        return self

    def __exit__(self, *exc):
        for name in self.FETCHES:
            delattr(CursorWrapper, name)
        return self._wrapper.__exit__(*exc)


ROW_FETCH = re.compile(r'^SELECT "conversations_conversation"\."id"(?: AS "pk")?[ ,]')


# The page's keys off the walk of participant rows (visibility.merged_walk, paging.MergedWalk):
# LIMIT is the page size + 1; the tab counts' edge off the same walk reads one row.
WALK_KEYS = re.compile(r"conversation_id.* LIMIT (\d+) OFFSET \d+$", re.S)


def is_row_fetch(sql: str) -> bool:
    """The statements that fetch the page's rows (what the floor query does): the ids in order
    (off the conversations, or off the walk of a viewer's participant rows), then the rows by id
    with their joins (the list), or the ordered rows (the API). Counts, tab counts, presets,
    sessions and the CRM-link prefetch are the rest of the page's SQL."""
    if ROW_FETCH.match(sql):
        return "LIMIT" in sql or '"id" IN (' in sql
    walk = WALK_KEYS.search(sql)
    return walk is not None and int(walk.group(1)) > 1


def route_exists(path: str) -> bool:
    try:
        resolve(path)
        return True
    except Resolver404:
        return False


def pick_values(users) -> dict:
    """Parameter values taken from the data: a returning client's phone, the operator, 30 days ago."""
    returning = (
        Conversation.objects.filter(returning=True)
        .order_by("-id")
        .values_list("client_id", flat=True)
    )
    client = ClientRow.objects.filter(pk=returning.first()).first() if returning.exists() else None
    today = timezone.localdate()
    return {
        "phone": client.phone if client else "+34 600 000 000",
        "phone_normalized": client.phone_normalized if client else "+34600000000",
        "name": "garcía",
        "from30": (today - dt.timedelta(days=30)).isoformat(),
        "from30_dt": timezone.make_aware(
            dt.datetime.combine(today - dt.timedelta(days=30), dt.time())
        ),
        "operator": users["operator"].pk,
        "department": sorted(department_employee_ids(users["supervisor"])),
        "line": Line.objects.filter(name__startswith="Gen line")
        .order_by("name")
        .values_list("pk", flat=True)
        .first(),
    }


def request_mix(users, v) -> list[dict]:
    """The 12+ requests of the benchmark issue: who asks, the query string, and the floor's filter."""
    mix = [
        ("admin, unfiltered", "admin", {"view": "all"}, floor.Spec()),
        ("operator, own", "operator", {"view": "all"}, floor.Spec(own=v["operator"])),
        (
            "supervisor, department",
            "supervisor",
            {"view": "all"},
            floor.Spec(employees=v["department"]),
        ),
        ("status = waiting", "admin", {"status": "waiting"}, floor.Spec(where="c.status < 40")),
        (
            "telegram + last 30 days",
            "admin",
            {"channel": "telegram", "started_from": v["from30"]},
            floor.Spec(
                where="c.channel = 'telegram' AND c.started_at >= %s", params=[v["from30_dt"]]
            ),
        ),
        (
            "phone search (contact=)",
            "admin",
            {"contact": v["phone"]},
            floor.Spec(where="cl.phone_normalized = %s", params=[v["phone_normalized"]]),
        ),
        (
            "client name search (client=)",
            "admin",
            {"client": v["name"]},
            floor.Spec(name=v["name"]),
        ),
    ]
    for metric in METRICS:
        mix.append((f"sort by -{metric}", "admin", {"sort": f"-{metric}"}, floor.Spec(sort=metric)))
    mix += [
        ("page 1", "admin", {"view": "all", "page": "1"}, floor.Spec()),
        ("page 1000 (jump)", "admin", {"view": "all", "page": "1000"}, floor.Spec(offset=49950)),
        (
            "status_detail + responsible",
            "admin",
            {"status_detail": "auto_closed", "responsible": str(v["operator"])},
            floor.Spec(where="c.status = 75 AND c.responsible_id = %s", params=[v["operator"]]),
        ),
    ]
    return [{"name": n, "user": u, "params": p, "floor": f} for n, u, p, f in mix]


def measure_list(users, mix, warmup, runs, path=LIST, api_token=None) -> list[dict]:
    clients = {}
    for role, user in users.items():
        c = Client()
        c.force_login(user)
        clients[role] = c
    out = []
    for item in mix:
        url = path + "?" + urlencode(item["params"])
        client = clients[item["user"]]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token[item['user']]}"} if api_token else {}
        sql_totals, fetch_totals, counts, statuses, ids = [], [], [], [], []

        def one(
            client=client,
            url=url,
            headers=headers,
            sql_totals=sql_totals,
            fetch_totals=fetch_totals,
            counts=counts,
            statuses=statuses,
        ):
            with QueryTimer() as timer:
                response = client.get(url, **headers)
            sql_totals.append(sum(timer.times))
            fetch_totals.append(
                sum(t for t, q in zip(timer.times, timer.sql, strict=True) if is_row_fetch(q))
            )
            counts.append(len(timer.times))
            statuses.append(response.status_code)
            return response

        samples, response = timed(one, warmup, runs)
        sql_s = sql_totals[warmup:]
        body = response.content.decode("utf-8", "replace")
        if api_token:
            try:
                page_ids = [row["id"] for row in response.json().get("items", [])]
            except (ValueError, AttributeError, KeyError, TypeError):
                page_ids = []
        else:
            page_ids = [int(x) for x in ROW_ID.findall(body)]
        ids.append(page_ids)
        out.append(
            {
                "name": item["name"],
                "url": url,
                "target": item.get("target"),
                "status": sorted(set(statuses)),
                "rows": len(page_ids),
                "page": summary(samples),
                "sql": summary(sql_s),
                "fetch_sql": summary(fetch_totals[warmup:]),
                "queries": sorted(set(counts[warmup:])),
                "ids": page_ids,
            }
        )
    return out


def measure_floor(mix, warmup, runs) -> list[dict]:
    out = []
    raw = connection.cursor().cursor  # the DB-API cursor, no Django wrapper
    for item in mix:
        sql, params = floor.list_sql(item["floor"], connection.vendor)
        if connection.vendor == "sqlite":
            sql = sql.replace("%s", "?")

        def one(sql=sql, params=params):
            raw.execute(sql, params)
            return raw.fetchall()

        samples, rows = timed(one, warmup, runs)
        out.append(
            {
                "name": item["name"],
                "floor": summary(samples),
                "ids": [r[0] for r in rows],
                "sql": sql,
                "params": [str(p) for p in params],
            }
        )
    return out


def measure_counts(users, mix, warmup, runs) -> list[dict]:
    from convodesk.conversations.filters import ConversationFilter
    from convodesk.conversations.paging import bounded_count
    from convodesk.conversations.views.params import normalize

    out = []
    raw = connection.cursor().cursor
    for item in mix:
        if "page" in item["params"] or "sort" in item["params"]:
            continue
        user = users[item["user"]]
        from django.http import QueryDict

        flt = ConversationFilter(normalize(QueryDict(urlencode(item["params"]))))
        qs = countable(user, flt, "view")  # what the list page counts
        samples, count = timed(lambda qs=qs: bounded_count(qs), warmup, runs)
        sql, params = floor.count_sql(item["floor"], connection.vendor)
        if connection.vendor == "sqlite":
            sql = sql.replace("%s", "?")

        def ref(sql=sql, params=params):
            raw.execute(sql, params)
            return raw.fetchone()[0]

        ref_samples, ref_value = timed(ref, warmup, runs)
        out.append(
            {
                "name": item["name"],
                "count": count.value,
                "exact": count.exact,
                "ours": summary(samples),
                "floor": summary(ref_samples),
                "floor_value": ref_value,
            }
        )
    return out


def explain(mix) -> list[dict]:
    out = []
    with connection.cursor() as cursor:
        for item in mix:
            sql, params = floor.list_sql(item["floor"], connection.vendor)
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(" | ".join(str(x) for x in row) for row in cursor.fetchall())
            out.append({"name": item["name"], "plan": plan})
    return out


def explain_page_queries(users, mix) -> list[dict]:
    """The plan of the page's own slowest statement for each request."""
    out = []
    for item in mix:
        client = Client()
        client.force_login(users[item["user"]])
        captured = []

        def wrapper(execute, sql, params, many, context, captured=captured):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                captured.append((time.perf_counter() - t0, sql, params))

        with connection.execute_wrapper(wrapper):
            client.get(LIST + "?" + urlencode(item["params"]))
        if not captured:
            continue
        slowest = max(captured, key=lambda x: x[0])
        _t, sql, params = slowest
        try:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = "\n".join(" | ".join(str(x) for x in row) for row in cursor.fetchall())
        except Exception as exc:  # noqa: BLE001 — a plan we cannot show is reported, not fatal
            plan = f"(EXPLAIN failed: {exc})"
        out.append(
            {"name": item["name"], "ms": round(slowest[0] * 1000, 2), "sql": sql, "plan": plan}
        )
    return out


def api_tokens(users) -> dict | None:
    try:
        from convodesk.api.models import ApiToken
    except ImportError:
        return None
    return {role: ApiToken.issue(user, name="benchmark")[1] for role, user in users.items()}


def stats_requests(v) -> list[dict]:
    return [
        {
            "name": "statistics, last 30 days (rollup dimensions)",
            "user": "admin",
            "params": {"started_from": v["from30"]},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, last 30 days, department supervisor",
            "user": "supervisor",
            "params": {"started_from": v["from30"]},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, last 30 days, operator (own)",
            "user": "operator",
            "params": {"started_from": v["from30"]},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, last 30 days, telegram (rollup dimensions)",
            "user": "admin",
            "params": {"started_from": v["from30"], "channel": "telegram"},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, last 30 days, closed (rollup dimensions)",
            "user": "admin",
            "params": {"started_from": v["from30"], "status": "closed"},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, last 30 days, one open channel (rollup dimensions)",
            "user": "admin",
            "params": {"started_from": v["from30"], "line": v["line"]},
            "floor": None,
            "target": 200,
        },
        {
            "name": "statistics, arbitrary filter (client name + metric range)",
            "user": "admin",
            "params": {"client": v["name"], "agent_response_time_min": "60"},
            "floor": None,
            "target": 2000,
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--stats-only", action="store_true", help="Only the statistics page (issue #6's targets)."
    )
    args = parser.parse_args()
    result = {
        "vendor": connection.vendor,
        "conversations": Conversation.objects.count(),
        "skipped": {},
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            result["pg_parallel"] = cursor.fetchone()[0]
            cursor.execute("SHOW jit")
            result["pg_jit"] = cursor.fetchone()[0]
    from convodesk.devtools import invariants

    newest = Conversation.objects.order_by("-id").values_list("id", flat=True)[4999:5000]
    sample = (
        Conversation.objects.filter(id__gte=newest[0]) if newest else Conversation.objects.all()
    )
    violations = invariants.check(sample, limit=20)
    result["invariants"] = {"checked": sample.count(), "violations": violations}
    users = generate.bench_users()
    values = pick_values(users)
    mix = request_mix(users, values)
    started = time.monotonic()
    if args.stats_only:
        result["stats"] = measure_list(
            users, stats_requests(values), args.warmup, max(5, args.runs), path=STATS
        )
        result["seconds"] = round(time.monotonic() - started, 1)
        result["peak_rss_mb"] = peak_rss_mb()
        dump(__import__("pathlib").Path(args.out), result)
        return 0
    if route_exists(LIST):
        result["list"] = measure_list(users, mix, args.warmup, args.runs)
        result["floor"] = measure_floor(mix, args.warmup, args.runs)
        result["counts"] = measure_counts(users, mix, args.warmup, args.runs)
        result["page_plans"] = explain_page_queries(users, mix)
        result["floor_plans"] = explain(mix)
    else:
        result["skipped"]["list"] = f"{LIST} does not resolve"
    try:
        resolve(API)
        has_api = True
    except Resolver404:
        has_api = False
    tokens = api_tokens(users) if has_api else None
    if tokens:
        api_mix = [
            dict(m, params={k: v for k, v in m["params"].items() if k not in ("view", "page")})
            for m in mix
            if "page" not in m["params"]
        ]
        result["api"] = measure_list(
            users, api_mix, args.warmup, args.runs, path=API, api_token=tokens
        )
    else:
        result["skipped"]["api"] = f"GET {API} is not there (no route or no ApiToken model)"
    if route_exists(STATS):
        result["stats"] = measure_list(
            users, stats_requests(values), 1, max(5, args.runs // 2), path=STATS
        )
    else:
        result["skipped"]["stats"] = f"{STATS} does not resolve"
    result["seconds"] = round(time.monotonic() - started, 1)
    result["peak_rss_mb"] = peak_rss_mb()
    dump(__import__("pathlib").Path(args.out), result)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
