from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .columns import COLUMNS, DEFAULT_COLUMNS, related_for
from .filters import ConversationFilter
from .models import Conversation
from .paging import bounded_count


@login_required
def conversation_list(request):
    flt = ConversationFilter(request.GET)
    keys = DEFAULT_COLUMNS
    rows, count = [], None
    if flt.is_valid():
        qs = flt.filter(Conversation.objects.visible_to(request.user, "view"))
        count = bounded_count(qs)
        rows = list(qs.select_related(*related_for(keys)).order_by(*flt.ordering())[:50])
    columns = [COLUMNS[k] for k in keys]
    table = [(conv, [c.render_html(conv) for c in columns]) for conv in rows]
    return render(request, "conversations/list.html", {
        "filter": flt, "columns": columns, "table": table, "count": count,
    })
