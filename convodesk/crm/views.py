"""CRM cards and lists. Records come only from the CRM rule (`crm/visibility.py`: a hidden record
answers 404 like a missing one, a visible one the viewer may not edit 403); the conversations a
card shows come only from `Conversation.objects.visible_to(user, "view")`."""

from __future__ import annotations

from contextlib import contextmanager

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from convodesk.conversations import visibility
from convodesk.conversations.columns import COLUMNS, CRM_LABELS, crm_url, related_for
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.conversations.normalize import clean_text, parse_id
from convodesk.conversations.services import NotAllowed, NotFound

from . import actions, suggestions
from .forms import FORMS, ConvertForm, RebindForm
from .models import KINDS, MODELS, TYPE_BY_SEGMENT, Activity, Company, Contact, Deal, Lead
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
LIST_LIMIT = 50
LIST_TITLES = {
    "contact": _l("Contacts"),
    "company": _l("Companies"),
    "lead": _l("Leads"),
    "deal": _l("Deals"),
    "activity": _l("Activities"),
}
SEARCH = {
    "contact": lambda q: (
        Q(name__icontains=q)
        | Q(phones__normalized__contains=q)
        | Q(emails__normalized__contains=q.lower())
    ),
    "company": lambda q: Q(title__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q),
    "lead": lambda q: (
        Q(title__icontains=q)
        | Q(name__icontains=q)
        | Q(phone_normalized__contains=q)
        | Q(email_normalized__contains=q.lower())
    ),
    "deal": lambda q: Q(title__icontains=q),
    "activity": lambda q: Q(subject__icontains=q),
}


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
        cond = SEARCH[kind](q)
        number = parse_id(q.lstrip("#"), max_digits=17)
        if number is not None:
            cond |= Q(pk=number)
        qs = qs.filter(cond).distinct()
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
    if item.verified:
        return item.value
    return _("%(value)s (typed in the web chat, unverified)") % {"value": item.value}


def _facts(record) -> list[tuple[str, str]]:
    """Read-only facts shown above the form."""
    facts = [(_("ID"), f"#{record.pk}")]
    if isinstance(record, Contact):
        facts += [
            (_("Phones"), ", ".join(_unverified(p) for p in record.phones.all()) or "–"),
            (_("E-mails"), ", ".join(_unverified(e) for e in record.emails.all()) or "–"),
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
            (_("Amount"), f"{record.amount} {record.currency}"),
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


@login_required
def record_list(request, segment):
    kind = TYPE_BY_SEGMENT.get(segment)
    if kind is None:
        raise Http404
    user = _employee(request)
    q = request.GET.get("q", "")
    rows = list(search_records(kind, q, user)[:LIST_LIMIT])
    for row in rows:
        row.card_url = crm_url(kind, row.pk)
    if kind == "contact":
        # The company column names only companies the viewer may see.
        visible = set(
            Company.objects.visible_to(user, "view")
            .filter(pk__in={r.company_id for r in rows if r.company_id})
            .values_list("pk", flat=True)
        )
        for row in rows:
            row.visible_company = row.company if row.company_id in visible else None
    return render(
        request,
        "crm/list.html",
        {
            "kind": kind,
            "segment": segment,
            "title": LIST_TITLES[kind],
            "rows": rows,
            "q": q,
            "tabs": [(s, LIST_TITLES[k]) for k, s in KINDS.items()],
            "limit": LIST_LIMIT,
        },
    )


@login_required
def card(request, segment, pk):
    kind = TYPE_BY_SEGMENT.get(segment)
    if kind is None:
        raise Http404
    user = _employee(request)
    record = _record_or_404(user, MODELS[kind], pk)
    editable = can(user, record, "edit")
    form_class = FORMS[kind]
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        form = form_class(request.POST, instance=record, user=user)
        if form.is_valid():
            form.save()
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
    return render(
        request,
        "crm/card.html",
        {
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
            "tabs": [(s, LIST_TITLES[k]) for k, s in KINDS.items()],
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
            "tabs": [(s, LIST_TITLES[k]) for k, s in KINDS.items()],
        },
        status=status,
    )
