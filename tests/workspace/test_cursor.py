"""The socket cursor: each event id once, late commits inside the lag window still delivered."""

import pytest

from convodesk.conversations import outbox

pytestmark = pytest.mark.nodb


def test_without_a_lag_window_ids_at_or_below_the_last_one_are_never_sent_again(monkeypatch):
    monkeypatch.setattr(outbox, "lag_ids", lambda: 0)
    cursor = outbox.Cursor(3)
    assert cursor.take([2, 3, 4, 5]) == [4, 5]
    assert cursor.take([5, 6]) == [6]
    assert cursor.take([4]) == []


def test_with_a_lag_window_a_late_commit_below_the_last_id_is_sent_once(monkeypatch):
    monkeypatch.setattr(outbox, "lag_ids", lambda: 100)
    cursor = outbox.Cursor(10)
    assert cursor.take([11, 13]) == [11, 13]  # 12 still uncommitted
    assert cursor.take([11, 12, 13, 14]) == [12, 14]
    assert cursor.take([12, 13, 14]) == []
    assert cursor.take([9]) == []  # at or below the resume point: the client had it
