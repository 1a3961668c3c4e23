"""Writes BENCHMARKS.md from the results of one run (figures as measured, nothing edited by hand).

The analysis written by people lives in benchmarks/NOTES.md and is appended unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path

NOTES = Path(__file__).with_name("NOTES.md")


def _f(value, digits=1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ratio(a, b) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:,.1f}×"


def _list_table(inproc: dict) -> list[str]:
    floors = {x["name"]: x for x in inproc.get("floor", [])}
    lines = [
        "| request | rows | page median / p95 / max (ms) | all page SQL median / p95 (ms) | queries "
        "| row fetch SQL median / p95 (ms) | floor median / p95 (ms) | row fetch ÷ floor (median) "
        "| ≤ 3× | same rows | page p95 ≤ 100 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in inproc.get("list", []):
        fl = floors.get(row["name"], {})
        page, sql, fs = row["page"], row["sql"], fl.get("floor", {})
        fetch = row.get("fetch_sql", {})
        same = "yes" if fl and row["ids"] == fl["ids"] else "**no**"
        ok = "yes" if page.get("p95", 1e9) <= 100 else "**no**"
        within = (
            "yes"
            if fetch.get("median") is not None
            and fs.get("median")
            and fetch["median"] <= 3 * fs["median"]
            else "**no**"
        )
        lines.append(
            f"| {row['name']} | {row['rows']} | {_f(page.get('median'))} / {_f(page.get('p95'))} / {_f(page.get('max'))} "
            f"| {_f(sql.get('median'))} / {_f(sql.get('p95'))} | {', '.join(map(str, row['queries']))} "
            f"| {_f(fetch.get('median'), 2)} / {_f(fetch.get('p95'), 2)} "
            f"| {_f(fs.get('median'), 2)} / {_f(fs.get('p95'), 2)} | {_ratio(fetch.get('median'), fs.get('median'))} "
            f"| {within} | {same} | {ok} |"
        )
    return lines


def _count_table(inproc: dict) -> list[str]:
    lines = [
        "| request | total shown | exact | ours median / p95 (ms) | floor median / p95 (ms) | ≤ 100 ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in inproc.get("counts", []):
        o, f = row["ours"], row["floor"]
        ok = "yes" if o.get("p95", 1e9) <= 100 else "**no**"
        lines.append(
            f"| {row['name']} | {_f(row['count'])} | {'yes' if row['exact'] else 'estimate'} "
            f"| {_f(o.get('median'))} / {_f(o.get('p95'))} | {_f(f.get('median'), 2)} / {_f(f.get('p95'), 2)} | {ok} |"
        )
    return lines


def _simple_table(rows: list[dict], target: float) -> list[str]:
    lines = [
        "| request | status | rows | median / p95 / max (ms) | queries | p95 target met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        p = row["page"]
        # A request names its own target; results written before that carried none.
        limit = row.get("target") or (2000 if "arbitrary" in row["name"] else target)
        ok = "yes" if p.get("p95", 1e9) <= limit else "**no**"
        lines.append(
            f"| {row['name']} | {', '.join(map(str, row['status']))} | {row['rows'] or '–'} "
            f"| {_f(p.get('median'))} / {_f(p.get('p95'))} / {_f(p.get('max'))} "
            f"| {', '.join(map(str, row['queries']))} | {ok} (≤ {limit:g} ms) |"
        )
    return lines


def _export(exp: dict) -> list[str]:
    ours, floor = exp.get("ours", {}), exp.get("floor", {})
    if ours.get("skipped"):
        return [f"Skipped: {ours['skipped']}."]
    lines = [
        "| writer | rows | seconds | peak RSS (MB) | RSS growth while writing (MB) | file (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (
        ("floor: XlsxWriter from an in-memory list", floor),
        ("ours: export.write_xlsx from the database", ours),
    ):
        if "error" in r:
            lines.append(f"| {name} | error | | | | |")
            continue
        lines.append(
            f"| {name} | {_f(r.get('rows'))} | {_f(r.get('seconds'), 2)} | {_f(r.get('peak_rss_mb'))} "
            f"| {_f(r.get('rss_growth_mb'))} | {_f((r.get('bytes') or 0) / 1e6)} |"
        )
    if ours.get("seconds") and floor.get("seconds"):
        ratio = ours["seconds"] / floor["seconds"]
        lines.append("")
        lines.append(
            f"Time ratio ours ÷ floor: **{ratio:.2f}** (target ≤ 1.5: {'met' if ratio <= 1.5 else 'missed'}); "
            f"our memory growth {_f(ours.get('rss_growth_mb'))} MB (target ≤ 100 MB: "
            f"{'met' if (ours.get('rss_growth_mb') or 1e9) <= 100 else 'missed'}). The floor's growth includes "
            "its in-memory list, which is the point of that reference."
        )
    return lines


def _ingest(ing: dict) -> list[str]:
    b, p, h, c = ing["bare"], ing["peak"], ing["half"], ing["check"]
    lines = [
        "| phase | requests | accepted/s | p50 / p95 / p99 / max (ms) | statuses |",
        "|---|---|---|---|---|",
        f"| bare django-ninja app, one INSERT (closed loop) | {b['sent']} | {_f(b['rate'])} | {b['p50']} / {b['p95']} / {b['p99']} / {b['max']} | {b['statuses']} |",
        f"| ours: POST /api/v1/connectors/{{id}}/messages (closed loop) | {p['sent']} | {_f(p['rate'])} | {p['p50']} / {p['p95']} / {p['p99']} / {p['max']} | {p['statuses']} |",
        f"| ours at half its peak ({ing['half_rate']}/s, open loop) | {h['sent']} | {_f(h['rate'])} | {h['p50']} / {h['p95']} / {h['p99']} / {h['max']} | {h['statuses']} |",
        "",
        f"Ratio ours ÷ bare: **{_f(ing.get('ratio'), 3)}** (target ≥ 0.5: {'met' if (ing.get('ratio') or 0) >= 0.5 else 'missed'}); "
        f"p99 at half peak {h['p99']} ms (target ≤ 100 ms: {'met' if (h['p99'] or 1e9) <= 100 else 'missed'}). "
        f"Stored exactly once: {c['stored']} of {c['accepted']} accepted, {c['missing']} missing, {c['duplicated']} duplicated.",
    ]
    if ing.get("kill"):
        lines += ["", _kill(ing["kill"])]
    if ing.get("server_errors"):
        lines += [
            "",
            "Errors in the product's server log during the run (last lines):",
            "",
            "```",
            *ing["server_errors"],
            "```",
        ]
    return lines


def _kill(k: dict) -> str:
    c, spawn = k["check"], k.get("respawned")
    met = "met" if not c["missing"] and not c["duplicated"] else "missed"
    return (
        f"Worker killed (SIGKILL at {k['killed_at_s']} s of a {k['seconds']} s closed loop, to the "
        f"worker with the most client connections, {k.get('connections_per_worker')}; failed "
        "messages posted again with the same id): "
        f"**{k['sent']} sent, {c['missing']} lost, "
        f"{c['duplicated']} doubled** (target zero: {met}); {k['first_try']} accepted on the first "
        f"try, {k['retried']} retried; {k['failed_requests']} failed requests {k['failures']}; "
        f"{k.get('rate_before_kill')} accepted/s before the kill, {k.get('rate_after_kill')} "
        f"after, longest pause between acceptances {k.get('longest_pause_s')} s; p99 {k['p99']} ms, "
        f"max {k['max']} ms (first try to acceptance). "
        + (
            f"The supervisor respawned the worker after {spawn['after_s']} s"
            if spawn
            else "No worker respawned; the other carried on"
        )
        + f" ({k['workers_after']} of {k['workers_before']} workers at the end)."
    )


def _ms(p: dict) -> str:
    return f"{_f(p.get('median'))} / {_f(p.get('p95'))} / {_f(p.get('max'))}"


def _http(http: dict, inproc: dict) -> list[str]:
    """Each request over HTTP next to the same request measured in-process (by name)."""
    lines = []
    if http.get("error"):
        lines += [f"**The run failed:** `{http['error'].splitlines()[0]}`", ""]
    lines += [
        "| request | viewer | over HTTP p50 / p95 / max (ms) | HTTP statuses "
        "| in-process p50 / p95 / max (ms) | HTTP ÷ in-process (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, label in (("list", "list: "), ("api", "API: "), ("stats", "")):
        mine = {r["name"]: r for r in (inproc or {}).get(kind, [])}
        for row in http.get(kind, []):
            here = mine.get(row["name"], {}).get("page", {})
            statuses = ", ".join(f"{k} × {v}" for k, v in row["statuses"].items())
            if row["failed"]:
                statuses = f"**{statuses}**"
            lines.append(
                f"| {label}{row['name']} | {row['user']} | {_ms(row['page'])} | {statuses} "
                f"| {_ms(here) if here else '–'} "
                f"| {_ratio(row['page'].get('median'), here.get('median'))} |"
            )
    exp = http.get("export")
    if exp:
        lines += [""]
        if exp.get("failed"):
            lines.append(f"Export of the last 30 days **failed**: {exp}.")
        else:
            lines.append(
                f"Export of the last 30 days as the list's button runs it (start the background job, "
                f"poll its page every 0.2 s, download): **{_f(exp['seconds'], 2)} s** for "
                f"{_f(exp['rows'])} rows ({_f(exp['bytes'] / 1e6)} MB, {exp['polls']} polls; the job "
                f"waited {_f(exp.get('queued_seconds'), 2)} s for the worker and ran "
                f"{_f(exp.get('job_seconds'), 2)} s)."
            )
    bg = http.get("background")
    if bg:
        lines += [
            "",
            f"Background while measuring: client messages through the REST connector at "
            f"{_f(bg['wanted_rate'])}/s wanted, **{_f(bg['rate'], 2)}/s** achieved ({bg['accepted']} "
            f"accepted of {bg['sent']} in {bg['seconds']} s, {bg['errors']} errors; statuses "
            f"{bg['statuses']}); its latency p50 / p95 / max {_ms(bg['latency'])} ms.",
        ]
    if http.get("failures"):
        lines += ["", "**Failures:**", "", *[f"- `{x}`" for x in http["failures"]]]
    if http.get("leftover_processes"):
        lines += ["", f"**Processes left after serve stopped:** {http['leftover_processes']}"]
    if http.get("server_errors"):
        lines += [
            "",
            "Errors in serve's log (last lines):",
            "",
            "```",
            *http["server_errors"],
            "```",
        ]
    return lines


PEER_PAIRS = {
    "default list": "admin, unfiltered",
    "status filter": "status = waiting",
    "keyword search": "client name search (client=)",
    "deep page (start 49,950)": "page 1000 (jump)",
}


def _peer(peer: dict, ours: list[dict]) -> list[str]:
    if peer.get("skipped"):
        return [f"**Not run:** {peer['skipped']}"]
    mine = {r["name"]: r for r in ours}
    lines = [
        f"django-helpdesk {peer.get('helpdesk_version', '')} (Django {peer.get('django')}), {_f(peer.get('tickets'))} tickets.",
        "",
        "| request | theirs rows | theirs median / p95 (ms) | ours (request) | ours median / p95 (ms) "
        "| theirs ÷ ours (median) | ≥ 20× |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in peer.get("requests", []):
        o = mine.get(PEER_PAIRS.get(r["name"], ""), {})
        op = o.get("page", {})
        ratio = r["median"] / op["median"] if op.get("median") else None
        lines.append(
            f"| {r['name']} | {r['rows']} (HTTP {r['status']}) | {_f(r['median'])} / {_f(r['p95'])} "
            f"| {o.get('name', '–')} | {_f(op.get('median'))} / {_f(op.get('p95'))} "
            f"| {_f(ratio)}× | {'yes' if ratio and ratio >= 20 else '**no**'} |"
        )
    return lines


def _crm(crm: dict) -> list[str]:
    out = [
        f"{crm['contacts']:,} contacts (generated in {crm['generation_s']:.1f} s). Page = "
        "`/crm/contacts/` through Django's test client in-process; queries = the SQL statements "
        "of one request. Target (the conversation list's): page p95 ≤ 100 ms; counts exact or "
        "labelled estimates.",
        "",
        "| request | rows | page median / p95 / max (ms) | queries | count shown | p95 ≤ 100 ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in crm["results"]:
        ok = "yes" if r["p95"] <= 100 else "**no**"
        out.append(
            f"| {r['request']} | {r['rows']} | {_f(r['median'])} / {_f(r['p95'])} / "
            f"{_f(r['max'])} | {r['queries']} | {r['count']} | {ok} |"
        )
    return out


def _plans(inproc: dict) -> list[str]:
    lines = []
    pages = {x["name"]: x for x in inproc.get("page_plans", [])}
    for fl in inproc.get("floor_plans", []):
        page = pages.get(fl["name"])
        lines.append(f"<details><summary>{fl['name']}</summary>\n")
        lines.append("Floor query plan:\n\n```\n" + fl["plan"] + "\n```\n")
        if page:
            lines.append(
                f"The page's slowest statement ({page['ms']} ms):\n\n```sql\n{page['sql'][:3000]}\n```\n"
            )
            lines.append("```\n" + page["plan"] + "\n```\n")
        lines.append("</details>\n")
    return lines


def write_report(results: dict, path: Path) -> None:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from `var/bench/results.json`; each data "
        "set below names the command and the time of the run that measured it. Rerun: `make bench-quick` "
        "(100,000 conversations on SQLite, plus PostgreSQL ingestion) or `make bench` (S and L); "
        "`python -m benchmarks.run --help` for choosing data sets and scenarios. Targets: PERFORMANCE.md. "
        "Figures are as measured; the analysis written by hand is the last section.",
        "",
        "## Machine",
        "",
        f"- `nproc` = {m['nproc']}; CPU {m['cpu']}; `uname -srmo`: {m['uname']}",
        f"- memory (`free -h`):\n\n```\n{m['free']}\n```",
        f"- load average at the end of the run: {m['load']} (the 2 cores are shared with other work: "
        "absolute figures are noisy, the side-by-side ratios are the point)",
        f"- Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgres'] or '–'}",
        f"- commit `{m['commit']}`{' plus uncommitted changes' if m['dirty'] else ''}",
        "",
    ]
    for key, s in results["sets"].items():
        out += [f"## Data set {key} — {s['label']}", ""]
        if s.get("skipped"):
            out += [f"**Skipped:** {s['skipped']}", ""]
            continue
        out += [
            f"Measured by `{s.get('command', results['command'])}`, finished {s.get('finished', '–')} "
            f"({s.get('seconds', '–')} s for this data set). Database `{s['url']}`. "
            f"Generation (create or continue, rollup rebuild included): {s.get('generate_seconds', '–')} s.",
            "",
        ]
        if s.get("crm"):
            out += ["### CRM contact list (issue 20)", ""] + _crm(s["crm"]) + [""]
        if s.get("generate_log"):
            out += ["```", s["generate_log"].strip()[-1500:], "```", ""]
        inproc = s.get("inproc")
        if s.get("inproc_error"):
            out += ["In-process scenarios failed:", "```", s["inproc_error"][-1500:], "```", ""]
        if inproc:
            vendor_note = ""
            if inproc.get("pg_parallel") is not None:
                vendor_note = (
                    f" PostgreSQL max_parallel_workers_per_gather = {inproc['pg_parallel']}, "
                    f"jit = {inproc['pg_jit']}."
                )
            out += [
                f"{inproc['conversations']:,} conversations in the database.{vendor_note} "
                f"Peak RSS of the measuring process {inproc.get('peak_rss_mb')} MB.",
                "",
            ]
            inv = inproc.get("invariants")
            if inv:
                out += [
                    f"Invariant check (`devtools.invariants.check`) over the newest {_f(inv['checked'])} "
                    f"conversations: {len(inv['violations'])} violations"
                    + (": " + "; ".join(inv["violations"][:5]) if inv["violations"] else "."),
                    "",
                ]
            for name, reason in inproc.get("skipped", {}).items():
                out += [f"- **{name} skipped:** {reason}"]
            if inproc.get("skipped"):
                out.append("")
            if inproc.get("list"):
                out += [
                    "### List page (HTML grid, 50 rows, default columns, Django test Client in-process)",
                    "",
                    "Page = request in → response out; all page SQL = the sum of its statements timed "
                    "through `connection.execute_wrapper` (counts, tab counts, presets, session included); "
                    "row fetch SQL = the statements that fetch the page's rows (its ids in order, then the "
                    "rows with their joins: what the floor does); floor = hand-written SQL "
                    "(benchmarks/floor.py) returning the same 50 rows through the raw DB-API cursor.",
                    "",
                ]
                out += _list_table(inproc) + [""]
                out += ["### Count (the total shown on the page: `paging.bounded_count`)", ""]
                out += _count_table(inproc) + [""]
            if inproc.get("api"):
                out += ["### API list (`GET /api/v1/conversations`, Bearer token, in-process)", ""]
                out += _simple_table(inproc["api"], 60) + [""]
            if inproc.get("stats"):
                out += ["### Statistics page", ""]
                if s.get("stats_run"):
                    run = s["stats_run"]
                    out += [
                        f"Rerun alone by `python -m benchmarks.run --full --sets {key} --only stats`"
                        f", finished {run['finished']}, "
                        f"over {run['conversations']:,} conversations ({run['vendor']}).",
                        "",
                    ]
                out += _simple_table(inproc["stats"], 200) + [""]
            if inproc.get("floor_plans"):
                out += ["### Query plans (floor and the page's slowest statement, per request)", ""]
                out += _plans(inproc)
        if s.get("http"):
            http = s["http"]
            out += [
                "### Over HTTP against `serve` (uvicorn, task worker, timers; next to in-process)",
                "",
                f"`manage.py serve` on a free port, ready after {http.get('ready_seconds', '–')} s; "
                f"httpx clients with a session cookie (a Bearer token for the API), keep-alive, "
                f"{http.get('warmup')} warm-up(s) then {http.get('runs')} runs each (statistics: 1 "
                "then half as many); the in-process column is this data set's Django test Client "
                "figure for the same request.",
                "",
            ]
            out += _http(http, inproc) + [""]
        if s.get("http_error"):
            out += ["Over HTTP: the run failed:", "```", s["http_error"][-1500:], "```", ""]
        if s.get("export"):
            out += (
                ["### Export to .xlsx (each writer in its own process)", ""]
                + _export(s["export"])
                + [""]
            )
        if s.get("peer"):
            engine = "PostgreSQL" if s.get("url", "").find("sqlite") < 0 else "SQLite"
            out += [
                f"### Peer: django-helpdesk ticket list (DataTables JSON endpoint, {engine})",
                "",
            ]
            out += _peer(s["peer"], (inproc or {}).get("list", [])) + [""]
        if s.get("ingest"):
            out += [
                "### Ingestion over HTTP (2 uvicorn workers; load generator in a separate process, loopback)",
                "",
            ]
            out += _ingest(s["ingest"]) + [""]
        elif s.get("ingest_error"):
            out += ["### Ingestion", "", "Failed:", "```", s["ingest_error"][-1500:], "```", ""]
    if NOTES.exists():
        out += ["", NOTES.read_text().strip(), ""]
    path.write_text("\n".join(out) + "\n")
