"""The demo's tags and close reasons: made through the settings' writer and the services, so the
statistics per tag and per reason agree with a rebuild from the conversations."""

import datetime as dt

from django.utils import timezone

from convodesk.conversations.models import Conversation, ConversationTag, Tag
from convodesk.devtools import demo
from convodesk.lines.models import Line
from convodesk.stats import rollups

from .test_label_statistics import _label_state


def test_the_demo_gets_tags_and_close_reasons_through_the_services(db):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)
    demo.load(conversations=120, now=now)  # its steps include demo_tags
    tagged = Conversation.objects.filter(tags__isnull=False).distinct().count()
    assert tagged > 20 and ConversationTag.objects.count() >= tagged
    assert Conversation.objects.filter(close_reason__isnull=False).count() > 5
    assert not Conversation.objects.filter(tags__isnull=False, updated_at__gt=now).exists()
    assert Tag.objects.get(name="Legacy plan").archived
    assert Line.objects.get(name="Billing").close_reason_required
    kept = _label_state()
    rollups.rebuild()
    assert _label_state() == kept
