import time, datetime as dt
import xlsxwriter
from django.utils import timezone
from convodesk.conversations.models import Conversation
from convodesk.conversations.columns import DEFAULT_COLUMNS, COLUMNS, related_for
from convodesk.conversations import export
from tests.export.builders import many_closed

def test_probe(org, tmp_path):
    many_closed(20_000, org.line, org.conn)
    qs = Conversation.objects.order_by("-started_at","-id")
    cols=[COLUMNS[k] for k in DEFAULT_COLUMNS]
    for rep in range(2):
        t=time.perf_counter(); export.write_xlsx(qs, DEFAULT_COLUMNS, dt.UTC, tmp_path/"a.xlsx"); ours=time.perf_counter()-t
        with timezone.override(dt.UTC):
            rows=[[c.excel_value(x) for c in cols] for x in qs.select_related(*related_for(DEFAULT_COLUMNS))]
        t=time.perf_counter()
        wb=xlsxwriter.Workbook(str(tmp_path/"b.xlsx"),{"constant_memory":True})
        ws=wb.add_worksheet(); df=wb.add_format({"num_format":"yyyy-mm-dd hh:mm"})
        for r,row in enumerate(rows,1):
            for c,v in enumerate(row):
                if v is None: continue
                if isinstance(v, dt.datetime): ws.write_datetime(r,c,v,df)
                elif isinstance(v,(int,float)): ws.write_number(r,c,v)
                else: ws.write_string(r,c,v)
        wb.close(); floor=time.perf_counter()-t
        print(f"ours {ours:.2f}s floor {floor:.2f}s ratio {ours/floor:.2f}")
