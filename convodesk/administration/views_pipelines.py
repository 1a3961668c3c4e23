"""Settings › Pipelines: the deal pipelines and their stages (issue 20, item 5).

Writes go through `convodesk.crm.pipelines`, which keeps each pipeline's won and lost stages,
refuses to drop a stage or pipeline that still holds deals, and records the audit log.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from convodesk.crm import pipelines as service
from convodesk.crm.models import Pipeline
from convodesk.fielderrors import FieldErrors

from .access import settings_required
from .forms_pipelines import NewPipelineForm, PipelineForm

SECTION = "administration:pipelines"


@require_http_methods(["GET", "POST"])
@settings_required
def pipeline_list(request):
    form = NewPipelineForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                pipeline = service.create_pipeline(request.user, form.cleaned_data["name"])
            except FieldErrors as exc:
                form.add_error("name", " ".join(exc.errors.values()))
            else:
                messages.success(request, _("Pipeline created with the standard stages."))
                return redirect("administration:pipeline", pk=pipeline.pk)
        status = 400
    Pipeline.default()  # the standard pipeline exists before anyone edits it
    rows = Pipeline.objects.annotate(deal_count=Count("deals")).prefetch_related("stages")
    return render(
        request,
        "administration/pipelines/list.html",
        {"rows": rows, "form": form, "section": SECTION},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@settings_required
def pipeline_edit(request, pk):
    pipeline = get_object_or_404(Pipeline, pk=pk)
    stages = pipeline.ordered_stages()
    counts = dict(
        pipeline.deals.order_by().values("stage").annotate(n=Count("id")).values_list("stage", "n")
    )
    form = PipelineForm(
        request.POST or None, initial={"name": pipeline.name, "is_default": pipeline.is_default}
    )
    errors = {}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            rows = [
                {
                    "id": s.pk,
                    "name": request.POST.get(f"stage-{s.pk}-name", s.name),
                    "position": request.POST.get(f"stage-{s.pk}-position", s.position),
                    "delete": bool(request.POST.get(f"stage-{s.pk}-delete")),
                }
                for s in stages
            ]
            for row in rows:
                try:
                    row["position"] = int(row["position"])
                except (TypeError, ValueError):
                    errors[f"stage-{row['id']}"] = _("The position is a number.")
            if not errors:
                try:
                    service.update_pipeline(
                        request.user,
                        pipeline.pk,
                        name=form.cleaned_data["name"],
                        is_default=form.cleaned_data["is_default"],
                        stages=rows,
                        new_stage=form.cleaned_data["new_stage"],
                    )
                except FieldErrors as exc:
                    errors = exc.errors
                    for key in ("name", "new_stage"):
                        if key in errors:
                            form.add_error(key, errors.pop(key))
                else:
                    messages.success(request, _("Saved."))
                    return redirect("administration:pipeline", pk=pipeline.pk)
    entries = [
        {
            "stage": s,
            "deals": counts.get(s.code, 0),
            "error": errors.get(f"stage-{s.pk}", ""),
            "name": request.POST.get(f"stage-{s.pk}-name", s.name)
            if request.method == "POST"
            else s.name,
        }
        for s in stages
    ]
    return render(
        request,
        "administration/pipelines/edit.html",
        {
            "pipeline": pipeline,
            "form": form,
            "entries": entries,
            "general_error": errors.get("__all__", ""),
            "section": SECTION,
        },
        status=status,
    )


@require_POST
@settings_required
def pipeline_delete(request, pk):
    pipeline = get_object_or_404(Pipeline, pk=pk)
    try:
        service.delete_pipeline(request.user, pipeline.pk)
    except FieldErrors as exc:
        messages.error(request, " ".join(exc.errors.values()))
        return redirect("administration:pipeline", pk=pipeline.pk)
    messages.success(request, _("Pipeline deleted."))
    return redirect("administration:pipelines")
