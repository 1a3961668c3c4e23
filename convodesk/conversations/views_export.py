"""The list's Export button: an inline download up to the threshold, a tracked job above it."""

from __future__ import annotations

import datetime as dt
import tempfile
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from . import export
from .columns import COLUMNS
from .filters import scope_tz
from .jobs import ExportJob, JobStatus
from .services import NotAllowed
from .views.params import normalize

NOTICE_WINDOW = dt.timedelta(days=1)


def list_params(request) -> dict[str, str]:
    """The list URL's state in the filter grammar, exactly as the grid reads it."""
    return normalize(request.GET)


def list_url(query: str = "") -> str:
    base = reverse("conversations:list")
    return f"{base}?{query}" if query else base


def _refuse(request):
    raise PermissionDenied(_("You are not allowed to export conversations."))


@login_required
@require_http_methods(["GET", "POST"])
def export_conversations(request):
    """GET: the file itself, or (above the threshold) a page offering a background export.
    POST: start that background export."""
    if not export.can_export(request.user):
        _refuse(request)
    params = list_params(request)
    try:
        queryset, errors = export.export_queryset(request.user, params)
    except NotAllowed:
        _refuse(request)
    columns = export.user_columns(request.user)
    query = request.GET.urlencode()
    if errors:
        return render(
            request,
            "conversations/export_error.html",
            {"errors": errors, "back_url": list_url(query)},
            status=400,
        )
    if request.method == "POST":
        job = export.start_export(request.user, params, columns)
        return HttpResponseRedirect(reverse("conversations:export_job", args=[job.pk]))
    count = export.count_for_export(queryset)
    if export.runs_in_background(count):
        return render(
            request,
            "conversations/export_confirm.html",
            {
                "threshold": settings.CONVODESK["EXPORT_BACKGROUND_ROWS"],
                "columns": [COLUMNS[k] for k in columns],
                "params": params,
                "query": query,
                "back_url": list_url(query),
            },
        )
    tz = scope_tz(request.user)
    settings.EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    target = tempfile.TemporaryFile(dir=settings.EXPORT_ROOT, suffix=".xlsx")  # gone once closed
    export.write_xlsx(queryset, columns, tz, target)
    target.seek(0)
    return export.download(request, target, export.export_filename(tz=tz))


def _own_job(request, job_id) -> ExportJob:
    """Only the owner's jobs exist for them (404 otherwise), and only while they may export."""
    if not export.can_export(request.user):
        _refuse(request)
    job = ExportJob.objects.filter(pk=job_id, owner=request.user).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_GET
def export_job(request, job_id):
    job = _own_job(request, job_id)
    context = {
        "job": job,
        "columns": [COLUMNS[k] for k in job.columns if k in COLUMNS],
        "back_url": list_url(urlencode(job.params)),
    }
    if request.htmx:
        return render(request, "conversations/export_progress.html", context)
    return render(request, "conversations/export_job.html", context)


@login_required
@require_GET
def export_download(request, job_id):
    job = _own_job(request, job_id)
    if job.status != JobStatus.DONE or not job.ready:
        raise Http404
    if job.downloaded_at is None:
        ExportJob.objects.filter(pk=job.pk, downloaded_at__isnull=True).update(
            downloaded_at=timezone.now()
        )
    return export.download(request, open(job.path, "rb"), job.filename)  # noqa: SIM115


@login_required
@require_GET
def export_notice(request):
    """The toolbar's chip for the user's latest background export of the last day: running (it
    polls), ready (a download link, until downloaded) or failed; nothing otherwise."""
    job = None
    if export.can_export(request.user):
        job = (
            ExportJob.objects.filter(
                owner=request.user,
                created_at__gte=timezone.now() - NOTICE_WINDOW,
                downloaded_at__isnull=True,
            )
            .order_by("-created_at")
            .first()
        )
    return render(request, "conversations/export_notice.html", {"job": job})


@login_required
@require_GET
def export_jobs(request):
    if not export.can_export(request.user):
        _refuse(request)
    jobs = ExportJob.objects.filter(owner=request.user).order_by("-created_at")[:50]
    return render(request, "conversations/export_list.html", {"jobs": jobs})
