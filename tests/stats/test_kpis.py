"""KPI definitions on small hand-built sets whose answers are known."""

import datetime as dt

from convodesk.conversations import services
from convodesk.conversations.models import ClientIdentity
from convodesk.stats import aggregates, histogram

from .. import factories as f

T = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
NOW = T + dt.timedelta(days=1)


def at(seconds):
    return T + dt.timedelta(seconds=seconds)


def report(user, params=None, now=NOW):
    scope = aggregates.build_scope(user, params or {}, now=now)
    assert not scope.errors
    return aggregates.compute(scope)


def metric(rep, key):
    return next(m for m in rep["metrics"] if m["key"] == key)


def test_an_empty_set_has_zero_counts_and_no_averages_rates_or_percentiles(org):
    rep = report(org.admin, {"started_from": "2026-10-05", "started_to": "2026-10-06"})
    k = rep["kpis"]
    assert k["conversations"] == k["in_work"] == k["closed"] == k["spam"] == k["new"] == 0
    for key in (
        "satisfaction",
        "supervisor_rating_avg",
        "reply_time_avg",
        "service_level",
        "answered_within_share",
    ):
        assert k[key] is None, key
    for m in rep["metrics"]:
        assert (m["count"], m["without_value"], m["average"], m["median"], m["p90"]) == (
            0,
            0,
            None,
            None,
            None,
        )
    assert rep["lines"] == rep["channels"] == rep["employees"] == []
    assert rep["interval"] == "hour" and len(rep["timeline"]) == 48
    assert all(p["new"] == 0 for p in rep["timeline"])
    assert sum(map(sum, rep["heatmap"])) == 0


def test_a_single_answered_and_closed_conversation(org):
    conv = f.client_message(org.conn, "solo", "Hi", when=at(0)).conversation
    services.take(conv.pk, f.act(org.op1), now=at(30))
    services.reply(conv.pk, f.act(org.op1), "Hello", now=at(95))
    services.close(conv.pk, f.act(org.op1), now=at(200))
    rep = report(org.admin)
    k = rep["kpis"]
    assert (k["conversations"], k["closed"], k["in_work"], k["closed_by_employee"], k["new"]) == (
        1,
        1,
        0,
        1,
        1,
    )
    assert (k["service_level"], k["taken_within"], k["service_level_base"]) == (100.0, 1, 1)
    assert (k["answered_within_share"], k["answered_within"]) == (0.0, 0)
    assert report(org.admin, {"sl": "120"})["kpis"]["answered_within_share"] == 100.0
    art = metric(rep, "agent_response_time")
    assert (art["average"], art["count"], art["without_value"]) == (30.0, 1, 0)
    assert histogram.within_bound(art["median"], 30) and art["median"] == art["p90"]
    assert metric(rep, "time_to_agent_close")["average"] == 200.0
    assert k["reply_time_avg"] == 95.0
    assert [
        (
            e["name"],
            e["conversations"],
            e["assigned"],
            e["taken"],
            e["answered"],
            e["closed"],
            e["reply_time_avg"],
        )
        for e in rep["employees"]
    ] == [("Op1", 1, 1, 1, 1, 1, 95.0), ("Op2", 0, 1, 0, 0, 0, None), ("Op3", 0, 1, 0, 0, 0, None)]
    assert [(c["name"], c["conversations"]) for c in rep["channels"]] == [("API", 1)]
    assert (
        sum(p["new"] for p in rep["timeline"]) == 1
        and sum(p["closed"] for p in rep["timeline"]) == 1
    )
    assert rep["heatmap"][T.weekday()][9] == 1


