"""CRM cards and lists. Records come only from the CRM rule (`crm/visibility.py`: a hidden record
answers 404 like a missing one, a visible one the viewer may not edit 403); the conversations a
card shows come only from `Conversation.objects.visible_to(user, "view")`."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, prefetch_related_objects
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_POST

from convodesk import display
from convodesk.conversations import visibility
from convodesk.conversations.columns import (
    CHANNEL_LABELS,
    COLUMNS,
    CRM_LABELS,
    crm_url,
    related_for,
)
from convodesk.conversations.export import can_export
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.normalize import clean_text, parse_id
from convodesk.conversations.paging import Count, bounded_count, exact_count
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.conversations.views.paging import fetch_page
from convodesk.conversations.views.params import PER_PAGE_CHOICES
from convodesk.conversations.views.prefs import safe_next

from . import actions, export, lists, services, suggestions, timeline
from . import merge as merging
from .forms import FORMS, ConvertForm, RebindForm
from .models import (
    KINDS,
    MODELS,
    TYPE_BY_SEGMENT,
    Activity,
    Company,
    Contact,
    CrmPreset,
    Deal,
    Lead,
)
from .visibility import can, record_for

CARD_COLUMNS = [
    "id",
    "status",
    "channel",
    "line",
    "responsible",
    "started_at",
    "agent_response_time",
    "first_answer_wait",
    "duration",
    "message_count",
]
CARD_LIMIT = 50
EXPORT_LIMIT = 100_000  # records one CRM export writes
LIST_TITLES = lists.LIST_TITLES


def _employee(request):
    if getattr(request.user, "is_integration", False):
        raise PermissionDenied
    return request.user


def search_records(kind: str, q: str, user):
    """The records of a kind `user` may see, newest first, narrowed by a search text
    (ID, name, phone, e-mail)."""
    qs = MODELS[kind].objects.visible_to(user, "view").order_by("-id")
    q = clean_text(q, 100)
    if q:
        qs = qs.filter(lists.search_q(q, kind))
    return qs


def card_conversations(user, record):
    """The record's conversations this viewer may see, newest first."""
    visible = Conversation.objects.visible_to(user, "view")
    if isinstance(record, Activity):
        qs = visible.filter(pk=record.conversation_id)
    else:
        links = ConversationCrmLink.objects.filter(
            conversation=OuterRef("pk"), entity_type=record.entity_type, entity_id=record.pk
        )
        qs = visible.filter(Exists(links))
    return qs.select_related(*related_for(CARD_COLUMNS)).order_by("-started_at", "-id")


def _related(record, user) -> list[tuple[str, list]]:
    """Linked records shown on the card that `user` may see, as (heading, [(label, url)])."""

    def refs(items):
        return [(f"{r.display_title}", crm_url(r.entity_type, r.pk)) for r in items]

    def one(model, pk):
        return list(model.objects.visible_to(user, "view").filter(pk=pk)) if pk else []

    def many(model, **lookup):
        return model.objects.visible_to(user, "view").filter(**lookup)

    if isinstance(record, Contact):
        return [
            (_("Company"), refs(one(Company, record.company_id))),
            (_("Deals"), refs(many(Deal, contact=record).order_by("-id")[:20])),
            (_("Leads"), refs(many(Lead, contact=record).order_by("-id")[:20])),
        ]
    if isinstance(record, Company):
        return [
            (_("Contacts"), refs(many(Contact, company=record).order_by("name")[:50])),
            (_("Deals"), refs(many(Deal, company=record).order_by("-id")[:20])),
        ]
    if isinstance(record, Deal):
        return [
            (_("Contact"), refs(one(Contact, record.contact_id))),
            (_("Company"), refs(one(Company, record.company_id))),
        ]
    if isinstance(record, Lead):
        converted = [
            r
            for model, pk in (
                (Contact, record.contact_id),
                (Company, record.company_id),
                (Deal, record.deal_id),
            )
            for r in one(model, pk)
        ]
        return [(_("Converted into"), refs(converted))] if converted else []
    if isinstance(record, Activity):
        owner = MODELS.get(record.owner_type)
        return [(_("CRM record"), refs(one(owner, record.owner_id) if owner else []))]
    return []


