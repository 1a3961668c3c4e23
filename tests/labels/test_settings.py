"""Tags and close reasons in the settings: created, renamed, recoloured and archived through one
writer, each change in the audit log; operators cannot open the screens."""

import pytest
from django.urls import reverse

from convodesk.audit.models import AuditEntry
from convodesk.conversations.models import Tag
from convodesk.lines.models import CloseReason
from tests import factories as f

from .posts import line_post

pytestmark = pytest.mark.django_db


def test_an_administrator_creates_renames_recolours_and_archives_a_tag(admin_client):
    response = admin_client.post(
        reverse("administration:tag_create"), {"name": "Billing", "colour": "blue"}
    )
    assert response.status_code == 302
    tag = Tag.objects.get()
    assert (tag.name, tag.colour, tag.archived) == ("Billing", "blue", False)
    page = admin_client.get(reverse("administration:tags")).content.decode()
    assert "tag tag-blue" in page and "Billing" in page
    admin_client.post(
        reverse("administration:tag", args=[tag.pk]),
        {"name": "Invoices", "colour": "green", "archived": "on"},
    )
    tag.refresh_from_db()
    assert (tag.name, tag.colour, tag.archived) == ("Invoices", "green", True)
    entries = AuditEntry.objects.filter(object_type="tag").order_by("id")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].before["name"] == "Billing" and entries[1].after["name"] == "Invoices"
    assert entries[1].after["archived"] is True


def test_a_duplicate_or_empty_tag_name_is_refused_beside_the_field(admin_client):
    Tag.objects.create(name="Urgent")
    response = admin_client.post(
        reverse("administration:tag_create"), {"name": "urgent", "colour": "red"}
    )
    assert response.status_code == 400 and "Another tag has this name." in response.content.decode()
    response = admin_client.post(
        reverse("administration:tag_create"), {"name": "", "colour": "red"}
    )
    assert response.status_code == 400
    assert Tag.objects.count() == 1


def test_close_reasons_are_edited_on_the_open_channel_screen(admin_client):
    line = f.line("Support")
    url = reverse("administration:line_edit", args=[line.pk])
    response = admin_client.post(
        url, line_post(line, close_reason_required="on", new_reasons="Solved\nNo answer\n")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    line.refresh_from_db()
    assert line.close_reason_required
    solved, no_answer = CloseReason.objects.filter(line=line).order_by("position")
    assert (solved.name, no_answer.name) == ("Solved", "No answer")
    page = admin_client.get(url).content.decode()
    assert f'name="reason_{solved.pk}" value="Solved"' in page
    admin_client.post(
        url,
        line_post(
            line,
            close_reason_required="on",
            **{
                f"reason_{solved.pk}": "Resolved",
                f"reason_{no_answer.pk}": "No answer",
                f"reason_{no_answer.pk}_archived": "1",
            },
        ),
    )
    solved.refresh_from_db()
    no_answer.refresh_from_db()
    assert solved.name == "Resolved" and no_answer.archived
    actions = list(
        AuditEntry.objects.filter(object_type="closereason")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "create", "update", "update"]


def test_a_refused_close_reason_leaves_the_open_channel_unchanged(admin_client):
    line = f.line("Support")
    CloseReason.objects.create(line=line, name="Solved")
    url = reverse("administration:line_edit", args=[line.pk])
    response = admin_client.post(
        url, line_post(line, close_reason_required="on", new_reasons="solved")
    )
    assert response.status_code == 200
    assert "Two close reasons have the same name." in response.content.decode()
    line.refresh_from_db()
    assert not line.close_reason_required
    assert CloseReason.objects.filter(line=line).count() == 1


def test_operators_cannot_open_the_tag_settings(client):
    op = f.employee("op")
    client.force_login(op)
    assert client.get(reverse("administration:tags")).status_code in (403, 404)
    assert client.post(
        reverse("administration:tag_create"), {"name": "X", "colour": "red"}
    ).status_code in (403, 404)
    assert not Tag.objects.exists()
