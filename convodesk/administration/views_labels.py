"""Tags in the settings: list, add, edit (rename, colour, archive). Writes through `labels`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from convodesk.conversations.models import Tag

from . import labels
from .access import settings_required
from .forms_people import add_service_errors

SECTION = "administration:tags"


class TagForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    colour = forms.ChoiceField(label=gettext_lazy("Colour"), choices=Tag.Colour.choices)
    archived = forms.BooleanField(
        label=gettext_lazy("Archived"),
        required=False,
        help_text=gettext_lazy(
            "An archived tag stays on its conversations and in the statistics but cannot be "
            "put on more."
        ),
    )


@require_GET
@settings_required
def tag_list(request):
    tags = Tag.objects.annotate(used=Count("links")).order_by("archived", "name")
    return render(request, "administration/tags/list.html", {"tags": tags, "section": SECTION})


@require_http_methods(["GET", "POST"])
@settings_required
def tag_form(request, pk=None):
    tag = get_object_or_404(Tag, pk=pk) if pk is not None else None
    initial = {"name": tag.name, "colour": tag.colour, "archived": tag.archived} if tag else {}
    form = TagForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = labels.save_tag(request.user, tag, **form.cleaned_data)
        except labels.Invalid as exc:
            add_service_errors(form, exc.errors)
        else:
            messages.success(request, _("Tag “%(name)s” saved.") % {"name": saved.name})
            return redirect("administration:tags")
    status = 400 if form.errors else 200
    return render(
        request,
        "administration/tags/form.html",
        {"form": form, "tag": tag, "section": SECTION},
        status=status,
    )
