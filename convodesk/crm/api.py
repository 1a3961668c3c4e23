"""CRM records over the REST API: mounted by the API at /api/v1/crm (token auth comes from the API).

Reads and edits go through the same forms as the cards, so the API and the UI accept and refuse
the same things. Records obey the same CRM rule as the cards (crm/visibility.py), for employee and
integration tokens alike: a hidden record is 404 like a missing one, a visible record the token's
user may not edit is 403. Responses carry no conversations: those are read through the
conversation endpoints, which apply `visible_to`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.forms.models import model_to_dict
from django.utils.translation import gettext as _
from ninja import Body, Field, Query, Router, Schema

from convodesk.api.errors import ApiError, also, invalid, not_found
from convodesk.api.schemas import DateTime, Input, OptionalDateTime, Partial
from convodesk.conversations.columns import crm_url

from . import lists, services
from . import merge as merging
from .forms import FORMS
from .models import MODELS, TYPE_BY_SEGMENT, Company, Contact, CrmMerge, Deal, Lead
from .views import search_records
from .visibility import record_for

router = Router(tags=["crm"])

MAX_ID = 2**62
# API field -> form field, where they differ
FORM_NAMES = {
    "responsible_id": "responsible",
    "company_id": "company",
    "contact_id": "contact",
    "pipeline_id": "pipeline",
}
EDITABLE = {
    kind: [
        next((api for api, form in FORM_NAMES.items() if form == name), name)
        for name in form_class.base_fields
    ]
    for kind, form_class in FORMS.items()
}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def record_out(record) -> dict[str, Any]:
    common = {
        "id": record.pk,
        "type": record.entity_type,
        "title": record.display_title,
        "url": crm_url(record.entity_type, record.pk),
    }
    if isinstance(record, Contact):
        specific = {
            "name": record.name,
            "company_id": record.company_id,
            "responsible_id": record.responsible_id,
            "phones": [p.value for p in record.phones.all()],
            "emails": [e.value for e in record.emails.all()],
            "comment": record.comment,
        }
    elif isinstance(record, Company):
        specific = {
            "phone": record.phone,
            "email": record.email,
            "website": record.website,
            "responsible_id": record.responsible_id,
            "comment": record.comment,
        }
    elif isinstance(record, Lead):
        specific = {
            "status": record.status,
            "source": record.source,
            "line_id": record.line_id,
            "name": record.name,
            "company_title": record.company_title,
            "phone": record.phone,
            "email": record.email,
            "responsible_id": record.responsible_id,
            "comment": record.comment,
            "converted": {
                "contact_id": record.contact_id,
                "company_id": record.company_id,
                "deal_id": record.deal_id,
            },
        }
    elif isinstance(record, Deal):
        specific = {
            "pipeline_id": record.pipeline_id,
            "stage": record.stage,
            "stage_name": record.get_stage_display(),
            "outcome": record.outcome,
            "lost_reason": record.lost_reason,
            "closed_at": _iso(record.closed_at),
            "amount": str(record.amount),
            "currency": record.currency,
            "contact_id": record.contact_id,
            "company_id": record.company_id,
            "responsible_id": record.responsible_id,
            "comment": record.comment,
        }
    else:
        specific = {
            "activity_type": record.type,
            "subject": record.subject,
            "direction": record.direction,
            "start_at": _iso(record.start_at),
            "end_at": _iso(record.end_at),
            "responsible_id": record.responsible_id,
            "completed": record.completed,
            "description": record.description,
            "conversation_id": record.conversation_id,
            "owner": {"type": record.owner_type, "id": record.owner_id},
        }
    times = {
        "created_at": _iso(record.created_at),
        "updated_at": _iso(getattr(record, "updated_at", None)),
    }
    return {**common, **specific, **times}


def _kind(segment: str) -> str:
    kind = TYPE_BY_SEGMENT.get(segment)
    if kind is None:
        raise not_found()
    return kind


def _get(user, kind: str, record_id: int, action: str = "view"):
    """The record, 404 when missing or hidden, 403 when visible but `action` is not allowed
    (`record_for` raises NotFound/NotAllowed; the API's error handlers answer them)."""
    if not 0 < record_id <= MAX_ID:
        raise not_found()
    return record_for(user, MODELS[kind], record_id, action)


def _raise_field_errors(exc) -> None:
    reverse = {form_name: api for api, form_name in FORM_NAMES.items()}
    raise invalid({reverse.get(k, k): v for k, v in exc.errors.items()})


class ListParams(Schema):
    q: str | None = Field(
        None, max_length=100, description="Name, title, phone, e-mail or ID contains"
    )
    limit: int = Field(50, ge=1, le=200)
    before_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="next_before_id of the previous page"
    )


