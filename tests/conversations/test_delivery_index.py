"""The delivery sweep of the timers loop (every two seconds) and /metrics read the messages still
to send through a small partial index, not the whole messages table (issue 18's note: each sweep
and each scrape scanned every message)."""

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from convodesk.conversations.models import Message


def _plan(queryset) -> str:
    return queryset.explain()


@pytest.mark.django_db
def test_the_delivery_sweep_reads_the_open_deliveries_index():
    due = Message.objects.filter(
        delivery_state=Message.Delivery.PENDING, next_attempt_at__lte=timezone.now()
    )
    if settings.IS_POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table: ask what it may use
    assert "message_delivery_open" in _plan(due.order_by("next_attempt_at", "id").values("pk"))


@pytest.mark.django_db
def test_the_metrics_count_reads_the_open_deliveries_index():
    from django.db.models import Q

    open_ones = Message.objects.filter(
        Q(delivery_state=Message.Delivery.PENDING) | Q(delivery_state=Message.Delivery.FAILED)
    )
    if settings.IS_POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    assert "message_delivery_open" in _plan(open_ones.order_by().values("pk"))
