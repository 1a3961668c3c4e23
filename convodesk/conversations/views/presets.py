"""Saved filter presets: save, rename, delete, set default; personal or shared.

A preset stores only the filter query; whoever opens a shared preset still sees only the rows
`visible_to` gives them. Only the owner may change or delete a preset.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..filters import ConversationFilter
from ..models import FilterPreset
from .params import clean_text, encode, filter_only, normalize
from .tabs import list_path

NAME_MAX = 100


def _clean_query(raw: str) -> tuple[str, dict]:
    from django.http import QueryDict

    params = filter_only(normalize(QueryDict(raw or "")))
    return encode(params), ConversationFilter(params).errors


def _set_default(user, preset: FilterPreset | None) -> None:
    with transaction.atomic():
        FilterPreset.objects.filter(owner=user, is_default=True).update(is_default=False)
        if preset is not None:
            preset.is_default = True
            preset.save(update_fields=["is_default"])


@login_required
@require_POST
def create_preset(request):
    name = clean_text(request.POST.get("name", ""), NAME_MAX)
    query, errors = _clean_query(request.POST.get("query", ""))
    if not name:
        messages.error(request, _("Give the preset a name."))
        return HttpResponseRedirect(f"{list_path()}?{query}")
    if errors:
        messages.error(request, _("Fix the filter before saving it as a preset."))
        return HttpResponseRedirect(f"{list_path()}?{query}")
    preset = FilterPreset.objects.create(
        owner=request.user,
        name=name,
        query=query,
        shared=bool(request.POST.get("shared")),
    )
    if request.POST.get("is_default"):
        _set_default(request.user, preset)
    messages.success(request, _("Preset “%(name)s” saved.") % {"name": name})
    return HttpResponseRedirect(f"{list_path()}?{query}" if query else f"{list_path()}?view=all")


@login_required
@require_POST
def change_preset(request, pk: int):
    preset = FilterPreset.objects.filter(pk=pk, owner=request.user).first()
    if preset is None:
        raise Http404
    op = request.POST.get("op", "")
    back = f"{list_path()}?{preset.query}" if preset.query else f"{list_path()}?view=all"
    if op == "rename":
        name = clean_text(request.POST.get("name", ""), NAME_MAX)
        if not name:
            messages.error(request, _("Give the preset a name."))
        else:
            preset.name = name
            preset.save(update_fields=["name"])
            messages.success(request, _("Preset renamed to “%(name)s”.") % {"name": name})
    elif op == "delete":
        preset.delete()
        messages.success(request, _("Preset “%(name)s” deleted.") % {"name": preset.name})
        back = f"{list_path()}?view=all"
    elif op == "default":
        _set_default(request.user, preset)
        messages.success(request, _("“%(name)s” opens by default now.") % {"name": preset.name})
    elif op == "undefault":
        _set_default(request.user, None)
        messages.success(request, _("The list opens with all conversations by default now."))
    elif op == "share":
        preset.shared = not preset.shared
        preset.save(update_fields=["shared"])
        messages.success(
            request,
            _("Preset shared with everyone.") if preset.shared else _("Preset is personal now."),
        )
    elif op == "update":
        query, errors = _clean_query(request.POST.get("query", ""))
        if errors:
            messages.error(request, _("Fix the filter before saving it as a preset."))
        else:
            preset.query = query
            preset.save(update_fields=["query"])
            messages.success(request, _("Preset “%(name)s” updated.") % {"name": preset.name})
            back = f"{list_path()}?{query}" if query else f"{list_path()}?view=all"
    else:
        messages.error(request, _("Unknown preset action."))
    return HttpResponseRedirect(back)
