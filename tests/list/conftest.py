import re

import pytest

from convodesk.accounts.models import Role
from convodesk.conversations import services
from convodesk.conversations.models import Client as ClientRow
from convodesk.conversations.models import Conversation

from .. import factories as f

ROW_ID = re.compile(r'<tr id="row-(\d+)"')


def row_ids(response) -> list[int]:
    return [int(x) for x in ROW_ID.findall(response.content.decode())]


class Convs:
    pass


@pytest.fixture
def convs(org):
    """One conversation per owner, so each viewer's visible set is distinct and known.

    op1 (Sales) has an answered one, op2 (Sales East, under Sales) a waiting one, op3 (Support) a
    closed one; an unassigned one sits on an open channel nobody is a member of (offered to no one).
    """
    c = Convs()
    c.org = org
    c.op1 = f.client_message(
        org.conn, "ana", "Hello, my order is late", when=f.at(0), phone="+34 600 111 222"
    ).conversation
    services.take(c.op1.pk, f.act(org.op1), now=f.at(30))
    services.reply(c.op1.pk, f.act(org.op1), "Let me check", now=f.at(90))

    c.op2 = f.client_message(org.conn, "bob", "Can I change my plan?", when=f.at(100)).conversation
    services.take(c.op2.pk, f.act(org.op2), now=f.at(400))

    c.op3 = f.client_message(org.conn, "cris", "Refund please", when=f.at(200)).conversation
    services.take(c.op3.pk, f.act(org.op3), now=f.at(260))
    services.reply(c.op3.pk, f.act(org.op3), "Done", now=f.at(300))
    services.close(c.op3.pk, f.act(org.op3), now=f.at(320))

    c.quiet_line = f.line("Quiet line")
    c.quiet_conn = f.connection(c.quiet_line, "email")
    c.unassigned = f.client_message(
        c.quiet_conn, "dan", "Anyone there?", when=f.at(500), email="Dan@Example.com"
    ).conversation

    c.sup2 = f.employee("sup2", departments=[org.support])
    c.sup2.roles.add(Role.objects.get(name="Department supervisor"))
    for conv in ("op1", "op2", "op3", "unassigned"):
        getattr(c, conv).refresh_from_db()
    return c


@pytest.fixture
def varied(convs):
    """The fixture's four conversations, plus what makes cells differ: two rows sharing a status,
    channel and metric but not a rating comment (with markup in it), CRM records, an overdue wait."""
    org = convs.org
    extra = f.client_message(org.conn, "eva", "hi", when=f.at(700)).conversation
    ClientRow.objects.filter(pk=extra.client_id).update(name='Eva <b>"x"</b>')
    services.take(extra.pk, f.act(org.op1), now=f.at(760))
    Conversation.objects.filter(pk=convs.op1.pk).update(
        supervisor_rating=4,
        supervisor_comment='great <b>"work"</b> & more',
        client_rating=1,
        crm_entity_type="deal",
        crm_entity_id=77,
        crm_title="Big <deal>",
        crm_activity_id=12,
        spam=False,
        pinned=True,
    )
    Conversation.objects.filter(pk=extra.pk).update(
        supervisor_rating=4, supervisor_comment="", client_rating=-1
    )
    Conversation.objects.filter(pk=convs.op2.pk).update(due_at=f.at(0))  # long overdue
    return convs
