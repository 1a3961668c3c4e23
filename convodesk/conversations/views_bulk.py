"""Bulk actions from the list: the selection arrives from the grid's form (id="bulk-form")."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import bulk
from .jobs import BulkJob
from .views.params import normalize
from .views_export import list_url


def _truthy(value) -> bool:
    return str(value or "").lower() in ("1", "true", "on", "yes")


def posted_filter(request) -> tuple[dict[str, str], str]:
    """The grid's filter and sort as the bulk form posts them (filter_query + sort), else the URL's."""
    raw = request.POST.get("filter_query")
    query = QueryDict(raw if raw is not None else request.GET.urlencode(), mutable=True)
    sort = request.POST.get("sort", "")
    if sort and "sort" not in query:
        query["sort"] = sort
    return normalize(query), query.urlencode()


@login_required
@require_POST
def bulk_action(request):
    """Act on the selected rows (POST ids, several) or on all rows matching the list's filter."""
    params, query = posted_filter(request)
    action = request.POST.get("action", "")
    try:
        if action not in bulk.ACTIONS:
            raise bulk.InvalidBulk({"action": _("Choose close, mark as spam or transfer.")})
        target_line, target_employee = bulk.parse_target(
            action, request.POST.get("transfer_to", "")
        )
        all_matching = _truthy(request.POST.get("all_matching"))
        ids = [] if all_matching else bulk.parse_ids(request.POST.getlist("ids"))
        selection = bulk.select(
            request.user,
            ids=ids,
            all_matching=all_matching,
            params=params,
            target_line=target_line,
        )
        job = bulk.start_bulk(
            request.user,
            action,
            selection,
            target_line=target_line,
            target_employee=target_employee,
            params=params if all_matching else {},
            back_query=query,
        )
    except bulk.InvalidBulk as exc:
        return render(
            request,
            "conversations/bulk_error.html",
            {"errors": exc.errors, "back_url": list_url(query)},
            status=400,
        )
    return HttpResponseRedirect(reverse("conversations:bulk_job", args=[job.pk]))


@login_required
@require_GET
def bulk_job(request, job_id):
    job = (
        BulkJob.objects.filter(pk=job_id, owner=request.user)
        .select_related("target_line", "target_employee")
        .first()
    )
    if job is None:
        raise Http404
    context = {"job": job, "back_url": list_url(job.back_query)}
    if request.htmx:
        return render(request, "conversations/bulk_progress.html", context)
    return render(request, "conversations/bulk_job.html", context)


@login_required
@require_GET
def bulk_targets(request):
    """The transfer choices, loaded when the Transfer menu first opens (keeps the list page lean)."""
    return render(
        request,
        "conversations/bulk_targets.html",
        {
            "lines": bulk.transfer_lines(),
            "employees": bulk.transfer_employees(),
        },
    )