def _hand_built(org):
    """A: taken 10 s, replied 20 s, liked, closed by op1 at 100 s. B: taken 90 s by op2, replied 120 s,
    disliked, supervisor 4, auto-closed. C: spam. D: outgoing by op1. E: never taken."""
    email = f.connection(org.line, "email")
    a = f.client_message(org.conn, "a", "Hi", when=at(0)).conversation
    services.take(a.pk, f.act(org.op1), now=at(10))
    services.reply(a.pk, f.act(org.op1), "Hello", now=at(20))
    services.client_rate(a.pk, True, now=at(30))
    services.close(a.pk, f.act(org.op1), now=at(100))
    b = f.client_message(org.conn, "b", "Hi", when=at(1000)).conversation
    services.take(b.pk, f.act(org.op2), now=at(1090))
    services.reply(b.pk, f.act(org.op2), "Hello", now=at(1120))
    services.client_rate(b.pk, False, now=at(1130))
    services.supervisor_rate(b.pk, f.act(org.admin), 4, now=at(1140))
    services.fire_due(b.pk, at(1120 + 5 * 3600))
    c = f.client_message(email, "c@example.com", "Buy now", when=at(2000)).conversation
    services.mark_spam(c.pk, f.act(org.admin), now=at(2050))
    identity = ClientIdentity.objects.get(external_id="c@example.com")
    services.start_outgoing(f.act(org.op1), identity, "Following up", now=at(3000))
    f.client_message(org.conn, "e", "Anyone?", when=at(4000))


def test_kpi_definitions_on_a_hand_built_set(org):
    _hand_built(org)
    rep = report(org.admin)
    k = rep["kpis"]
    assert (k["conversations"], k["in_work"], k["closed"], k["spam"]) == (5, 2, 2, 1)
    assert (k["incoming"], k["outgoing"], k["new"], k["returning"]) == (4, 1, 4, 1)
    assert (k["likes"], k["dislikes"], k["not_rated"], k["satisfaction"]) == (1, 1, 3, 50.0)
    assert (k["supervisor_rating_avg"], k["auto_closed"], k["closed_by_employee"]) == (4.0, 1, 1)
    # Service level: A within 60 s; base A, B (taken) and E (untaken, older than 60 s); spam C left out.
    assert (k["taken_within"], k["service_level_base"], k["service_level"]) == (1, 3, 33.3)
    assert (k["answered_within"], k["answered_within_base"], k["answered_within_share"]) == (
        1,
        3,
        33.3,
    )
    assert k["reply_time_avg"] == 70.0
    art, faw = metric(rep, "agent_response_time"), metric(rep, "first_answer_wait")
    assert (art["average"], art["count"], art["without_value"]) == (50.0, 2, 1)
    assert (faw["average"], faw["count"], faw["without_value"]) == (70.0, 2, 1)
    duration, ttac = metric(rep, "duration"), metric(rep, "time_to_agent_close")
    assert (duration["average"], duration["count"], duration["without_value"]) == (35.0, 4, 0)
    assert (ttac["average"], ttac["count"], ttac["without_value"]) == (100.0, 1, 3)
    employees = {e["name"]: e for e in rep["employees"]}
    assert (
        employees["Op1"]["conversations"],
        employees["Op1"]["taken"],
        employees["Op1"]["answered"],
    ) == (2, 2, 2)
    assert (
        employees["Op1"]["reply_time_avg"] == 20.0 and employees["Op2"]["reply_time_avg"] == 120.0
    )
    assert (employees["Op2"]["satisfaction"], employees["Op1"]["satisfaction"]) == (0.0, 100.0)
    assert (
        employees["Op1"]["assigned"] == 4
    )  # A, B, C, E offered to all members; D started, not offered
    channels = {c["key"]: c["conversations"] for c in rep["channels"]}
    assert channels == {"api": 3, "email": 2}


def test_an_unanswered_conversation_counts_against_the_service_level_only_once_older_than_n(org):
    f.client_message(org.conn, "late", "Hi", when=at(0))
    assert report(org.admin, now=at(30))["kpis"]["service_level_base"] == 0
    assert report(org.admin, now=at(61))["kpis"]["service_level_base"] == 1
    assert report(org.admin, {"sl": "90"}, now=at(61))["kpis"]["service_level_base"] == 0


