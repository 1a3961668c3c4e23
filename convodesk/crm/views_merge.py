"""Duplicates and merge screens (crm/merge.py does the work): the Duplicates list, the
field-by-field merge of two contacts, and its undo from the kept contact's timeline."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from convodesk.conversations.normalize import parse_id
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.fielderrors import FieldErrors

from . import merge as merging
from .models import Contact
from .views import _employee, _record_or_404, _tabs


@login_required
@require_GET
def duplicates(request):
    user = _employee(request)
    return render(
        request,
        "crm/duplicates.html",
        {"groups": merging.duplicate_groups(user), "segment": "contacts", "tabs": _tabs()},
    )


def _value(contact, name):
    if name == "company":
        return contact.company.title if contact.company_id else "–"
    if name == "responsible":
        return contact.responsible.name if contact.responsible_id else "–"
    return getattr(contact, name) or "–"


@login_required
@require_http_methods(["GET", "POST"])
def merge(request):
    user = _employee(request)
    kept_id = parse_id(request.POST.get("kept") or request.GET.get("kept", ""))
    removed_id = parse_id(request.POST.get("removed") or request.GET.get("removed", ""))
    if kept_id is None or removed_id is None or kept_id == removed_id:
        raise Http404
    kept = _record_or_404(user, Contact, kept_id, "edit")
    removed = _record_or_404(user, Contact, removed_id, "edit")
    error = ""
    if request.method == "POST":
        choices = {name: request.POST.get(name, "kept") for name in merging.FIELDS}
        try:
            merging.merge(user, kept.pk, removed.pk, choices)
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
                % {"removed": removed.name, "kept": kept.name},
            )
            return redirect(f"/crm/contacts/{kept.pk}/")
    labels = {
        "name": Contact._meta.get_field("name").verbose_name,
        "company": Contact._meta.get_field("company").verbose_name,
        "responsible": Contact._meta.get_field("responsible").verbose_name,
        "comment": Contact._meta.get_field("comment").verbose_name,
    }
    rows = [
        {
            "name": name,
            "label": labels[name],
            "kept": _value(kept, name),
            "removed": _value(removed, name),
            "same": _value(kept, name) == _value(removed, name),
        }
        for name in merging.FIELDS
    ]
    return render(
        request,
        "crm/merge.html",
        {
            "kept": kept,
            "removed": removed,
            "rows": rows,
            "error": error,
            "moves": {
                "phones": removed.phones.count(),
                "emails": removed.emails.count(),
                "deals": removed.deals.count(),
            },
            "segment": "contacts",
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
        kept_id = merging.CrmMerge.objects.filter(pk=pk).values_list("kept_id", flat=True).first()
        return redirect(f"/crm/contacts/{kept_id}/" if kept_id else "/crm/contacts/")
    messages.success(
        request, _("The merge was undone: “%(name)s” is back.") % {"name": restored.name}
    )
    return redirect(f"/crm/contacts/{restored.pk}/")