def _unverified(item) -> str:
    """A phone or e-mail as the card shows it: with its source channel, and unverified data
    (typed by the client in the web chat) marked as such."""
    value = item.value
    if item.source_id is not None:
        source = item.source
        value = _("%(value)s (from %(channel)s · %(connection)s)") % {
            "value": value,
            "channel": CHANNEL_LABELS.get(source.kind, source.kind),
            "connection": source.name,
        }
    if item.verified:
        return value
    return _("%(value)s (typed in the web chat, unverified)") % {"value": value}


def _facts(record) -> list[tuple[str, str]]:
    """Read-only facts shown above the form."""
    facts = [(_("ID"), f"#{record.pk}")]
    if isinstance(record, Contact):
        identities = record.identities.select_related("connection").order_by("id")
        facts += [
            (
                _("Phones"),
                ", ".join(_unverified(p) for p in record.phones.select_related("source")) or "–",
            ),
            (
                _("E-mails"),
                ", ".join(_unverified(e) for e in record.emails.select_related("source")) or "–",
            ),
            (
                _("Channel identities"),
                ", ".join(
                    f"{CHANNEL_LABELS.get(i.connection.kind, i.connection.kind)} · "
                    f"{i.connection.name} · {i.external_id}"
                    for i in identities
                )
                or "–",
            ),
        ]
    if isinstance(record, Lead):
        facts += [
            (_("Status"), record.get_status_display()),
            (_("Source"), _("Open channel")),
            *(
                []
                if record.contact_data_verified or not (record.phone or record.email)
                else [(_("Contact data"), _("typed in the web chat, unverified"))]
            ),
            (_("Open channel"), str(record.line) if record.line_id else "–"),
        ]
    if isinstance(record, Deal):
        facts += [
            (_("Stage"), record.get_stage_display()),
            (_("Amount"), display.money(record.amount, record.currency)),
        ]
    if isinstance(record, Activity):
        facts += [
            (_("Type"), record.get_type_display()),
            (_("Direction"), record.get_direction_display()),
            (_("Start"), record.start_at),
            (pgettext("activity time", "End"), record.end_at or "–"),
            (_("Responsible employee"), record.responsible.name if record.responsible_id else "–"),
            (_("Completed"), _("Yes") if record.completed else _("No")),
        ]
    return facts


@contextmanager
def _http_answers():
    """NotFound (hidden or missing) answers 404, NotAllowed (visible, not allowed) 403."""
    try:
        yield
    except NotFound:
        raise Http404 from None
    except NotAllowed:
        raise PermissionDenied from None


def _record_or_404(user, model, pk: int, action: str = "view"):
    """`record_for` in HTML: 404 when hidden or missing, 403 when visible but not allowed."""
    with _http_answers():
        return record_for(user, model, pk, action)


@login_required
def crm_home(request):
    return redirect("crm:list", segment="leads")


def _list_url(segment: str) -> str:
    return reverse("crm:list", kwargs={"segment": segment})


def _kind_of(segment) -> str:
    kind = TYPE_BY_SEGMENT.get(segment)
    if kind is None:
        raise Http404
    return kind


def _tabs():
    return [(s, LIST_TITLES[k]) for k, s in KINDS.items()]


def _headers(kind, columns, flt, params):
    current, descending = flt.sort_key, flt.sort_descending
    base = {k: v for k, v in params.items() if k != "sort"}
    headers = []
    for col in columns:
        entry = {"col": col, "sorted": "", "url": ""}
        if col.sortable:
            if col.key == current:
                entry["sorted"] = "desc" if descending else "asc"
                new = col.key if descending else f"-{col.key}"
            else:
                new = f"-{col.key}" if col.kind in ("datetime", "int") else col.key
            entry["url"] = "?" + urlencode({**base, "sort": new})
        headers.append(entry)
    return headers


def _list_params(request, kind) -> dict[str, str]:
    """The list's filter parameters from the URL (repeated keys joined by commas)."""
    params = {}
    for key in lists.params_of(kind):
        values = [v.strip() for v in request.GET.getlist(key) if v.strip()]
        if values:
            params[key] = ",".join(values)
    return params


