"""Import screens (crm/imports.py does the work): upload, column mapping with a preview,
progress of the background job, and the per-row error report. An import is its owner's
alone: anyone else gets what a missing one gets."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from convodesk.conversations.services import NotAllowed
from convodesk.fielderrors import FieldErrors

from . import imports
from .models import CrmImport
from .services import may_create
from .views import _employee, _tabs


def _own(request, pk) -> CrmImport:
    job = CrmImport.objects.filter(pk=pk, owner=request.user).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_http_methods(["GET", "POST"])
def imports_home(request):
    user = _employee(request)
    if not may_create(user):
        raise PermissionDenied
    errors = {}
    kind = request.POST.get("kind") or request.GET.get("kind") or "contact"
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors = {"file": _("Choose a .csv or .xlsx file.")}
        else:
            try:
                job = imports.start(user, kind, upload)
            except NotAllowed:
                raise PermissionDenied from None
            except FieldErrors as exc:
                errors = exc.errors
            else:
                return redirect("crm:import", pk=job.pk)
    return render(
        request,
        "crm/imports.html",
        {
            "jobs": CrmImport.objects.filter(owner=user)[:20],
            "errors": errors,
            "kind": kind if kind in imports.FIELDS else "contact",
            "fields": imports.FIELDS,
            "segment": "contacts" if kind != "company" else "companies",
            "tabs": _tabs(),
        },
        status=400 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request, pk):
    _employee(request)
    job = _own(request, pk)
    errors = {}
    rows = []
    if request.method == "POST" and job.status == CrmImport.Status.MAPPING:
        mapping = {str(i): request.POST.get(f"col-{i}", "")[:20] for i in range(len(job.headers))}
        try:
            imports.set_mapping(job, mapping, request.POST.get("duplicates", "skip"))
            if request.POST.get("action") == "start":
                imports.queue(request.user, job)
                return redirect("crm:import", pk=job.pk)
        except FieldErrors as exc:
            errors = exc.errors
    if job.status == CrmImport.Status.MAPPING and not errors:
        try:
            rows = imports.preview(job)
        except Exception:  # noqa: BLE001 - the file was readable at upload; say so, never 500
            errors = {"file": _("This file cannot be read as CSV or .xlsx.")}
    job.refresh_from_db()
    columns = [
        (str(i), header, job.mapping.get(str(i), "")) for i, header in enumerate(job.headers)
    ]
    fields = list(imports.FIELDS[job.kind].items())
    return render(
        request,
        "crm/import.html",
        {
            "job": job,
            "columns": columns,
            "fields": fields,
            "preview": [(r, [r.data.get(f, "") for f, _label in fields]) for r in rows],
            "errors": errors,
            "running": job.status in (CrmImport.Status.QUEUED, CrmImport.Status.RUNNING),
            "percent": int(100 * job.processed / job.total) if job.total else 0,
            "segment": "contacts" if job.kind == "contact" else "companies",
            "tabs": _tabs(),
        },
        status=400 if errors else 200,
    )


@login_required
@require_GET
def import_report(request, pk):
    _employee(request)
    job = _own(request, pk)
    path = Path(job.report_path) if job.report_path else None
    if path is None or not path.exists():
        raise Http404
    return FileResponse(
        open(path, "rb"), as_attachment=True, filename=f"import-{job.pk}-report.csv"
    )
