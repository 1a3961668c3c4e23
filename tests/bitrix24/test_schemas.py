"""Every method's answer against its documented shape (schemas.py), one call each, in one world:
a line, a conversation taken and answered, a lead and a contact, a custom connector."""

from __future__ import annotations

import jsonschema
import pytest

from convodesk.bitrix24 import registry
from convodesk.conversations import services
from convodesk.crm.models import Contact
from tests import factories as f

from .schemas import ERROR, RESULTS, envelope

LISTS = {"imopenlines.v2.session.list", "crm.lead.list", "crm.contact.list"}


def test_every_method_has_a_schema():
    registry.find("x")  # loads the method modules
    assert set(registry.METHODS) | {"batch"} == set(RESULTS)


@pytest.fixture
def world(desk):
    rest = desk.rest(desk.admin)
    received = f.client_message(desk.conn, client="sch", text="Hello", phone="+34 633 444 555")
    conv = received.conversation.pk
    contact = Contact.objects.create(name="Eve", responsible=desk.admin)
    contact.add_phone("+34 644 555 666")
    contact.add_email("eve@example.com")
    rest.call("imconnector.register", {"ID": "schemachat", "NAME": "Schema chat"})
    rest.call(
        "imconnector.activate", {"CONNECTOR": "schemachat", "LINE": desk.line.pk, "ACTIVE": 1}
    )
    spare = f.client_message(desk.conn, client="spare", text="Spam?").conversation.pk
    skip_me = f.client_message(desk.conn, client="skipper", text="Skip?").conversation.pk
    return rest, conv, contact, spare, skip_me


def calls(desk, conv, contact, spare, skip_me):
    lead_id = desk.lead_id
    return [
        ("user.current", {}),
        ("profile", {}),
        ("server.time", {}),
        ("imopenlines.config.list.get", {}),
        ("imopenlines.config.get", {"CONFIG_ID": desk.line.pk}),
        ("imopenlines.v2.Session.list", {"configId": desk.line.pk}),
        ("imopenlines.dialog.get", {"DIALOG_ID": f"chat{conv}"}),
        ("imopenlines.session.history.get", {"CHAT_ID": conv}),
        ("imopenlines.operator.answer", {"CHAT_ID": conv}),
        ("im.message.add", {"DIALOG_ID": f"chat{conv}", "MESSAGE": "Hi"}),
        (
            "imopenlines.bot.session.message.send",
            {"CHAT_ID": conv, "MESSAGE": "More", "NAME": "WELCOME"},
        ),
        ("imopenlines.crm.lead.create", {"CHAT_ID": conv}),
        (
            "imopenlines.operator.transfer",
            {"CHAT_ID": conv, "TRANSFER_ID": f"queue{desk.other.pk}"},
        ),
        ("imopenlines.bot.session.transfer", {"CHAT_ID": conv, "TRANSFER_ID": desk.admin.pk}),
        ("imopenlines.operator.finish", {"CHAT_ID": conv}),
        ("imopenlines.operator.spam", {"CHAT_ID": spare}),
        ("imopenlines.operator.skip", {"CHAT_ID": skip_me}),
        ("imconnector.register", {"ID": "another", "NAME": "Another"}),
        ("imconnector.activate", {"CONNECTOR": "another", "LINE": desk.other.pk, "ACTIVE": 1}),
        ("imconnector.status", {"CONNECTOR": "schemachat", "LINE": desk.line.pk}),
        ("imconnector.list", {}),
        (
            "imconnector.send.messages",
            {
                "CONNECTOR": "schemachat",
                "LINE": desk.line.pk,
                "MESSAGES": [
                    {
                        "user": {"id": "u1", "name": "Zoe"},
                        "message": {"id": "s-1", "date": 1780000000, "text": "Hi"},
                        "chat": {"id": "z1"},
                    }
                ],
            },
        ),
        (
            "imconnector.send.status.delivery",
            {
                "CONNECTOR": "schemachat",
                "LINE": desk.line.pk,
                "MESSAGES": [
                    {
                        "im": {"chat_id": 1, "message_id": 1},
                        "message": {"id": ["x"]},
                        "chat": {"id": "z1"},
                    }
                ],
            },
        ),
        (
            "imconnector.send.status.reading",
            {
                "CONNECTOR": "schemachat",
                "LINE": desk.line.pk,
                "MESSAGES": [{"im": {"chat_id": 1, "message_id": 1}, "chat": {"id": "z1"}}],
            },
        ),
        ("imconnector.unregister", {"ID": "another"}),
        ("crm.lead.list", {"select": ["*", "PHONE", "EMAIL"]}),
        ("crm.lead.get", {"id": lead_id}),
        (
            "crm.lead.add",
            {"fields": {"TITLE": "Schema lead", "EMAIL": [{"VALUE": "s@example.com"}]}},
        ),
        ("crm.lead.update", {"id": lead_id, "fields": {"STATUS_ID": "IN_PROCESS"}}),
        ("crm.contact.list", {"select": ["*", "PHONE", "EMAIL"]}),
        ("crm.contact.get", {"id": contact.pk}),
        ("crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["eve@example.com"]}),
        ("batch", {"cmd": {"a": "server.time", "b": "crm.lead.get?id=0"}}),
    ]


def test_every_method_answers_in_its_documented_shape(desk, world):
    rest, conv, contact, spare, skip_me = world
    from convodesk.conversations.models import Conversation

    desk.lead_id = Conversation.objects.get(pk=conv).crm_entity_id
    services.take(spare, f.act(desk.admin))
    checked = set()
    for name, params in calls(desk, conv, contact, spare, skip_me):
        if name == "imopenlines.operator.skip":
            rest_op = desk.rest(desk.op1)
            body = rest_op.call(name, params)
        else:
            body = rest.call(name, params)
        key = name.lower()
        jsonschema.validate(body, envelope(key, listing=key in LISTS))
        checked.add(key)
    assert checked == set(RESULTS)


def test_errors_have_one_shape(desk):
    rest = desk.rest(desk.op1)
    for name, params in [
        ("no.such", {}),
        ("crm.lead.get", {"id": 424242}),
        ("imopenlines.operator.answer", {"CHAT_ID": 424242}),
        ("imopenlines.operator.answer", {}),
        ("imconnector.activate", {"CONNECTOR": "x", "LINE": 1}),
    ]:
        response = rest.post(name, params)
        assert response.status_code >= 400
        jsonschema.validate(response.json(), ERROR)
