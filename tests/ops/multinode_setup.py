"""The organisation of the multi-node test, made inside the installation (`manage.py shell`):
an operator (password and API token), an open channel with a website chat that admits the test's
origin, and conversations whose auto-close falls due while both timers loops run. Prints JSON."""

from __future__ import annotations

import datetime as dt
import json
import sys


def main(due_in_seconds: float, timer_conversations: int) -> None:
    from django.utils import timezone

    from convodesk.api import tokens
    from convodesk.conversations import services
    from convodesk.conversations.models import Conversation
    from tests import factories as f

    operator = f.employee("nodeop", superuser=True, display_name="Node Operator")
    line = f.line("Multi-node", members=[operator])
    widget = f.connection(
        line,
        "livechat",
        name="Website",
        allowed_origins=["https://shop.example"],
        # One visitor typing faster than the default limit allows (8 per 10 s), on purpose.
        config={"per_token": 1000, "per_ip": 1000},
    )
    api = f.connection(line, "api", name="Timers")
    _row, token = tokens.issue(operator, operator, name="multinode")
    due = timezone.now() + dt.timedelta(seconds=due_in_seconds)
    timed = []
    for i in range(timer_conversations):
        conversation = f.client_message(api, client=f"timed-{i}", text="Hello").conversation
        services.reply(conversation.pk, f.act(operator), "Anything else?")
        timed.append(conversation.pk)
    Conversation.objects.filter(pk__in=timed).update(auto_close_at=due)
    json.dump(
        {
            "widget_key": widget.public_key,
            "token": token,
            "timed": timed,
            "operator": operator.pk,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