def _filter_fields(kind, params, user):
    """The filter panel's fields: (name, label, widget kind, options, value)."""
    from .models import Pipeline, PipelineStage

    employees = [
        (str(u.pk), u.name)
        for u in get_user_model()
        .objects.filter(is_active=True, is_integration=False)
        .order_by("username")[:500]
    ]
    fields = [
        ("responsible", _("Responsible employee"), "select", [("none", _("Nobody"))] + employees),
        ("created_from", _("Created from") if kind != "activity" else _("Starts from"), "date", []),
        ("created_to", _("Created to") if kind != "activity" else _("Starts to"), "date", []),
        (
            "has_open_conversation",
            _("Has an open conversation"),
            "select",
            [("true", _("Yes")), ("false", _("No"))],
        ),
    ]
    if kind in ("contact", "deal"):
        companies = Company.objects.visible_to(user, "view").order_by("title")[:200]
        fields.append(
            (
                "company",
                _("Company"),
                "select",
                [("none", _("None"))] + [(str(c.pk), c.title) for c in companies],
            )
        )
    if kind == "deal":
        fields.append(
            (
                "pipeline",
                _("Pipeline"),
                "select",
                [(str(p.pk), p.name) for p in Pipeline.objects.all()],
            )
        )
        stages, seen = [], set()
        for stage in PipelineStage.objects.select_related("pipeline").order_by(
            "pipeline__position", "position"
        ):
            if stage.code not in seen:
                seen.add(stage.code)
                stages.append((stage.code, stage.name))
        fields.append(("stage", _("Stage"), "select", stages))
    if kind == "lead":
        fields.append(("status", _("Status"), "select", list(Lead.Status.choices)))
    if kind == "activity":
        fields.append(("type", _("Type"), "select", list(Activity.Type.choices)))
        fields.append(
            ("completed", _("Completed"), "select", [("true", _("Yes")), ("false", _("No"))])
        )
    return [
        {
            "name": n,
            "label": label,
            "widget": w,
            "options": [(str(v), str(t)) for v, t in o],
            "value": params.get(n, ""),
        }
        for n, label, w, o in fields
    ]


@login_required
def record_list(request, segment):
    """One CRM list: columns per user, sorting, filters, search, keyset pages, bounded count."""
    kind = _kind_of(segment)
    user = _employee(request)
    params = _list_params(request, kind)
    flt = lists.CrmFilter(kind, params)
    keys = lists.user_column_keys(user, kind)
    columns = [lists.COLUMNS[kind][k] for k in keys]
    per_page = PER_PAGE_CHOICES[1]
    raw_per_page = parse_id(request.GET.get("per_page", ""))
    if raw_per_page in PER_PAGE_CHOICES:
        per_page = raw_per_page
    page_number = max(1, min(parse_id(request.GET.get("page", "")) or 1, 100_000))
    rows, page, count = [], None, None
    if flt.is_valid():
        qs = flt.filter(lists.base_queryset(user, kind))
        if request.GET.get("count") == "exact":
            count = Count(exact_count(qs), True)
        else:
            count = lists.list_count(flt, qs, user)
        page = fetch_page(
            qs,
            flt,
            per_page=per_page,
            page=page_number,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            related=lists.related_for(kind, keys, flt.sort_field),
        )
        prefetch = lists.prefetches_for(kind, keys)
        if prefetch:
            prefetch_related_objects(page.rows, *prefetch)
        lists.decorate(user, kind, page.rows)
        rows = page.rows
    keep = dict(params)
    if per_page != PER_PAGE_CHOICES[1]:
        keep["per_page"] = str(per_page)
    presets = CrmPreset.objects.filter(kind=kind).filter(Q(owner=user) | Q(shared=True))
    return render(
        request,
        "crm/list.html",
        {
            "kind": kind,
            "segment": segment,
            "title": LIST_TITLES[kind],
            "rows": rows,
            "table": [(r, [c.render_html(r) for c in columns]) for r in rows],
            "columns": columns,
            "headers": _headers(kind, columns, flt, keep),
            "params": params,
            "query": urlencode(keep),
            "q": params.get("q", ""),
            "errors": list(flt.errors.items()),
            "count": count,
            "count_exact_url": "?" + urlencode({**keep, "count": "exact"}),
            # SQLite has no planner estimate: a capped count is "more than N" there.
            "count_more_than": count.value - 1
            if count and not count.exact and connection.vendor != "postgresql"
            else None,
            "page": page,
            "next_url": "?"
            + urlencode({**keep, "page": page_number + 1, "after": page.next_cursor})
            if page and page.has_next
            else "",
            "prev_url": "?"
            + urlencode({**keep, "page": page_number - 1, "before": page.prev_cursor})
            if page and page.has_prev and page_number > 2
            else ("?" + urlencode(keep) if page and page_number == 2 else ""),
            "first_row": (page_number - 1) * per_page + 1 if rows else 0,
            "last_row": (page_number - 1) * per_page + len(rows),
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "fields": _filter_fields(kind, params, user),
            "picker": lists.picker_entries(kind, keys),
            "presets": presets,
            "can_create": services.may_create(user) and kind != "activity",
            "new_label": lists.NEW_LABELS[kind],
            "view_name": "list",
            "can_export": can_export(user),
            "tabs": _tabs(),
        },
    )


