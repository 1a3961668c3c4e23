"""The generator's rows obey the same invariants as rows the services write."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import F

from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import (
    ClientIdentity,
    Conversation,
    ConversationParticipant,
    Message,
    ReplyPeriod,
)
from convodesk.devtools import generate, invariants
from tests import factories as f


def _service_made(org):
    """A conversation in (almost) every state the services can produce, on a clock we control."""
    op1, op2 = f.act(org.op1), f.act(org.op2)
    closing = f.line(
        "Closing line", members=[org.op1, org.op2], closing_text="Bye", ask_rating=True
    )
    closing_conn = f.connection(closing, "livechat")
    reopen = f.line("Reopen line", members=[org.op1], reopen_window_minutes=60)
    reopen_conn = f.connection(reopen, "telegram")
    t = 0

    def clock(step=7.3):
        nonlocal t
        t += step
        return f.at(t)

    made = {}
    made["new"] = f.client_message(org.conn, "c-new", when=clock()).conversation
    c = f.client_message(org.conn, "c-taken", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    made["taken"] = c
    c = f.client_message(org.conn, "c-wrote", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    f.client_message(org.conn, "c-wrote", "more", when=clock())
    made["client_wrote"] = c
    c = f.client_message(org.conn, "c-replied", when=clock()).conversation
    services.reply(c.pk, op1, "Hi", now=clock(31.4))
    f.client_message(org.conn, "c-replied", "and?", when=clock())
    services.reply(c.pk, op1, "Sure", now=clock(12.9))
    made["agent_replied"] = c
    c = f.client_message(org.conn, "c-after", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    services.reply(c.pk, op1, "Hi", now=clock())
    f.client_message(org.conn, "c-after", "again", when=clock())
    made["after_agent"] = c
    c = f.client_message(org.conn, "c-transfer", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    services.reply(c.pk, op1, "Let me transfer you", now=clock())
    services.transfer(c.pk, op1, to_employee=org.op2, now=clock())
    made["skipped"] = c
    c = f.client_message(org.conn, "c-transfer-done", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    services.transfer(c.pk, op1, to_employee=org.op2, now=clock())
    services.take(c.pk, op2, now=clock())
    services.reply(c.pk, op2, "Hello from op2", now=clock())
    services.close(c.pk, op2, now=clock())
    made["closed_after_transfer"] = c
    c = f.client_message(org.conn, "c-spam", when=clock()).conversation
    services.mark_spam(c.pk, op1, now=clock())
    made["spam"] = c
    c = f.client_message(org.conn, "c-dup", when=clock()).conversation
    services.take(c.pk, op1, now=clock())
    services.mark_duplicate(c.pk, op1, made["new"].pk, now=clock())
    made["duplicate"] = c
    c = f.client_message(org.conn, "c-auto", when=clock()).conversation
    services.reply(c.pk, op1, "Anything else?", now=clock())
    services.run_due_timers(now=f.at(t + 5 * 3600))
    made["auto_closed"] = c
    c = f.client_message(closing_conn, "c-closing", when=clock()).conversation
    services.reply(c.pk, op1, "Hi", now=clock())
    services.close(c.pk, op1, now=clock())
    made["closing"] = c
    c = f.client_message(closing_conn, "c-rated", when=clock()).conversation
    services.reply(c.pk, op1, "Hi", now=clock())
    services.close(c.pk, op1, now=clock())
    services.client_rate(c.pk, True, now=clock())
    made["rated"] = c
    c = f.client_message(reopen_conn, "c-reopen", when=clock()).conversation
    services.reply(c.pk, op1, "Hi", now=clock())
    services.close(c.pk, op1, now=clock())
    f.client_message(reopen_conn, "c-reopen", "one more thing", when=clock())
    made["reopened"] = c
    integration = f.act(f.integration())
    c = f.client_message(org.conn, "c-system", when=clock()).conversation
    services.reply(c.pk, integration, "Automatic hello", now=clock())
    services.close(c.pk, integration, now=clock())
    made["system_closed"] = c
    telegram = f.connection(org.line, "telegram")
    c = f.client_message(telegram, "c-tg", when=clock()).conversation
    services.reply(c.pk, op1, "Hi", now=clock())
    services.close(c.pk, op1, now=clock())
    identity = ClientIdentity.objects.get(connection=telegram, external_id="c-tg")
    made["outgoing"] = services.start_outgoing(op1, identity, "We have news", now=clock())
    return made


def test_service_made_conversations_satisfy_every_invariant(org):
    made = _service_made(org)
    statuses = {Conversation.objects.get(pk=c.pk).status for c in made.values()}
    assert {0, 5, 10, 20, 25, 40, 50, 60, 65, 69, 75} <= statuses
    assert invariants.check(Conversation.objects.all()) == []


def test_invariant_check_reports_broken_rows(org):
    made = _service_made(org)
    replied = made["agent_replied"]
    Conversation.objects.filter(pk=replied.pk).update(first_answer_wait=F("first_answer_wait") + 1)
    ConversationParticipant.objects.filter(conversation=made["taken"]).update(sees=False)
    ReplyPeriod.objects.filter(conversation=made["after_agent"]).delete()
    Conversation.objects.filter(pk=made["spam"].pk).update(closed_at=None)
    Message.objects.filter(conversation=made["client_wrote"]).first().delete()
    Conversation.objects.filter(pk=made["outgoing"].pk).update(agent_response_time=3)
    found = "\n".join(invariants.check(Conversation.objects.all()))
    assert f"#{replied.pk}: first_answer_wait" in found
    assert f"#{made['taken'].pk}: participant" in found
    assert f"#{made['after_agent'].pk}: reply_count" in found
    assert f"#{made['spam'].pk}: closed without closed_at" in found
    assert f"#{made['client_wrote'].pk}: message_count" in found
    assert f"#{made['outgoing'].pk}: agent_response_time" in found


def test_generated_conversations_satisfy_the_same_invariants(db):
    progress = generate.generate(1500, seed=7, chunk=600, log=lambda *_: None)
    assert progress.done == Conversation.objects.count() == 1500
    qs = Conversation.objects.all()
    assert invariants.check(qs, limit=50) == []
    statuses = set(qs.values_list("status", flat=True))
    assert {
        Status.NEW,
        Status.AUTO_CLOSED,
        Status.CLOSED,
        Status.SPAM,
        Status.DUPLICATE,
    } <= statuses
    assert qs.filter(type="outgoing").exists() and qs.filter(transfer_count__gt=0).exists()
    returning = qs.filter(returning=True).count() / 1500
    assert 0.2 < returning < 0.5
    assert Message.objects.count() > 3 * 1500
    ends = qs.order_by("-started_at").values_list("started_at", flat=True)
    assert ends[0] - qs.order_by("started_at").values_list("started_at", flat=True)[
        0
    ] > dt.timedelta(days=700)


def test_generation_resumes_from_what_exists_and_keeps_messages_for_the_latest(db):
    call_command("generate", conversations=400, messages_for=100, chunk=150, seed=3, stdout=_Null())
    first_ids = set(Conversation.objects.values_list("id", flat=True))
    call_command("generate", conversations=900, messages_for=100, chunk=150, seed=3, stdout=_Null())
    assert Conversation.objects.count() == 900
    assert first_ids <= set(Conversation.objects.values_list("id", flat=True))
    with_messages = Conversation.objects.filter(messages__isnull=False).distinct()
    assert with_messages.count() <= 400  # the first run's latest 100 and the second run's latest
    newest = Conversation.objects.order_by("-started_at")[:100]
    assert all(c.messages.exists() for c in newest)
    assert invariants.check(Conversation.objects.all(), limit=50) == []
    users = generate.bench_users()
    assert (
        users["admin"].is_superuser
        and users["supervisor"].roles.filter(view_conversations=20).exists()
    )


def test_generation_skips_with_a_clear_message_when_the_disk_is_too_small(db, monkeypatch):
    monkeypatch.setattr(generate, "disk_free", lambda: 1000)
    out = _Null()
    call_command("generate", conversations=1000, stdout=out)
    assert "Not enough disk" in out.text and "Skipped" in out.text
    assert Conversation.objects.count() == 0


class _Null:
    def __init__(self):
        self.text = ""

    def write(self, s, *a, **k):
        self.text += s

    def flush(self):
        pass


@pytest.mark.nodb
def test_played_stories_reach_the_status_they_aim_for():
    import random

    rng = random.Random(1)
    for target in (
        Status.NEW,
        Status.SKIPPED,
        Status.TAKEN,
        Status.CLIENT_WROTE,
        Status.CLIENT_WROTE_AFTER_AGENT,
        Status.AGENT_REPLIED,
        Status.CLOSED,
        Status.SPAM,
        Status.DUPLICATE,
        Status.AUTO_CLOSED,
    ):
        for _ in range(50):
            sim = generate.play(rng, target, True, [1, 2, 3], False, False)
            assert sim.status == target
    sim = generate.play(rng, Status.CLOSING, True, [1, 2], True, True)
    assert sim.status in (Status.CLOSING, Status.AUTO_CLOSED)


def test_generation_can_leave_the_statistics_rollups_unbuilt_for_tests_that_never_read_them(db):
    """`--no-rollups` (issue 23: half the export tests' generation was the rollup rebuild)."""
    from io import StringIO

    from convodesk.stats.models import Rollup

    out = StringIO()
    call_command("generate", conversations=300, messages_for=0, no_rollups=True, stdout=out)
    assert Conversation.objects.count() == 300
    assert not Rollup.objects.exists()
    assert "not rebuilt" in out.getvalue()
    call_command("rebuild_rollups", stdout=StringIO())
    assert Rollup.objects.exists()