def test_both_paths_agree_on_the_hand_built_set_and_a_half_hour_time_zone_uses_the_table(org):
    _hand_built(org)
    scope = aggregates.build_scope(org.admin, {"started_from": "2026-10-05"}, now=NOW)
    assert scope.rollup is not None
    from_rollups = aggregates.compute(scope)
    scope.rollup = None
    direct = aggregates.compute(scope)
    assert {**from_rollups, "source": ""} == {**direct, "source": ""}
    org.admin.time_zone = "Asia/Kolkata"
    org.admin.save()
    rep = report(org.admin)
    assert rep["source"] == "conversations"
    assert (
        rep["heatmap"][T.weekday()][14] == 2
    )  # 09:00 and 09:16 UTC are 14:30 and 14:46 in Kolkata


def test_bad_page_parameters_are_errors_not_guesses(org):
    scope = aggregates.build_scope(
        org.admin, {"sl": "61", "interval": "year", "started_from": "nope"}, now=NOW
    )
    assert set(scope.errors) == {"sl", "interval", "started_from"}


def test_an_open_ended_range_charts_only_the_span_that_has_data(org):
    f.client_message(org.conn, "x", "Hi", when=at(0))
    rep = report(org.admin, {"started_from": "1990-01-01", "started_to": "2200-12-31"})
    assert rep["interval"] == "hour" and len(rep["timeline"]) == 1
    assert rep["timeline"][0]["new"] == 1


def test_rollups_count_unanswered_conversations_of_the_partial_hour_before_the_cutoff(org):
    f.client_message(org.conn, "early", "Hi", when=at(3 * 3600 + 10))
    f.client_message(org.conn, "late", "Hi", when=at(3 * 3600 + 400))
    now = at(
        3 * 3600 + 10 + 60 + 120
    )  # the cutoff (now - 60 s) falls inside hour 3, after "early" only
    scope = aggregates.build_scope(org.admin, {"started_from": "2026-10-05"}, now=now)
    from_rollups = aggregates.compute(scope)["kpis"]
    scope.rollup = None
    direct = aggregates.compute(scope)["kpis"]
    assert from_rollups["service_level_base"] == direct["service_level_base"] == 1
    assert from_rollups["answered_within_base"] == direct["answered_within_base"] == 1


def test_weeks_and_months_start_on_the_viewers_monday_and_first_of_the_month(org):
    """Madrid changed to winter time on 26 October 2025: a conversation at 23:30 UTC on Sunday
    2 November is Monday 00:30 there, so it opens the week of the 3rd; one at 22:30 UTC on
    31 October is 23:30 in Madrid, still October."""
    org.admin.time_zone = "Europe/Madrid"
    org.admin.save()
    sunday_night = dt.datetime(2025, 11, 2, 23, 30, tzinfo=dt.UTC)
    october_night = dt.datetime(2025, 10, 31, 22, 30, tzinfo=dt.UTC)
    f.client_message(org.conn, "sunday", "Hi", when=sunday_night)
    f.client_message(org.conn, "october", "Hi", when=october_night)
    now = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    weeks = report(org.admin, {"started_from": "2025-10-01", "interval": "week"}, now=now)
    new = {p["start"][:10]: p["new"] for p in weeks["timeline"] if p["new"]}
    assert new == {"2025-10-27": 1, "2025-11-03": 1}
    months = report(org.admin, {"started_from": "2025-10-01", "interval": "month"}, now=now)
    new = {p["start"][:10]: p["new"] for p in months["timeline"] if p["new"]}
    assert new == {"2025-10-01": 1, "2025-11-01": 1}
    assert weeks["heatmap"][0][0] == 1 and weeks["heatmap"][4][23] == 1  # Monday 0h, Friday 23h