@login_required
@require_POST
def save_columns(request, segment):
    kind = _kind_of(segment)
    user = _employee(request)
    lists.save_column_keys(
        user, kind, request.POST.getlist("col"), reset=bool(request.POST.get("reset"))
    )
    return redirect(safe_next(request, reverse("crm:list", args=[segment])))


@login_required
@require_POST
def save_preset(request, segment):
    kind = _kind_of(segment)
    user = _employee(request)
    name = clean_text(request.POST.get("name", ""), 100)
    query = clean_text(request.POST.get("query", ""), 2000)
    if not name:
        messages.error(request, _("Give the preset a name."))
    else:
        CrmPreset.objects.create(
            owner=user, kind=kind, name=name, query=query, shared=bool(request.POST.get("shared"))
        )
        messages.success(request, _("Preset saved."))
    return redirect(_list_url(segment) + (f"?{query}" if query else ""))


@login_required
@require_POST
def delete_preset(request, segment, pk):
    kind = _kind_of(segment)
    user = _employee(request)
    preset = CrmPreset.objects.filter(pk=pk, kind=kind, owner=user).first()
    if preset is None:
        raise Http404
    preset.delete()
    messages.success(request, _("Preset deleted."))
    return redirect(_list_url(segment))


@login_required
def export_list(request, segment):
    """Every record of the list as filtered (not only the page), in its sort, as .xlsx."""
    kind = _kind_of(segment)
    user = _employee(request)
    if not can_export(user):
        raise PermissionDenied
    params = _list_params(request, kind)
    flt = lists.CrmFilter(kind, params)
    if not flt.is_valid():
        messages.error(request, " ".join(flt.errors.values()))
        return redirect(_list_url(segment))
    keys = lists.user_column_keys(user, kind)
    qs = flt.filter(lists.base_queryset(user, kind)).order_by(*flt.ordering())
    # Written while the request waits (constant memory, but time grows with the rows): past
    # EXPORT_LIMIT the employee narrows the list first.
    count = bounded_count(qs, EXPORT_LIMIT)
    if not count.exact:
        messages.error(
            request,
            _("More than %(limit)s records: narrow the list with filters to export it.")
            % {"limit": f"{EXPORT_LIMIT:,}"},
        )
        return redirect(f"{_list_url(segment)}?{urlencode(params)}")
    handle = tempfile.TemporaryFile()
    export.write_crm_xlsx(user, kind, qs, keys, handle)
    handle.seek(0)
    name = f"{segment}-{timezone.localtime().strftime('%Y%m%d-%H%M')}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=name)


