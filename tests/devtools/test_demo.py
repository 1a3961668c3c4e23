"""The demo data: the organisation made by the services, the history written in bulk through the
generator's path, today's conversations made by the services; all of it passes the same invariants
as production data, reads like real conversations and leaves no stale queue behind."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.accounts.models import User
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationCrmLink, Message
from convodesk.crm.models import Activity, ContactIdentity
from convodesk.devtools import demo, demo_history, invariants
from convodesk.devtools.demo_transcripts import (
    AGENT_HELLO,
    ANYTHING_ELSE,
    GOODBYE,
    MEANWHILE,
    OUTGOING,
    THANKS,
    TOPICS,
)
from convodesk.lines.models import Line
from convodesk.workspace import quick_replies
from convodesk.workspace.models import QuickReply

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
WAITING = (Status.NEW, Status.SKIPPED, Status.CLIENT_WROTE, Status.CLIENT_WROTE_AFTER_AGENT)


def _transcripts():
    """Each conversation's (author kind, text, created_at) in the order the transcript shows them."""
    out = {}
    for conv_id, kind, text, at in Message.objects.order_by("conversation_id", "id").values_list(
        "conversation_id", "author_kind", "text", "created_at"
    ):
        out.setdefault(conv_id, []).append((kind, text, at))
    return out


def test_the_demo_loads_every_status_and_passes_the_invariants(db):
    demo.load(conversations=300, now=NOW)
    statuses = set(Conversation.objects.values_list("status", flat=True))
    assert statuses == {0, 5, 10, 20, 25, 40, 50, 60, 65, 69, 75}
    assert set(Conversation.objects.values_list("channel", flat=True)) == {
        "livechat",
        "telegram",
        "email",
        "api",
    }
    assert 300 <= Conversation.objects.count() <= 302  # an outgoing one follows up an earlier one
    assert Conversation.objects.filter(type="outgoing").exists()
    assert Conversation.objects.exclude(transfer_count=0).exists()
    # The metrics are what SPEC computes from the stored timestamps, for both writers' rows.
    assert invariants.check(Conversation.objects.all()) == []
    # Simulated history is not sent again to anyone.
    assert not Message.objects.filter(delivery_state="pending").exists()
    # Nothing happens after "now".
    assert not Message.objects.filter(created_at__gt=NOW).exists()
    assert not Conversation.objects.filter(updated_at__gt=NOW).exists()
    # The statistics were rebuilt over everything, bulk rows included.
    from convodesk.stats.models import Rollup

    assert Rollup.objects.exists()


def test_the_history_is_bound_to_crm_contacts_as_binding_would(db):
    demo.load(conversations=300, now=NOW)
    bound = Conversation.objects.exclude(crm_entity_type="")
    assert bound.count() > 100
    # Every bound conversation has its primary link and its activity, on the same record.
    for conv in bound:
        link = ConversationCrmLink.objects.get(conversation=conv, is_primary=True)
        assert (link.entity_type, link.entity_id) == (conv.crm_entity_type, conv.crm_entity_id)
        activity = Activity.objects.get(pk=conv.crm_activity_id)
        assert activity.conversation_id == conv.pk
        assert (activity.owner_type, activity.owner_id) == (link.entity_type, link.entity_id)
    # A bulk-made contact is found by its channel identity when that client writes again.
    assert ContactIdentity.objects.filter(external_id__startswith="demo-visitor-").exists()


