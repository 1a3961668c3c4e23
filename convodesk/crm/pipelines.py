"""Writes of pipelines and their stages (Settings › Pipelines), each recorded in the audit log.

Every pipeline keeps exactly one won and one lost stage (codes "won" and "lost"); open stages
are added, renamed, reordered and removed here. A stage that still holds deals is not removed
(move them first), nor a pipeline with deals, nor the last pipeline.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from convodesk.audit.log import record, snapshot
from convodesk.fielderrors import FieldErrors

from .models import CLOSED_STAGES, Deal, Pipeline, PipelineStage


def _state(pipeline: Pipeline) -> dict:
    return {
        **snapshot(pipeline, ["name", "is_default", "position"]),
        "stages": [
            {"code": s.code, "name": s.name, "position": s.position, "outcome": s.outcome}
            for s in pipeline.stages.order_by("position", "id")
        ],
    }


def _name(value: str, field: str = "name") -> str:
    value = " ".join((value or "").replace("\x00", "").split())[:100]
    if not value:
        raise FieldErrors({field: _("Enter a name.")})
    return value


def _new_code(pipeline: Pipeline, name: str) -> str:
    base = (slugify(name)[:14] or "stage").strip("-") or "stage"
    if base in CLOSED_STAGES:
        base = f"{base}-open"
    taken = set(pipeline.stages.values_list("code", flat=True))
    code, n = base, 2
    while code in taken:
        code = f"{base[:14]}-{n}"
        n += 1
    return code


def create_pipeline(user, name: str) -> Pipeline:
    with transaction.atomic():
        pipeline = Pipeline.objects.create(
            name=_name(name),
            position=(
                Pipeline.objects.order_by("-position").values_list("position", flat=True).first()
                or 0
            )
            + 1,
            is_default=not Pipeline.objects.exists(),
        )
        pipeline.add_standard_stages()
        record(user, "crm.pipeline.create", pipeline, after=_state(pipeline))
        return pipeline


def update_pipeline(
    user, pipeline_id: int, *, name: str, is_default: bool, stages: list[dict], new_stage: str = ""
) -> Pipeline:
    """`stages`: {"id", "name", "position", "delete"} for stages of this pipeline."""
    with transaction.atomic():
        pipeline = Pipeline.objects.select_for_update().get(pk=pipeline_id)
        before = _state(pipeline)
        pipeline.name = _name(name)
        if is_default and not pipeline.is_default:
            Pipeline.objects.filter(is_default=True).update(is_default=False)
            pipeline.is_default = True
        pipeline.save()
        current = {s.pk: s for s in pipeline.stages.all()}
        errors = {}
        for row in stages:
            stage = current.get(row["id"])
            if stage is None:
                continue
            key = f"stage-{stage.pk}"
            if row.get("delete"):
                if stage.outcome != PipelineStage.Outcome.OPEN:
                    errors[key] = _("The won and lost stages stay.")
                    continue
                if Deal.objects.filter(pipeline=pipeline, stage=stage.code).exists():
                    errors[key] = _("“%(name)s” still holds deals: move them first.") % {
                        "name": stage.name
                    }
                    continue
                if pipeline.stages.filter(outcome="open").count() <= 1:
                    errors[key] = _("A pipeline needs at least one open stage.")
                    continue
                stage.delete()
                continue
            try:
                stage.name = _name(row.get("name", ""), key)
            except FieldErrors as exc:
                errors.update(exc.errors)
                continue
            stage.position = max(0, min(int(row.get("position") or 0), 10_000))
            stage.save()
        if new_stage.strip():
            name = _name(new_stage, "new_stage")
            last = pipeline.stages.filter(outcome="open").order_by("-position").first()
            PipelineStage.objects.create(
                pipeline=pipeline,
                code=_new_code(pipeline, name),
                name=name,
                position=(last.position + 1) if last else 0,
            )
        if errors:
            transaction.set_rollback(True)
            raise FieldErrors(errors)
        record(user, "crm.pipeline.update", pipeline, before=before, after=_state(pipeline))
        return pipeline


def delete_pipeline(user, pipeline_id: int) -> None:
    with transaction.atomic():
        pipeline = Pipeline.objects.select_for_update().get(pk=pipeline_id)
        if Deal.objects.filter(pipeline=pipeline).exists():
            raise FieldErrors({"__all__": _("This pipeline still holds deals.")})
        if Pipeline.objects.count() <= 1:
            raise FieldErrors({"__all__": _("The last pipeline stays.")})
        before = _state(pipeline)
        record(user, "crm.pipeline.delete", pipeline, before=before)
        was_default = pipeline.is_default
        pipeline.delete()
        if was_default:
            first = Pipeline.objects.first()
            if first is not None:
                first.is_default = True
                first.save(update_fields=["is_default"])