@login_required
def new_record(request, segment):
    kind = _kind_of(segment)
    user = _employee(request)
    if not services.may_create(user):
        raise PermissionDenied
    owner = None
    if kind == "activity":
        owner = _owner_of(user, request.GET.get("owner") or request.POST.get("owner", ""))
    form_class = FORMS[kind]
    extra = {"owner": owner} if kind == "activity" else {}
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, user=user, **extra)
        try:
            record = services.save_form(user, form)
        except services.FieldErrors as exc:
            for name, message in exc.errors.items():
                if name in form.fields and name not in form.errors:
                    form.add_error(name, message)
                elif name not in form.errors:
                    form.add_error(None, message)
            status = 400
        except NotAllowed:
            raise PermissionDenied from None
        else:
            messages.success(request, _("Created."))
            if kind == "activity":
                return redirect(crm_url(owner.entity_type, owner.pk))
            return redirect(crm_url(kind, record.pk))
    else:
        initial = {
            key: request.GET[key]
            for key in ("contact", "company", "type", "pipeline")
            if key in form_class.base_fields
            and parse_id(request.GET.get(key, "")) is not None
            or (key == "type" and request.GET.get(key) in Activity.MANUAL_TYPES)
        }
        form = form_class(user=user, initial=initial, **extra)
    return render(
        request,
        "crm/new.html",
        {
            "kind": kind,
            "segment": segment,
            "form": form,
            "owner": owner,
            "kind_label": MODELS[kind]._meta.verbose_name,
            "tabs": _tabs(),
        },
        status=status,
    )


def _owner_of(user, value: str):
    """The record a new activity belongs to ("contact:12"), if the user may edit it."""
    kind, _sep, raw = value.partition(":")
    pk = parse_id(raw)
    if kind not in ("contact", "company", "lead", "deal") or pk is None:
        raise Http404
    return _record_or_404(user, MODELS[kind], pk, "edit")


@login_required
def delete_record(request, segment, pk):
    """GET asks first (what goes, what stays); POST deletes."""
    kind = _kind_of(segment)
    user = _employee(request)
    record = _record_or_404(user, MODELS[kind], pk, "edit")
    linked = (
        ConversationCrmLink.objects.filter(entity_type=kind, entity_id=record.pk).count()
        if kind != "activity"
        else 0
    )
    if request.method == "POST":
        owner_url = (
            crm_url(record.owner_type, record.owner_id)
            if kind == "activity"
            else _list_url(segment)
        )
        try:
            gone = services.delete_record(user, MODELS[kind], record.pk)
        except NotFound:
            raise Http404 from None
        except NotAllowed as exc:
            messages.error(request, exc.message)
            return redirect(crm_url(kind, record.pk))
        except services.FieldErrors as exc:
            messages.error(request, " ".join(exc.errors.values()))
            return redirect(crm_url(kind, record.pk))
        messages.success(
            request,
            _("“%(title)s” was deleted.") % {"title": gone["title"]}
            + (
                " "
                + ngettext(
                    "Its %(count)s conversation was kept, without the link.",
                    "Its %(count)s conversations were kept, without the link.",
                    len(gone["conversations"]),
                )
                % {"count": len(gone["conversations"])}
                if gone["conversations"]
                else ""
            ),
        )
        return redirect(owner_url)
    return render(
        request,
        "crm/delete.html",
        {
            "kind": kind,
            "segment": segment,
            "record": record,
            "linked": linked,
            "kind_label": MODELS[kind]._meta.verbose_name,
            "tabs": _tabs(),
        },
    )