class Converted(Schema):
    contact_id: int | None
    company_id: int | None
    deal_id: int | None


class Owner(Schema):
    type: str
    id: int | None


class CrmRecord(Partial):
    """A CRM record: the common fields, then those of its type (absent for other types)."""

    id: int
    type: str = Field(..., description="contact, company, lead, deal or activity")
    title: str
    url: str = Field(..., description="The record's card")
    created_at: OptionalDateTime
    updated_at: OptionalDateTime
    # contact, lead
    name: str | None = None
    # contact
    phones: list[str] | None = None
    emails: list[str] | None = None
    # company, lead
    phone: str | None = None
    email: str | None = None
    # company
    website: str | None = None
    # lead
    status: str | None = None
    source: str | None = None
    line_id: int | None = None
    company_title: str | None = None
    converted: Converted | None = None
    # deal
    stage: str | None = None
    amount: str | None = Field(None, description="A decimal number as text")
    currency: str | None = None
    contact_id: int | None = None
    # contact, deal
    company_id: int | None = None
    # every type but activities
    responsible_id: int | None = None
    comment: str | None = None
    # activity
    activity_type: str | None = None
    subject: str | None = None
    direction: str | None = None
    start_at: OptionalDateTime = None
    end_at: OptionalDateTime = None
    completed: bool | None = None
    description: str | None = None
    conversation_id: int | None = None
    owner: Owner | None = None


class RecordList(Schema):
    items: list[CrmRecord]
    next_before_id: int | None


@router.get(
    "/{kind}",
    response=RecordList,
    exclude_unset=True,
    summary="List CRM records of one kind, newest first",
)
def list_records(request, kind: str, params: Query[ListParams]):
    """`kind` is contacts, companies, leads, deals or activities. Besides `q`, the lists'
    filters: `responsible`, `created_from`, `created_to`, `has_open_conversation`, and
    `company` (contacts, deals), `pipeline` and `stage` (deals), `status` (leads), `type` and
    `completed` (activities)."""
    kind = _kind(kind)
    if params.q and "\x00" in params.q:
        raise invalid({"q": _("Invalid text.")})
    qs = search_records(kind, params.q or "", request.auth)
    filters = {
        k: v
        for k, v in request.GET.items()
        if k in lists.params_of(kind) and k not in ("q", "sort")
    }
    if filters:
        flt = lists.CrmFilter(kind, filters)
        if not flt.is_valid():
            raise invalid(flt.errors)
        qs = flt.filter(qs)
    if params.before_id:
        qs = qs.filter(pk__lt=params.before_id)
    if kind == "contact":
        qs = qs.prefetch_related("phones", "emails")
    elif kind == "deal":
        qs = qs.select_related("pipeline").prefetch_related("pipeline__stages")
    rows = list(qs[: params.limit + 1])
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return {"items": [record_out(r) for r in rows], "next_before_id": rows[-1].pk if more else None}


@router.get("/{kind}/{record_id}", response=CrmRecord, exclude_unset=True, summary="One CRM record")
def get_record(request, kind: str, record_id: int):
    return record_out(_get(request.auth, _kind(kind), record_id))


