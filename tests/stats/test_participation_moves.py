"""Participation follows a conversation to the closed figures and to another open channel.

A supervisor who narrows the statistics to closed conversations, or to one open channel, reads
the per-employee figures from Participation alone (issue 23 item 5). So what an employee did in a
conversation has to be counted under its current line and its open or closed state: the services
move the conversation's whole figures when it closes, reopens or is transferred to another line.
"""

from convodesk.conversations import services
from convodesk.stats import rollups
from convodesk.stats.models import Participation

from .. import factories as f

DAY = rollups.PARTICIPATION_SPANS[0]


def _figures(employee) -> dict[tuple, dict]:
    """{(line, closed): non-zero figures} of one employee's one-day rows, summed over the
    shards (a key's figures are the sum of its rows: `rollups.shard`)."""
    found: dict[tuple, dict] = {}
    for row in Participation.objects.filter(span=DAY, employee_id=employee.pk).values():
        sums = found.setdefault((row["line_id"], row["closed"]), {})
        for c in rollups.PARTICIPATION_COLUMNS:
            sums[c] = sums.get(c, 0) + row[c]
    return {
        key: {c: v for c, v in sums.items() if v}
        for key, sums in found.items()
        if any(sums.values())
    }


def _rows() -> dict[tuple, tuple]:
    """Every key's figures, summed over its shards, where any is not zero."""
    found: dict[tuple, list] = {}
    for p in Participation.objects.values():
        sums = found.setdefault(
            tuple(p[k] for k in rollups.PARTICIPATION_KEY), [0] * len(rollups.PARTICIPATION_COLUMNS)
        )
        for i, c in enumerate(rollups.PARTICIPATION_COLUMNS):
            sums[i] += p[c]
    return {key: tuple(sums) for key, sums in found.items() if any(sums)}


def _as_rebuilt() -> bool:
    """The services' rows equal the rows a rebuild computes from the conversations."""
    kept = _rows()
    rollups.rebuild()
    return _rows() == kept


def test_an_employees_work_moves_to_the_closed_figures_when_the_conversation_closes(org):
    org.line.reopen_window_minutes = 60
    org.line.save()
    conversation = f.client_message(org.conn, "c-1", "Hello", when=f.at(0)).conversation
    services.take(conversation.pk, f.act(org.op1), now=f.at(10))
    services.reply(conversation.pk, f.act(org.op1), "Hi", now=f.at(40))
    worked = {"assigned": 1, "taken": 1, "answered": 1, "reply_n": 1, "reply_sum": 40}
    worked["reply_bh_sum"] = _figures(org.op1)[(org.line.pk, False)]["reply_bh_sum"]
    assert _figures(org.op1) == {(org.line.pk, False): worked}

    services.close(conversation.pk, f.act(org.op1), now=f.at(60))
    assert _figures(org.op1) == {(org.line.pk, True): worked}
    assert _as_rebuilt()

    # The client writes again within the line's reopen window: open again, figures with it.
    again = f.client_message(org.conn, "c-1", "One more thing", when=f.at(120))
    assert again.conversation.pk == conversation.pk and again.conversation.is_open
    assert set(_figures(org.op1)) == {(org.line.pk, False)}
    assert _as_rebuilt()


def test_an_employees_work_moves_with_the_conversation_to_another_open_channel(org):
    other = f.line("Returns", members=[org.op1, org.op2])
    conversation = f.client_message(org.conn, "c-2", "Hello", when=f.at(0)).conversation
    services.take(conversation.pk, f.act(org.op1), now=f.at(10))
    services.reply(conversation.pk, f.act(org.op1), "Let me pass you on", now=f.at(30))
    services.transfer(conversation.pk, f.act(org.admin), to_line=other, now=f.at(50))
    assert set(_figures(org.op1)) == {(other.pk, False)}
    assert _figures(org.op1)[(other.pk, False)]["reply_n"] == 1
    assert _as_rebuilt()