@login_required
def card(request, segment, pk):
    kind = _kind_of(segment)
    user = _employee(request)
    record = _record_or_404(user, MODELS[kind], pk)
    editable = can(user, record, "edit")
    form_class = FORMS[kind]
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        form = form_class(request.POST, instance=record, user=user)
        try:
            services.save_form(user, form)
        except services.FieldErrors as exc:
            for name, message in exc.errors.items():
                if name not in form.errors:
                    form.add_error(name if name in form.fields else None, message)
            record.refresh_from_db()
        else:
            messages.success(request, _("Saved."))
            return redirect(request.path)
        status = 400
    else:
        form = form_class(instance=record, user=user)
        status = 200
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    conversations = card_conversations(user, record)
    rows = list(conversations[: CARD_LIMIT + 1])
    columns = [COLUMNS[k] for k in CARD_COLUMNS]
    table = [(conv, [c.render_html(conv) for c in columns]) for conv in rows[:CARD_LIMIT]]
    possible_matches = suggestions.for_conversations(user, [conv.pk for conv in rows])
    convertible = kind == "lead" and record.is_open and editable
    if convertible and not actions.may_act_on_all(user, actions.lead_conversation_ids(record.pk)):
        convertible = False
        messages.info(request, actions.CANNOT_CONVERT)
    convert_form = (
        ConvertForm(
            initial={
                "contact_name": record.name,
                "company_title": record.company_title,
                "deal_title": record.title,
            }
        )
        if convertible
        else None
    )
    try:
        timeline_page = max(1, min(int(request.GET.get("timeline", "1")), 1000))
    except ValueError:
        timeline_page = 1
    entries, older = timeline.entries(user, record, timeline_page)
    return render(
        request,
        "crm/card.html",
        {
            "timeline": entries,
            "timeline_page": timeline_page,
            "timeline_older": older,
            "activity_types": kind != "activity" and editable,
            "deletable": editable and not (kind == "activity" and record.conversation_id),
            "can_make_deal": kind == "contact" and editable,
            "duplicates": merging.duplicates_of(user, record) if kind in merging.SPECS else [],
            "activity_choices": [
                (code, label)
                for code, label in Activity.Type.choices
                if code in Activity.MANUAL_TYPES
            ],
            "stages": record.pipeline.ordered_stages()
            if kind == "deal" and record.pipeline_id
            else [],
            "kind": kind,
            "segment": segment,
            "record": record,
            "form": form,
            "facts": _facts(record),
            "related": _related(record, user),
            "editable": editable,
            "columns": columns,
            "table": table,
            "more": len(rows) > CARD_LIMIT,
            "convert_form": convert_form,
            "possible_matches": possible_matches,
            "kind_label": MODELS[kind]._meta.verbose_name,
            "tabs": _tabs(),
        },
        status=status,
    )


@login_required
@require_POST
def convert(request, pk):
    user = _employee(request)
    lead = _record_or_404(user, Lead, pk, "edit")
    form = ConvertForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("crm:card", segment="leads", pk=lead.pk)
    try:
        with _http_answers():
            contact, _company, _deal = actions.convert_lead(lead.pk, user, **form.cleaned_data)
    except actions.CrmError as exc:
        messages.error(request, exc.message)
        return redirect("crm:card", segment="leads", pk=lead.pk)
    messages.success(request, _("The lead was converted."))
    return redirect("crm:card", segment="contacts", pk=contact.pk)


@login_required
@require_POST
def confirm_match(request, pk):
    """Confirm a possible match the client's typed data suggested (crm/suggestions.py)."""
    user = _employee(request)
    try:
        with _http_answers():
            record = suggestions.confirm(pk, user)
    except actions.CrmError as exc:
        messages.error(request, exc.message)
        return redirect("crm:home")
    messages.success(request, _("The conversation was bound to the confirmed record."))
    return redirect("crm:card", segment=KINDS[record.entity_type], pk=record.pk)


@login_required
def rebind(request, conversation_id):
    """Bind a conversation to another CRM record (linked from the conversation's history page)."""
    user = _employee(request)
    with _http_answers():  # the same answers actions.rebind gives
        conversation = visibility.access(user, conversation_id, "act")
    form = RebindForm(
        request.POST or None, initial={"entity_type": conversation.crm_entity_type or "contact"}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.rebind(conversation.pk, user, data["entity_type"], data["entity_id"])
            except NotFound:
                raise Http404 from None
            except NotAllowed as exc:
                form.add_error(None, exc.message)
                status = 403
            except actions.CrmError as exc:
                form.add_error("entity_id", exc.message)
            else:
                messages.success(request, _("The conversation was bound to the chosen record."))
                return redirect(crm_url(data["entity_type"], data["entity_id"]))
    links = [
        (
            crm_url(link.entity_type, link.entity_id),
            CRM_LABELS.get(link.entity_type, link.entity_type),
            link,
        )
        for link in conversation.crm_links.order_by("-is_primary", "id")
    ]
    q = request.GET.get("q", "")
    found = []
    if q:
        for kind in ("contact", "lead", "deal", "company"):
            found += [(kind, CRM_LABELS[kind], r) for r in search_records(kind, q, user)[:10]]
    return render(
        request,
        "crm/rebind.html",
        {
            "conversation": conversation,
            "form": form,
            "links": links,
            "q": q,
            "found": found,
            "tabs": _tabs(),
        },
        status=status,
    )
