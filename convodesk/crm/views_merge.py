"""Duplicates and merge screens (crm/merge.py does the work) for contacts and companies alike:
the Duplicates list, the field-by-field merge of two records, and its undo from the kept
record's timeline. The URL says the kind (`kind` in the route's kwargs)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk.conversations.normalize import parse_id
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.fielderrors import FieldErrors

from . import merge as merging
from .models import KINDS
from .views import _employee, _record_or_404, _tabs

TITLES = {"contact": _l("Merge contacts"), "company": _l("Merge companies")}
DUPLICATE_NOTES = {
    "contact": _l(
        "Contacts that share a phone, an e-mail or a name (case and accents ignored). Merging "
        "keeps every phone, e-mail, channel identity, conversation, activity and deal, and can "
        "be undone for 30 days."
    ),
    "company": _l(
        "Companies that share a phone, an e-mail or a name (case and accents ignored). Merging "
        "keeps every contact, conversation, activity, deal and lead, and can be undone for 30 days."
    ),
}


@login_required
@require_GET
def duplicates(request, kind="contact"):
    user = _employee(request)
    return render(
        request,
        "crm/duplicates.html",
        {
            "kind": kind,
            "groups": merging.duplicate_groups(user, kind),
            "note": DUPLICATE_NOTES[kind],
            "merge_url": "crm:merge" if kind == "contact" else "crm:merge_companies",
            "segment": KINDS[kind],
            "tabs": _tabs(),
        },
    )


def _value(record, name):
    if name == "company":
        return record.company.title if record.company_id else "–"
    if name == "responsible":
        return record.responsible.name if record.responsible_id else "–"
    return getattr(record, name) or "–"


@login_required
@require_http_methods(["GET", "POST"])
def merge(request, kind="contact"):
    user = _employee(request)
    spec = merging.SPECS[kind]
    kept_id = parse_id(request.POST.get("kept") or request.GET.get("kept", ""))
    removed_id = parse_id(request.POST.get("removed") or request.GET.get("removed", ""))
    if kept_id is None or removed_id is None or kept_id == removed_id:
        raise Http404
    kept = _record_or_404(user, spec.model, kept_id, "edit")
    removed = _record_or_404(user, spec.model, removed_id, "edit")
    error = ""
    if request.method == "POST":
        choices = {name: request.POST.get(name, "kept") for name in spec.fields}
        try:
            merging.merge(user, kept.pk, removed.pk, choices, kind=kind)
        except NotFound:
            raise Http404 from None
        except NotAllowed as exc:
            error = exc.message
        except FieldErrors as exc:
            error = " ".join(exc.errors.values())
        else:
            messages.success(
                request,
                _("“%(removed)s” was merged into “%(kept)s”. You can undo it from the timeline.")
                % {"removed": removed.display_title, "kept": kept.display_title},
            )
            return redirect("crm:card", segment=KINDS[kind], pk=kept.pk)
    rows = [
        {
            "name": name,
            "label": spec.model._meta.get_field(name).verbose_name,
            "kept": _value(kept, name),
            "removed": _value(removed, name),
            "same": _value(kept, name) == _value(removed, name),
        }
        for name in spec.fields
    ]
    moves = {
        name: getattr(removed, name).count()
        for name in ("phones", "emails", "deals", "contacts")
        if hasattr(removed, name)
    }
    return render(
        request,
        "crm/merge.html",
        {
            "kind": kind,
            "title": TITLES[kind],
            "kept": kept,
            "removed": removed,
            "rows": rows,
            "error": error,
            "moves": moves,
            "segment": KINDS[kind],
            "tabs": _tabs(),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def undo_merge(request, pk):
    user = _employee(request)
    try:
        restored = merging.undo(user, pk)
    except NotFound:
        raise Http404 from None
    except NotAllowed:
        raise PermissionDenied from None
    except FieldErrors as exc:
        messages.error(request, " ".join(exc.errors.values()))
        done = merging.CrmMerge.objects.filter(pk=pk).first()
        if done is None or done.kept_record_id is None:
            return redirect("crm:list", segment="contacts")
        return redirect("crm:card", segment=KINDS[done.entity_type], pk=done.kept_record_id)
    messages.success(
        request, _("The merge was undone: “%(name)s” is back.") % {"name": restored.display_title}
    )
    return redirect("crm:card", segment=KINDS[restored.entity_type], pk=restored.pk)
