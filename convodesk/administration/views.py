"""The audit log screen: every settings change, newest first, filterable by object."""

from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from convodesk.audit.models import AuditEntry
from convodesk.conversations.normalize import clean_text

from .access import settings_required
from .sections import SECTIONS

PAGE_SIZE = 50


@require_GET
@settings_required
def index(request):
    return redirect(SECTIONS[0][0])


@require_GET
@settings_required
def audit_log(request):
    entries = AuditEntry.objects.select_related("actor")
    object_type = clean_text(request.GET.get("object", ""), 50)
    if object_type:
        entries = entries.filter(object_type=object_type)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    types = AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct()
    return render(
        request,
        "administration/audit.html",
        {
            "page": page,
            "object_type": object_type,
            "types": sorted(types),
            "section": "administration:audit",
        },
    )
