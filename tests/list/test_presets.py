"""Saved presets: create, rename, set default, share, delete; shared ones still obey visibility."""

import pytest

from convodesk.conversations.models import FilterPreset

from .. import factories as f
from .conftest import row_ids

LIST = "/contact-center/conversations/"


def test_a_preset_saves_the_current_filter_and_becomes_a_tab(convs, client):
    client.force_login(convs.org.admin)
    response = client.post(
        f"{LIST}presets/",
        {"name": "Waiting e-mail", "query": "status=waiting&channel=email&page=3"},
    )
    preset = FilterPreset.objects.get(owner=convs.org.admin)
    assert preset.query == "channel=email&status=waiting"
    assert response["Location"] == f"{LIST}?channel=email&status=waiting"
    html = client.get(response["Location"]).content.decode()
    assert 'class="tab active"' in html and "Waiting e-mail" in html
    assert row_ids(client.get(response["Location"])) == [convs.unassigned.pk]


def test_invalid_or_nameless_presets_are_refused(convs, client):
    client.force_login(convs.org.admin)
    client.post(f"{LIST}presets/", {"name": "", "query": "status=waiting"})
    client.post(f"{LIST}presets/", {"name": "Broken", "query": "status=nope"})
    assert not FilterPreset.objects.exists()


def test_rename_default_and_delete_by_the_owner(convs, client):
    client.force_login(convs.org.admin)
    client.post(
        f"{LIST}presets/", {"name": "Mine waiting", "query": "status=waiting", "is_default": "1"}
    )
    preset = FilterPreset.objects.get()
    assert preset.is_default
    assert client.get(LIST)["Location"] == f"{LIST}?status=waiting"  # opens with the default
    client.post(f"{LIST}presets/{preset.pk}/", {"op": "rename", "name": "Queue"})
    client.post(f"{LIST}presets/{preset.pk}/", {"op": "undefault"})
    preset.refresh_from_db()
    assert preset.name == "Queue" and not preset.is_default
    assert client.get(LIST).status_code == 200
    client.post(f"{LIST}presets/{preset.pk}/", {"op": "default"})
    client.post(f"{LIST}presets/", {"name": "Second", "query": "status=closed", "is_default": "1"})
    assert list(FilterPreset.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Second"
    ]
    client.post(f"{LIST}presets/{preset.pk}/", {"op": "delete"})
    assert not FilterPreset.objects.filter(pk=preset.pk).exists()


def test_a_shared_preset_is_visible_to_others_but_shows_only_their_rows(convs, client):
    client.force_login(convs.org.admin)
    client.post(
        f"{LIST}presets/", {"name": "Open work", "query": "status=waiting,answered", "shared": "1"}
    )
    client.post(f"{LIST}presets/", {"name": "Admin only", "query": "status=closed"})
    shared = FilterPreset.objects.get(name="Open work")
    client.force_login(convs.org.op1)
    html = client.get(LIST + "?view=all").content.decode()
    tabs = html.split('<nav class="tabs"')[1].split('class="menu presets-menu"')[0]
    assert "Open work" in tabs and "Admin only" not in tabs
    assert row_ids(client.get(f"{LIST}?status=waiting,answered")) == [convs.op1.pk]
    # Someone else's preset cannot be changed or deleted.
    assert client.post(f"{LIST}presets/{shared.pk}/", {"op": "delete"}).status_code == 404
    assert (
        client.post(f"{LIST}presets/{shared.pk}/", {"op": "rename", "name": "x"}).status_code == 404
    )
    assert FilterPreset.objects.filter(pk=shared.pk, name="Open work").exists()


def test_tab_counts_are_one_query_and_follow_visibility(convs, client):
    client.force_login(convs.org.op2)
    html = client.get(LIST + "?view=all").content.decode()
    assert 'Waiting for answer <span class="tab-count">1</span>' in html
    assert 'All <span class="tab-count">1</span>' in html


def test_typed_text_with_nul_characters_is_stored_without_them(convs, client):
    client.force_login(convs.org.admin)
    client.post(f"{LIST}presets/", {"name": "Night\x00 shift", "query": "status=waiting"})
    assert FilterPreset.objects.get().name == "Night shift"


def _offered_to_op1(org, count):
    line = f.line("Busy line", members=[org.op1])
    conn = f.connection(line, "api")
    for i in range(count):
        f.client_message(conn, f"busy-{i}", "hi", when=f.at(1000 + i * 10))


@pytest.mark.parametrize("viewer", ["op1", "supervisor"])
def test_tab_counts_cover_the_latest_window_and_say_so_beyond_it(org, client, settings, viewer):
    # op1 sees their own rows (counted from their participant rows); the supervisor of op1's
    # department sees the same conversations through every employee of the department.
    _offered_to_op1(org, 8)
    client.force_login(getattr(org, viewer))
    settings.CONVODESK = {**settings.CONVODESK, "TAB_COUNT_THRESHOLD": 5}
    html = client.get(LIST + "?view=all").content.decode()
    assert 'All <span class="tab-count">6+</span>' in html
    assert 'Waiting for answer <span class="tab-count">6+</span>' in html
    assert '<strong class="count-value">8</strong>' in html  # the total itself is exact
    settings.CONVODESK = {**settings.CONVODESK, "TAB_COUNT_THRESHOLD": 20}
    html = client.get(LIST + "?view=all").content.decode()
    assert 'All <span class="tab-count">8</span>' in html
