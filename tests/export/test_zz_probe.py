import time, datetime as dt
import pytest
from convodesk.conversations.models import Conversation
from convodesk.conversations.columns import DEFAULT_COLUMNS
from convodesk.conversations import export
from tests.export.builders import many_closed
from tests.export.test_export_memory import peak_growth, MB

def test_probe(org, tmp_path):
    t=time.time(); many_closed(10_000, org.line, org.conn); print("create10k", time.time()-t)
    qs = Conversation.objects.order_by("-started_at","-id")
    t=time.time(); export.write_xlsx(qs, DEFAULT_COLUMNS, dt.UTC, tmp_path/"a.xlsx"); print("plain10k", time.time()-t)
    t=time.time(); r=peak_growth(qs, tmp_path/"b.xlsx"); print("traced10k", time.time()-t, r[1]/MB)
