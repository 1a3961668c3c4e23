"""The demo's tags and close reasons: made through the settings' writer and the services, so the
statistics per tag and per reason agree with a rebuild from the conversations."""

import datetime as dt

from django.utils import timezone

from convodesk.conversations.models import Conversation, ConversationTag, Tag
from convodesk.devtools import demo
from convodesk.devtools.demo_tags import add_tags_and_close_reasons
from convodesk.lines.models import Line
from convodesk.stats import rollups

from .test_label_statistics import _label_state


def test_the_demo_gets_tags_and_close_reasons_through_the_services(db):
    now = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)
    demo.load(conversations=120, now=now)
    done = add_tags_and_close_reasons()
    assert done["tagged"] > 20 and done["with_reason"] > 5
    assert ConversationTag.objects.count() >= done["tagged"]
    assert Conversation.objects.filter(close_reason__isnull=False).count() == done["with_reason"]
    assert Tag.objects.get(name="Legacy plan").archived
    assert Line.objects.get(name="Billing").close_reason_required
    kept = _label_state()
    rollups.rebuild()
    assert _label_state() == kept
