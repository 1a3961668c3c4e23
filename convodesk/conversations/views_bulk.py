"""Bulk actions from the list: the selection arrives from the grid's form (id="bulk-form")."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from . import bulk
from .columns import prefetch_for, related_for, with_crm_links
from .jobs import BulkJob
from .models import Conversation
from .views.params import normalize
from .views.prefs import user_column_keys
from .views.rows import build_rows, row_texts
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
            raise bulk.InvalidBulk(
                {"action": _("Choose close, mark as spam, transfer, or add or remove a tag.")}
            )
        choice = bulk.parse_choice(action, request.POST)
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
            closed_too=action in bulk.TAG_ACTIONS,
        )
        job = bulk.start_bulk(
            request.user,
            action,
            selection,
            target_line=target_line,
            target_employee=target_employee,
            params=params if all_matching else {},
            back_query=query,
            choice=choice,
        )
    except bulk.InvalidBulk as exc:
        if request.htmx:
            text = " ".join(str(m) for m in exc.errors.values())
            return render(
                request,
                "conversations/_bulk_response.html",
                {"toast": text, "level": "error", "rows": []},
                status=400,
            )
        return render(
            request,
            "conversations/bulk_error.html",
            {"errors": exc.errors, "back_url": list_url(query)},
            status=400,
        )
    job_url = reverse("conversations:bulk_job", args=[job.pk])
    if request.htmx:
        return _in_place(request, job, job_url, all_matching)
    return HttpResponseRedirect(job_url)


def _in_place(request, job, job_url: str, all_matching: bool):
    """The grid's answer to a bulk action: the changed rows in place and a toast, as single
    actions do; a job still running in the background opens its progress page instead."""
    if not job.finished:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = job_url
        return response
    keys = user_column_keys(request.user)
    rows = []
    if not all_matching:
        ids = list(job.ids)
        qs = (
            Conversation.objects.visible_to(request.user, "view")
            .filter(pk__in=ids)
            .select_related(*related_for(keys))
        )
        if "crm_record" in keys:
            qs = with_crm_links(qs)
        qs = prefetch_for(qs, keys)
        rows = build_rows(request.user, list(qs), keys)
    response = render(
        request,
        "conversations/_bulk_response.html",
        {
            "toast": bulk_summary(job),
            "level": "error" if job.status == "failed" or not job.succeeded else "success",
            "job": job,
            "job_url": job_url,
            "rows": rows,
            "oob": True,
            "t": row_texts(),
        },
    )
    response["HX-Trigger"] = json.dumps({"convodesk:bulk-done": {"reload": all_matching}})
    return response


def bulk_summary(job) -> str:
    """What the toast says: how many changed, could not be changed, were left out."""
    n = job.succeeded
    if job.action == "close":
        done = ngettext("%(n)s conversation closed.", "%(n)s conversations closed.", n)
    elif job.action == "spam":
        done = ngettext(
            "%(n)s conversation marked as spam.", "%(n)s conversations marked as spam.", n
        )
    elif job.action == "tag":
        done = ngettext("%(n)s conversation tagged.", "%(n)s conversations tagged.", n)
    elif job.action == "untag":
        done = ngettext(
            "A tag was removed from %(n)s conversation.",
            "A tag was removed from %(n)s conversations.",
            n,
        )
    else:
        done = ngettext("%(n)s conversation transferred.", "%(n)s conversations transferred.", n)
    parts = [done % {"n": n} if n else _("No conversation was changed.")]
    failed = len(job.failures or [])
    if failed:
        parts.append(
            ngettext("%(n)s could not be changed", "%(n)s could not be changed", failed)
            % {"n": failed}
        )
    if job.skipped_count:
        parts.append(
            ngettext("%(n)s left out", "%(n)s left out", job.skipped_count)
            % {"n": job.skipped_count}
        )
    return " · ".join(parts)


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


@login_required
@require_GET
def bulk_labels(request):
    """The tags and close reasons of the bulk menus, loaded when a menu first opens."""
    from .models import Tag

    what = request.GET.get("what", "")
    if what == "reasons":
        options = [("", _("No reason"))] + [(n, n) for n in bulk.close_reason_names()]
    else:
        options = [("", _("Choose a tag"))] + list(
            Tag.objects.filter(archived=False).order_by("name").values_list("pk", "name")
        )
    return render(request, "conversations/bulk_options.html", {"options": options})