def test_transcripts_read_in_order_greeting_question_answer_thanks(db):
    demo.load(conversations=300, now=NOW)
    questions = {t[0]: t for lang in TOPICS for t in TOPICS[lang]}
    greetings = tuple(g.split("{")[0] for g in AGENT_HELLO.values())
    thanks = {t for lang in THANKS for t in THANKS[lang]}
    closings = {t for lang in GOODBYE for t in GOODBYE[lang]} | set(ANYTHING_ELSE.values())
    outgoing_replies = {o[1] for o in OUTGOING.values()}
    meanwhile = {t for lang in MEANWHILE for t in MEANWHILE[lang]}
    convs = {c.pk: c for c in Conversation.objects.all()}
    checked = 0
    for conv_id, lines in _transcripts().items():
        conv = convs[conv_id]
        # Timestamps never go back; what people say is strictly later than what came before.
        said = [at for kind, _text, at in lines if kind in ("client", "employee")]
        assert said == sorted(said) and len(set(said)) == len(said), conv_id
        assert [at for _k, _t, at in lines] == sorted(at for _k, _t, at in lines), conv_id
        # Nobody talks to themselves for long: at most two messages in a row from one side.
        kinds = [kind for kind, _t, _a in lines if kind in ("client", "employee")]
        runs = "".join("c" if k == "client" else "e" for k in kinds)
        assert "ccc" not in runs and "eee" not in runs, (conv_id, runs)
        texts = [text for kind, text, _a in lines if kind in ("client", "employee")]
        if conv.type == "outgoing":
            assert kinds[0] == "employee"
            assert all(
                t in outgoing_replies for k, t in zip(kinds, texts, strict=True) if k == "client"
            )
            continue
        assert kinds[0] == "client", conv_id
        if conv.status in (Status.SPAM, Status.DUPLICATE) or "invoice" in texts[0]:
            continue
        # The first message greets and asks one topic's question; the employee greets, asks for
        # the detail of that topic, the client gives it, the employee answers; thanks come after.
        question = next((q for q in questions if texts[0].endswith(q)), None)
        assert question, texts[0]
        _q, ask, detail, answer = questions[question]
        for later_text in texts[1:]:
            assert (
                later_text in (ask, detail, answer)
                or later_text.startswith(greetings)
                or (later_text in thanks | closings | meanwhile)
            ), (conv_id, later_text)
        if answer in texts:
            first_greeting = next(i for i, t in enumerate(texts) if t.startswith(greetings))
            assert first_greeting < texts.index(answer), conv_id
            if ask in texts:
                assert first_greeting < texts.index(ask) < texts.index(detail)
                assert texts.index(detail) < texts.index(answer), conv_id
            for i, t in enumerate(texts):
                if t in thanks:
                    assert i > texts.index(answer), conv_id
            checked += 1
        if conv.status == Status.CLOSED and conv.type == "incoming":
            assert answer in texts, conv_id
    assert checked > 200


def test_no_stale_waiting_conversations_when_the_demo_loads(db):
    demo.load(conversations=300, now=NOW)
    waiting = Conversation.objects.filter(status__in=WAITING)
    assert 0 < waiting.count() <= 12
    for conv in waiting:
        assert NOW - conv.waiting_since <= dt.timedelta(minutes=15), conv.pk
    # The queue (nobody took it yet) holds a few conversations, minutes old.
    queue = Conversation.objects.filter(status__in=(Status.NEW, Status.SKIPPED))
    assert 1 <= queue.count() <= 6
    assert all(NOW - c.started_at <= dt.timedelta(minutes=15) for c in queue)
    # Nothing open is older than today's last hours, and no timer is already overdue.
    open_ = Conversation.objects.filter(status__lt=Status.CLOSED)
    assert all(NOW - c.started_at <= dt.timedelta(hours=3) for c in open_)
    for conv in open_:
        for due in (conv.auto_close_at, conv.full_close_at):
            assert due is None or due > NOW, conv.pk


def test_the_demo_ships_shared_and_personal_quick_replies_with_placeholders(db):
    demo.load_organisation()
    shared = QuickReply.objects.filter(owner__isnull=True)
    assert shared.count() >= 8
    assert shared.filter(line__isnull=True).exists() and shared.filter(line__isnull=False).exists()
    assert all(r.shortcut for r in QuickReply.objects.all())
    assert QuickReply.objects.filter(text__contains="{client_name}").count() >= 5
    alex, lucia = User.objects.get(username="alex"), User.objects.get(username="lucia")
    support = Line.objects.get(name="Support")
    offered = quick_replies.offered(alex, support.pk)
    shortcuts = {r.shortcut for r in offered}
    assert {"hello", "bye", "order", "sig"} <= shortcuts  # shared, Support's, alex's own
    assert "firma" not in shortcuts  # lucía's own is hers only
    assert "firma" in {r.shortcut for r in quick_replies.offered(lucia, support.pk)}
    hello = next(r for r in offered if r.shortcut == "hello")
    assert quick_replies.fill(hello.text, client_name="Ana Pérez", employee_name="Alex") == (
        "Hello Ana Pérez, this is Alex. How can I help you?"
    )


def test_the_history_is_written_in_bulk_not_conversation_by_conversation(db):
    org = demo.load_organisation()
    import random

    rng = random.Random(3)
    segments = [
        (1000, NOW - dt.timedelta(days=30), NOW - dt.timedelta(hours=6), demo_history.CLOSED_MIX)
    ]
    stories = demo_history.plan(org, rng, segments, NOW)
    with CaptureQueriesContext(connection) as queries:
        demo_history.write(org, stories, rng)
    assert Conversation.objects.count() == 1000
    assert Message.objects.count() > 5000
    # A bounded number of statements for a thousand conversations and their messages (the
    # services need dozens per conversation); rows go in by multi-row INSERT or COPY.
    assert len(queries) < 60, [q["sql"][:80] for q in queries.captured_queries]
    assert invariants.check(Conversation.objects.all()) == []
