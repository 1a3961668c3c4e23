"""The demo data: made by the real services, so it passes the same invariants as production data."""

import datetime as dt

from convodesk.conversations.models import Conversation, Message
from convodesk.devtools import demo, invariants


def test_the_demo_loads_every_status_through_the_services_and_passes_the_invariants(db):
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    demo.load(conversations=160, now=now)
    statuses = set(Conversation.objects.values_list("status", flat=True))
    assert statuses == {0, 5, 10, 20, 25, 40, 50, 60, 65, 69, 75}
    assert set(Conversation.objects.values_list("channel", flat=True)) == {
        "livechat",
        "telegram",
        "email",
        "api",
    }
    assert Conversation.objects.filter(type="outgoing").exists()
    assert Conversation.objects.exclude(crm_entity_type="").count() > 100
    assert invariants.check(Conversation.objects.all()) == []
    # Simulated history is not sent again to anyone.
    assert not Message.objects.filter(delivery_state="pending").exists()
