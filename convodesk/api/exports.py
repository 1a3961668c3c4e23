"""Excel export through the API: the same constant-memory export as the list's button."""

from __future__ import annotations

import tempfile
import uuid

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import create_model

from convodesk.conversations import export
from convodesk.conversations.columns import COLUMNS
from convodesk.conversations.filters import FILTER_PARAMS, scope_tz
from convodesk.conversations.jobs import ExportJob

from .conversations import FILTER_HELP, filter_params
from .errors import ApiError, Status, also, invalid, not_found

router = Router(tags=["export"])

ExportParams = create_model(
    "ExportParams",
    __base__=Schema,
    **{
        name: (
            str | None,
            Field(None, description=FILTER_HELP.get(name, "See SPEC filter parameters")),
        )
        for name in sorted(FILTER_PARAMS)
    },
    columns=(
        str | None,
        Field(None, description="Column keys, in order (default: your list's columns)"),
    ),
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_DOC = {
    "responses": {
        200: {
            "description": "The .xlsx file",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


class ExportStarted(Schema):
    export_id: uuid.UUID
    status: str


class ExportOut(Schema):
    id: uuid.UUID
    status: str
    progress: int
    total: int | None
    percent: int
    ready: bool
    error: str | None
    file_url: str | None


def _columns(request, user) -> list[str]:
    raw = request.GET.get("columns", "")
    if not raw.strip():
        return export.user_columns(user)
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in keys if k not in COLUMNS]
    if unknown:
        raise invalid({"columns": _("Unknown columns: %(keys)s.") % {"keys": ", ".join(unknown)}})
    return list(dict.fromkeys(keys))


@router.get(
    "/conversations/export.xlsx",
    response={202: ExportStarted},
    openapi_extra=XLSX_DOC,
    summary="Export every matching conversation to Excel (202 with a job id when large)",
)
def export_xlsx(request, params: Query[ExportParams]):
    user = request.auth
    filters = filter_params(request, extra=("columns",))
    keys = _columns(request, user)
    queryset, errors = export.export_queryset(user, filters)
    if errors:
        raise invalid(errors)
    if export.runs_in_background(export.count_for_export(queryset)):
        job = export.start_export(user, filters, keys)
        return Status(202, {"export_id": job.pk, "status": job.status})
    tz = scope_tz(user)
    target = tempfile.TemporaryFile(suffix=".xlsx")
    # In the employee's language, as the list's button and the background export write it (the
    # API's own messages follow the request's Accept-Language).
    with translation.override(user.language or translation.get_language()):
        export.write_xlsx(queryset, keys, tz, target)
    target.seek(0)
    return export.download(request, target, export.export_filename(user, tz))


def _job(request, export_id: uuid.UUID) -> ExportJob:
    job = ExportJob.objects.filter(pk=export_id, owner=request.auth).first()
    if job is None:
        raise not_found()
    return job


@router.get(
    "/exports/{export_id}", response=ExportOut, summary="The progress of a background export"
)
def export_status(request, export_id: uuid.UUID):
    job = _job(request, export_id)
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "ready": job.ready,
        "error": job.error or None,
        "file_url": reverse("api-v1:export_file", args=[job.pk]) if job.ready else None,
    }


@router.get(
    "/exports/{export_id}/file",
    openapi_extra={**XLSX_DOC, "responses": {**XLSX_DOC["responses"], **also(409)["responses"]}},
    summary="Download a finished export",
)
def export_file(request, export_id: uuid.UUID):
    job = _job(request, export_id)
    if not job.ready:
        raise ApiError(409, "not_ready", _("The export is not finished yet."))
    return export.download(request, open(job.path, "rb"), job.filename)  # noqa: SIM115
