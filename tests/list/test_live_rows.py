"""The rows endpoint behind the list's live updates: same filter, same visibility rule."""

from .conftest import row_ids


def rows(client, query):
    return client.get(f"/contact-center/conversations/rows/?{query}")


def test_live_rows_return_only_rows_the_viewer_may_see(client, convs):
    client.force_login(convs.org.op1)
    ids = f"{convs.op1.pk},{convs.op2.pk},{convs.op3.pk}"
    assert row_ids(rows(client, f"ids={ids}")) == [convs.op1.pk]


def test_live_rows_follow_the_pages_filter(client, convs):
    client.force_login(convs.org.admin)
    ids = f"{convs.op1.pk},{convs.op2.pk},{convs.op3.pk}"
    assert set(row_ids(rows(client, f"ids={ids}"))) == {convs.op1.pk, convs.op2.pk, convs.op3.pk}
    assert row_ids(rows(client, f"ids={ids}&status=answered")) == [convs.op1.pk]


def test_live_rows_with_a_bad_filter_or_no_ids_answer_nothing(client, convs):
    client.force_login(convs.org.admin)
    assert rows(client, f"ids={convs.op1.pk}&status=bogus").content == b""
    assert rows(client, "ids=").content == b""


def test_live_rows_need_a_login(client, convs):
    assert rows(client, f"ids={convs.op1.pk}").status_code == 302
