"""Issue 18, health and metrics: /healthz, /readyz (database, migrations, Redis, the worker's and
the timers' heartbeats), /metrics in Prometheus's format behind a token or allowed networks, and
JSON logs that carry the request id, the user id and the conversation id."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from convodesk.ops.logs import JsonFormatter
from convodesk.ops.models import Heartbeat
from tests import factories as f

from . import procs


@pytest.fixture(autouse=True)
def _fresh_figures():
    """The database figures are cached a few seconds per process; each test reads its own."""
    from convodesk.ops import metrics

    metrics.DATABASE.forget()


def beat(role: str, age_seconds: float = 1) -> None:
    at = timezone.now() - dt.timedelta(seconds=age_seconds)
    Heartbeat.objects.update_or_create(
        role=role, node=f"test:{role}", defaults={"beat_at": at, "started_at": at}
    )


def metrics_of(text: str) -> dict:
    """{family name: [(labels, value), ...]} as Prometheus's own parser reads the text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


@pytest.mark.django_db
def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_needs_fresh_worker_and_timers_heartbeats(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["worker"] == {"ok": False, "age_seconds": None}
    assert body["checks"]["jobs"] == {"ok": False, "age_seconds": None}
    assert "redis" not in body["checks"]  # not configured: not checked

    beat("worker")
    beat("timers")
    body = client.get("/readyz").json()  # the long jobs' worker is down: exports never start
    assert body["status"] == "not ready" and body["checks"]["jobs"]["ok"] is False
    beat("jobs")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"

    beat("timers", age_seconds=settings.CONVODESK["HEARTBEAT_MAX_AGE_SECONDS"] + 5)
    body = client.get("/readyz").json()
    assert body["checks"]["timers"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.django_db
def test_a_starting_process_clears_the_heartbeats_killed_processes_left_a_day_ago():
    """A killed process (SIGKILL, a crashed node) cannot remove its row; each start used to add
    one more, forever."""
    from convodesk.ops.heartbeat import Beat

    dead = Heartbeat.objects.create(
        role="timers",
        node="old-host:4242",
        beat_at=timezone.now() - dt.timedelta(days=2),
        started_at=timezone.now() - dt.timedelta(days=3),
    )
    beat("worker", age_seconds=3600)  # another process, alive an hour ago: kept
    starting = Beat("timers")
    starting.tick()
    assert not Heartbeat.objects.filter(pk=dead.pk).exists()
    assert set(Heartbeat.objects.values_list("node", flat=True)) == {"test:worker", starting.node}


@pytest.mark.django_db
def test_readyz_names_unapplied_migrations(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    for role in ("worker", "jobs", "timers"):
        beat(role)
    real = MigrationExecutor.migration_plan

    def one_pending(self, targets, clean_start=False):
        plan = real(self, targets, clean_start)
        migration = self.loader.graph.nodes[("ops", "0001_heartbeats")]
        return [*plan, (migration, False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", one_pending)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {
        "ok": False,
        "pending": ["ops.0001_heartbeats"],
    }


@pytest.mark.django_db
def test_metrics_parse_and_carry_the_contact_centre_figures(org, settings):
    waiting = f.client_message(org.conn, client="waiting-client")  # in the queue, waiting
    other_line = f.line("Quiet line")
    beat("worker", 3)
    client = Client()
    client.force_login(org.admin)
    assert client.get("/contact-center/conversations/").status_code == 200

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = metrics_of(response.content.decode())

    def value(name, **labels):
        for sample_labels, v in found.get(name, []):
            if all(sample_labels.get(k) == x for k, x in labels.items()):
                return v
        raise AssertionError(f"{name} {labels} not in {sorted(found)}")

    line_label = f"{org.line.pk} {org.line.name}"
    assert value("convodesk_waiting_conversations", line=line_label) == 1
    assert value("convodesk_queue_depth", line=line_label) == 1
    assert value("convodesk_waiting_conversations", line=f"{other_line.pk} Quiet line") == 0
    assert waiting.conversation.line_id == org.line.pk
    assert value("convodesk_outbound_messages", state="failed") == 0
    assert value("convodesk_task_backlog") == 0
    assert value("convodesk_timers_lag_seconds") == 0
    assert 2 < value("convodesk_heartbeat_age_seconds", role="worker") < 30
    assert value("convodesk_event_stream_lag_events") >= 0
    assert value("convodesk_database_up") == 1
    assert (
        value(
            "convodesk_http_request_duration_seconds_count",
            route="contact-center/conversations/",
            method="GET",
            status="2xx",
        )
        >= 1
    )


@pytest.mark.django_db
def test_metrics_show_late_timers_failed_deliveries_and_the_task_backlog(org):
    from django_tasks_db.models import DBTaskResult

    from convodesk.conversations.models import Conversation, Message

    received = f.client_message(org.conn, client="late")
    Message.objects.filter(pk=received.message.pk).update(delivery_state=Message.Delivery.FAILED)
    Conversation.objects.filter(pk=received.conversation.pk).update(
        auto_close_at=timezone.now() - dt.timedelta(seconds=90)
    )
    DBTaskResult.objects.create(
        task_path="convodesk.connectors.tasks.deliver",
        args_kwargs={"args": [], "kwargs": {}},
        run_after=timezone.now() - dt.timedelta(seconds=1),
        backend_name="default",
        queue_name="default",
        priority=0,
    )
    found = metrics_of(Client().get("/metrics").content.decode())
    assert 85 < found["convodesk_timers_lag_seconds"][0][1] < 200
    assert dict((s["state"], v) for s, v in found["convodesk_outbound_messages"])["failed"] == 1
    assert found["convodesk_task_backlog"][0][1] == 1


@pytest.mark.django_db
def test_metrics_are_refused_outside_the_allowed_networks_without_the_token(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    outsider = Client(REMOTE_ADDR="192.0.2.7")
    assert outsider.get("/metrics").status_code == 404
    assert outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert (
        outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code
        == 200
    )
    assert Client(REMOTE_ADDR="10.3.4.5").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404  # neither set: closed


@pytest.mark.django_db
@pytest.mark.urls("tests.ops.log_urls")
def test_log_lines_carry_the_request_id_user_id_and_conversation_id(org):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("convodesk")
    logger.addHandler(handler)
    try:
        client = Client()
        client.force_login(org.op1)
        response = client.get("/probe/conversations/4711/", HTTP_X_REQUEST_ID="req-abc-12345")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "req-abc-12345"
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["message"] == "looked at the conversation"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "req-abc-12345"
    assert entry["user_id"] == org.op1.pk
    assert entry["conversation_id"] == 4711
    # A request id that is not one (spaces, a header injection) is replaced by a fresh one.
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\r\nX-Evil: 1")
    assert len(response["X-Request-ID"]) == 32 and " " not in response["X-Request-ID"]


@pytest.mark.nodb
def test_log_format_json_writes_one_json_object_per_line(tmp_path):
    env = procs.installation_env(tmp_path, LOG_FORMAT="json")
    result = procs.manage(
        env,
        "shell",
        "-c",
        "import logging; logging.getLogger('convodesk.ops').warning('hello %s', 'operator')",
    )
    line = [x for x in result.stderr.splitlines() if x.startswith("{")][-1]
    entry = json.loads(line)
    assert entry["message"] == "hello operator"
    assert entry["logger"] == "convodesk.ops"
    assert entry["level"] == "WARNING"
