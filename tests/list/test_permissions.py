"""Every path of the list screen obeys visible_to: allowed paths show exactly the allowed rows."""

import pytest

from .conftest import row_ids

LIST = "/contact-center/conversations/"


def _ids(convs, *names):
    return sorted(getattr(convs, n).pk for n in names)


@pytest.mark.parametrize(
    "viewer, expected",
    [
        ("op1", ["op1"]),
        ("op2", ["op2"]),
        ("supervisor", ["op1", "op2"]),  # the Sales tree: Sales and Sales East
        ("sup2", ["op3"]),  # Support's supervisor sees none of Sales' conversations
        ("admin", ["op1", "op2", "op3", "unassigned"]),
    ],
)
def test_the_list_shows_each_viewer_exactly_the_conversations_they_may_see(
    convs, client, viewer, expected
):
    user = convs.sup2 if viewer == "sup2" else getattr(convs.org, viewer)
    client.force_login(user)
    response = client.get(LIST + "?view=all")
    assert response.status_code == 200
    assert sorted(row_ids(response)) == _ids(convs, *expected)
    # The "All" tab count is the same set, never more.
    assert f'All <span class="tab-count">{len(expected)}</span>' in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in_on_every_path(convs, client):
    pk = convs.op1.pk
    for method, url in [
        ("get", LIST),
        ("get", f"{LIST}{pk}/history/"),
        ("post", f"{LIST}{pk}/end/"),
        ("post", f"{LIST}{pk}/spam/"),
        ("get", f"{LIST}{pk}/rate/"),
        ("get", f"{LIST}{pk}/start/"),
        ("post", f"{LIST}presets/"),
        ("post", f"{LIST}columns/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_history_of_a_hidden_conversation_is_not_found(convs, client):
    client.force_login(convs.org.op1)
    assert client.get(f"{LIST}{convs.op1.pk}/history/").status_code == 200
    assert client.get(f"{LIST}{convs.op2.pk}/history/").status_code == 404
    assert client.get(f"{LIST}999999/history/").status_code == 404
    client.force_login(convs.sup2)
    assert client.get(f"{LIST}{convs.op1.pk}/history/").status_code == 404
    client.force_login(convs.org.supervisor)
    assert client.get(f"{LIST}{convs.op2.pk}/history/").status_code == 200


def test_row_actions_on_hidden_conversations_leak_nothing(convs, client):
    client.force_login(convs.org.op1)
    for url in (
        f"{LIST}{convs.op2.pk}/end/",
        f"{LIST}{convs.op2.pk}/spam/",
        f"{LIST}{convs.op2.pk}/rate/",
    ):
        assert client.post(url).status_code == 404
    assert client.get(f"{LIST}{convs.op2.pk}/start/").status_code == 404
    convs.op2.refresh_from_db()
    assert convs.op2.status < 50


def test_a_filter_cannot_widen_what_a_viewer_sees(convs, client):
    client.force_login(convs.org.op1)
    response = client.get(LIST + f"?id={convs.op2.pk}")
    assert row_ids(response) == []
    response = client.get(LIST + f"?responsible={convs.org.op2.pk}")
    assert row_ids(response) == []
