"""`/metrics` in Prometheus's text format, through prometheus-client.

Two kinds of figures:
- this process's own: request latency by route (a histogram the middleware feeds) and the
  event stream's lag (how far this node's outbox hub is behind the event table);
- the installation's, read from the database when scraped (every node answers the same):
  queue depth and waiting conversations per open channel, outbound deliveries failed and being
  retried, the task backlog, how late the oldest due timer is, and the background roles'
  heartbeat ages. They are cached for a few seconds so several scrapers cost one read.

Each web process is its own target (`serve --workers 1` per node, the default): scrape every
node, as Prometheus does with any fleet.
"""

from __future__ import annotations

import threading
import time

from django.db import DatabaseError, connection
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_LATENCY = Histogram(
    "convodesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (the URL pattern), method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def observe_request(method: str, route: str, status: int, started: float) -> None:
    REQUEST_LATENCY.labels(route=route or "/", method=method, status=f"{status // 100}xx").observe(
        time.perf_counter() - started
    )


def _database_figures() -> dict:
    """What every node reports alike; a handful of indexed or small queries."""
    from django_tasks_db.models import DBTaskResult

    from convodesk.conversations.lifecycle import Status
    from convodesk.conversations.models import Conversation, ConversationEvent, Message
    from convodesk.lines.models import Line

    from . import heartbeat

    now = timezone.now()
    names = dict(Line.objects.values_list("id", "name"))
    waiting = dict(
        Conversation.objects.filter(waiting_since__isnull=False)
        .values_list("line_id")
        .annotate(n=Count("id"))
        .values_list("line_id", "n")
    )
    queued = dict(
        Conversation.objects.filter(status__lt=Status.TAKEN)
        .values_list("line_id")
        .annotate(n=Count("id"))
        .values_list("line_id", "n")
    )
    deliveries = Message.objects.filter(
        # The terms of the message_delivery_open partial index, so both databases read it.
        Q(delivery_state=Message.Delivery.PENDING) | Q(delivery_state=Message.Delivery.FAILED)
    ).aggregate(
        failed=Count("id", filter=Q(delivery_state=Message.Delivery.FAILED)),
        retrying=Count(
            "id", filter=Q(delivery_state=Message.Delivery.PENDING, delivery_attempts__gt=0)
        ),
        pending=Count("id", filter=Q(delivery_state=Message.Delivery.PENDING)),
    )
    tasks = DBTaskResult.objects.ready().aggregate(n=Count("id"), oldest=Min("enqueued_at"))
    due = [
        Conversation.objects.filter(**{f"{field}__lte": now}).aggregate(m=Min(field))["m"]
        for field in ("offer_expires_at", "auto_close_at", "full_close_at")
    ]
    due = [d for d in due if d is not None]
    latest = ConversationEvent.objects.aggregate(m=Max("id"))["m"] or 0
    return {
        "lines": names,
        "waiting": waiting,
        "queued": queued,
        "deliveries": deliveries,
        "tasks_ready": tasks["n"],
        "task_oldest_age": (now - tasks["oldest"]).total_seconds() if tasks["oldest"] else 0.0,
        "timers_lag": (now - min(due)).total_seconds() if due else 0.0,
        "heartbeats": heartbeat.freshest(),
        "latest_event": latest,
    }


class DatabaseCollector:
    """Reads `_database_figures()` at most every `ttl` seconds per process."""

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self.lock = threading.Lock()
        self.cached: tuple[float, dict] | None = None

    def figures(self) -> dict | None:
        with self.lock:
            if self.cached is None or time.monotonic() - self.cached[0] > self.ttl:
                try:
                    self.cached = (time.monotonic(), _database_figures())
                except DatabaseError:
                    self.cached = None
                    return None
                finally:
                    if not connection.in_atomic_block:
                        connection.close_if_unusable_or_obsolete()
            return self.cached[1]

    def forget(self) -> None:
        with self.lock:
            self.cached = None

    def describe(self):
        return []

    def collect(self):
        up = GaugeMetricFamily(
            "convodesk_database_up", "1 when this node could read its figures from the database."
        )
        figures = self.figures()
        up.add_metric([], 1 if figures else 0)
        yield up
        if not figures:
            return
        lines = figures["lines"]
        waiting = GaugeMetricFamily(
            "convodesk_waiting_conversations",
            "Conversations whose client waits for an answer, per open channel.",
            labels=["line"],
        )
        queued = GaugeMetricFamily(
            "convodesk_queue_depth",
            "Conversations in an open channel's queue, not yet taken by anyone.",
            labels=["line"],
        )
        for line_id, name in sorted(lines.items()):
            label = f"{line_id} {name}"
            waiting.add_metric([label], figures["waiting"].get(line_id, 0))
            queued.add_metric([label], figures["queued"].get(line_id, 0))
        yield waiting
        yield queued
        deliveries = GaugeMetricFamily(
            "convodesk_outbound_messages",
            "Replies on their way to the client's channel: pending, retrying (pending after a "
            "failed attempt) and failed (given up: Not delivered).",
            labels=["state"],
        )
        for state in ("pending", "retrying", "failed"):
            deliveries.add_metric([state], figures["deliveries"][state] or 0)
        yield deliveries
        yield GaugeMetricFamily(
            "convodesk_task_backlog",
            "Background tasks ready to run and not yet picked by a worker.",
            value=figures["tasks_ready"],
        )
        yield GaugeMetricFamily(
            "convodesk_task_backlog_oldest_seconds",
            "Age of the oldest task waiting for a worker (0 when none waits).",
            value=figures["task_oldest_age"],
        )
        yield GaugeMetricFamily(
            "convodesk_timers_lag_seconds",
            "How long ago the oldest due timer (queue time-out, auto-close, full close) was due "
            "and has not fired yet (0 when none is late).",
            value=figures["timers_lag"],
        )
        beats = GaugeMetricFamily(
            "convodesk_heartbeat_age_seconds",
            "Seconds since the latest heartbeat of each background role.",
            labels=["role"],
        )
        for role, age in sorted(figures["heartbeats"].items()):
            beats.add_metric([role], age)
        yield beats
        yield from _event_stream(figures["latest_event"])


def _event_stream(latest: int):
    """This process's outbox hubs (one per event loop that serves sockets)."""
    from convodesk.conversations import outbox
    from convodesk.conversations.models import ConversationEvent

    behind = GaugeMetricFamily(
        "convodesk_event_stream_lag_events",
        "Events committed that this node's live feed has not read yet.",
    )
    seconds = GaugeMetricFamily(
        "convodesk_event_stream_lag_seconds",
        "Age of the oldest event this node's live feed has not read yet (0 when caught up).",
    )
    cursors = [h.cursor.last for h in list(outbox._hubs.values()) if h.cursor is not None]
    if not cursors:  # no socket served yet: nothing to lag behind
        behind.add_metric([], 0)
        seconds.add_metric([], 0)
    else:
        position = min(cursors)
        behind.add_metric([], max(0, latest - position))
        try:
            oldest = (
                ConversationEvent.objects.filter(id__gt=position)
                .order_by("id")
                .values("at")
                .first()
            )
        except DatabaseError:
            oldest = None
        seconds.add_metric([], (timezone.now() - oldest["at"]).total_seconds() if oldest else 0.0)
    yield behind
    yield seconds


DATABASE = DatabaseCollector()
REGISTRY.register(DATABASE)