@router.patch(
    "/{kind}/{record_id}",
    response=CrmRecord,
    exclude_unset=True,
    summary="Change fields of one CRM record",
)
def patch_record(request, kind: str, record_id: int, payload: dict[str, Any] = Body(...)):  # noqa: B008
    """Send only the fields to change. Contacts take `phones` and `emails` as lists of strings."""
    kind = _kind(kind)
    record = _get(request.auth, kind, record_id, "edit")
    editable = EDITABLE[kind]
    unknown = sorted(set(payload) - set(editable))
    if unknown:
        raise invalid({name: _("This field cannot be changed.") for name in unknown})
    form_class = FORMS[kind]
    form = form_class(instance=record, user=request.auth)
    data = {}
    for name in form.fields:
        value = form.initial.get(name, model_to_dict(record).get(name))
        data[name] = value if value is not None else ""
    data.update(_form_data(payload))
    form = form_class(data, instance=record, user=request.auth)
    try:
        return record_out(services.save_form(request.auth, form))
    except services.FieldErrors as exc:
        _raise_field_errors(exc)


def _form_data(payload: dict) -> dict:
    data = {}
    for api_name, value in payload.items():
        name = FORM_NAMES.get(api_name, api_name)
        if name in ("phones", "emails"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid({api_name: _("A list of strings is expected.")})
            value = "\n".join(value)
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            raise invalid({api_name: _("A single value is expected.")})
        if isinstance(value, str) and "\x00" in value:
            raise invalid({api_name: _("Invalid text.")})
        if isinstance(value, bool):
            value = "on" if value else ""
        data[name] = "" if value is None else value
    return data


@router.post("/{kind}", response={201: dict[str, Any]}, summary="Create a CRM record")
def create_record(request, kind: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    """The fields of the record's card (as PATCH takes them). An activity names the record it
    belongs to: `owner_type` (contact, company, lead, deal) and `owner_id`."""
    kind = _kind(kind)
    user = request.auth
    payload = dict(payload)
    owner = None
    if kind == "activity":
        owner_type, owner_id = payload.pop("owner_type", None), payload.pop("owner_id", None)
        if owner_type not in ("contact", "company", "lead", "deal") or not isinstance(
            owner_id, int
        ):
            raise invalid({"owner_type": _("Name the contact, company, lead or deal.")})
        owner = _get(user, owner_type, owner_id, "edit")
    unknown = sorted(set(payload) - set(EDITABLE[kind]))
    if unknown:
        raise invalid({name: _("This field cannot be set.") for name in unknown})
    form_class = FORMS[kind]
    defaults = form_class(user=user, **({"owner": owner} if owner else {}))
    data = {
        name: defaults.initial.get(name, defaults.fields[name].initial) for name in defaults.fields
    }
    data = {k: ("" if v is None else getattr(v, "pk", v)) for k, v in data.items()}
    if kind == "deal":
        data["stage"] = data.get("stage") or "new"
        data["currency"] = data.get("currency") or "EUR"
        data["amount"] = data.get("amount") if data.get("amount") not in ("", None) else "0"
    data.update(_form_data(payload))
    form = form_class(data, user=user, **({"owner": owner} if owner else {}))
    try:
        record = services.save_form(user, form)
    except services.FieldErrors as exc:
        _raise_field_errors(exc)
    return 201, record_out(record)


@router.delete(
    "/{kind}/{record_id}",
    response=dict[str, Any],
    summary="Delete a CRM record (its conversations stay, their link to it removed)",
)
def delete_record(request, kind: str, record_id: int):
    kind = _kind(kind)
    record = _get(request.auth, kind, record_id, "edit")
    try:
        return services.delete_record(request.auth, MODELS[kind], record.pk)
    except services.FieldErrors as exc:
        raise invalid(exc.errors) from None


class MoveIn(Schema):
    stage: str = Field(..., max_length=20, description="The code of a stage of the deal's pipeline")
    reason: str = Field("", max_length=255, description="Why it was won or lost (needed for lost)")


@router.post(
    "/deals/{record_id}/move", response=dict[str, Any], summary="Move a deal to another stage"
)
def move_deal(request, record_id: int, payload: MoveIn):
    _get(request.auth, "deal", record_id, "edit")
    try:
        return record_out(
            services.move_deal(request.auth, record_id, payload.stage, payload.reason)
        )
    except services.FieldErrors as exc:
        raise invalid(exc.errors) from None


@router.post(
    "/conversations/{conversation_id}/deal",
    response={201: dict[str, Any]},
    summary="Create a deal from a conversation, bound to it and to its client's contact",
)
def deal_from_conversation(request, conversation_id: int):
    if not 0 < conversation_id <= MAX_ID:
        raise not_found()
    return 201, record_out(services.deal_from_conversation(request.auth, conversation_id))


# Merge (crm/merge.py: the Duplicates screen's merge and its undo) ---------------------------

MERGEABLE = {"contacts": "contact", "companies": "company"}
Pick = Literal["kept", "removed"]


class MergeIn(Input):
    removed_id: int = Field(
        ..., ge=1, le=MAX_ID, description="The record merged into this one, then removed"
    )
    fields: dict[str, Pick] = Field(
        default_factory=dict,
        description=(
            'Whose value the kept record takes, field by field: "kept" (the default) or '
            '"removed". Contacts: name, company, responsible, comment. Companies: title, phone, '
            "email, website, responsible, comment."
        ),
    )


class MergeOut(Schema):
    merge_id: int = Field(..., description="Undo it with POST /crm/merges/{merge_id}/undo")
    removed_id: int
    kept: CrmRecord
    undo_until: DateTime = Field(..., description="The merge can be undone until then (30 days)")


def _merge_out(record: CrmMerge, kept) -> dict[str, Any]:
    until = record.at + dt.timedelta(days=CrmMerge.UNDO_DAYS)
    return {
        "merge_id": record.pk,
        "removed_id": record.removed_id,
        "kept": record_out(kept),
        "undo_until": _iso(until),
    }


@router.post(
    "/{kind}/{record_id}/merge",
    response=MergeOut,
    exclude_unset=True,
    summary="Merge another contact or company into this one",
)
def merge_records(
    request, kind: Literal["contacts", "companies"], record_id: int, payload: MergeIn
):
    """Keeps this record and removes `removed_id` (same kind). Every phone, e-mail, channel
    identity (contacts), contact (companies), conversation link, activity, deal and lead of the
    removed record moves to the kept one; both timelines and each moved conversation record it.
    Needs the right to edit both records and to act on the removed one's conversations (403),
    and either hidden answers 404 like a missing one. Undoable for 30 days."""
    kind = MERGEABLE[kind]
    user = request.auth
    spec = merging.spec_of(kind)
    unknown = sorted(set(payload.fields) - set(spec.fields))
    if unknown:
        raise invalid({f"fields.{name}": _("This field cannot be merged.") for name in unknown})
    kept = _get(user, kind, record_id, "edit")
    if payload.removed_id == kept.pk:
        raise invalid({"removed_id": _("Choose two different records.")})
    try:
        done = merging.merge(user, kept.pk, payload.removed_id, dict(payload.fields), kind=kind)
    except services.FieldErrors as exc:
        raise invalid(exc.errors) from None
    return _merge_out(done, spec.model.objects.get(pk=kept.pk))


@router.post(
    "/merges/{merge_id}/undo",
    response=CrmRecord,
    exclude_unset=True,
    summary="Undo a merge: the removed record comes back with what it had",
    openapi_extra=also(409),
)
def undo_merge(request, merge_id: int):
    """Within 30 days of the merge: the removed record is back with its id and fields, what
    the merge moved goes back to it, and the kept record's merged fields return to what they
    were. Answers the restored record. A merge whose kept record is hidden is 404; one already
    undone or older than 30 days is 409."""
    if not 0 < merge_id <= MAX_ID:
        raise not_found()
    try:
        restored = merging.undo(request.auth, merge_id)
    except services.FieldErrors as exc:
        raise ApiError(409, "conflict", " ".join(exc.errors.values())) from None
    return record_out(restored)
