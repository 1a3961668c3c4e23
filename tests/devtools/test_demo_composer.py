"""The demo's notes and files (convodesk/devtools/demo_composer.py): notes on held conversations,
some carrying a file the workspace serves, and nothing the client would read."""

import pytest
from django.utils import timezone

from convodesk.conversations.models import Conversation, Message
from convodesk.devtools import demo_composer
from tests import factories as f


@pytest.mark.django_db
def test_the_demo_adds_notes_and_files_to_held_conversations_only(client, org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    held = [f.client_message(org.conn, f"c{i}", "Hi", when=f.at(i)).conversation for i in range(3)]
    waiting = f.client_message(org.conn, "c-wait", "Hi", when=f.at(9)).conversation
    from convodesk.conversations import services

    for conv in held:
        services.take(conv.pk, f.act(org.op1), now=f.at(20))
    counts = dict(Conversation.objects.values_list("pk", "message_count"))
    assert demo_composer.add_notes_and_files(timezone.now()) == 3
    notes = Message.objects.filter(author_kind="note")
    assert {n.conversation_id for n in notes} == {c.pk for c in held}
    assert not notes.filter(conversation=waiting).exists()
    assert dict(Conversation.objects.values_list("pk", "message_count")) == counts
    with_file = notes.exclude(attachments=[]).first()
    client.force_login(org.op1)
    url = f"/contact-center/conversations/{with_file.conversation_id}/attachments/{with_file.pk}/0/"
    assert b"".join(client.get(url).streaming_content).startswith(b"sku,name")
