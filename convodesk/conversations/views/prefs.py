"""The column picker's stored choice: user.column_preferences["conversation_list"]."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ..columns import COLUMNS, DEFAULT_COLUMNS, clean_columns

PREF_KEY = "conversation_list"


def user_column_keys(user) -> list[str]:
    """The user's visible columns in order; stale or unknown keys are dropped silently."""
    stored = (user.column_preferences or {}).get(PREF_KEY) if user.is_authenticated else None
    keys = clean_columns(stored if isinstance(stored, list) else ())
    return keys or list(DEFAULT_COLUMNS)


def picker_entries(keys: list[str]) -> list[tuple[str, object, bool]]:
    """Visible columns first in their order, then the rest in registry order."""
    shown = [(k, COLUMNS[k], True) for k in keys]
    hidden = [(k, c, False) for k, c in COLUMNS.items() if k not in keys]
    return shown + hidden


def safe_next(request, fallback: str | None = None) -> str:
    """The `next` address if it is this site's, else `fallback` (the conversation list)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return fallback or reverse("conversations:list")


@login_required
@require_POST
def save_columns(request):
    user = request.user
    prefs = dict(user.column_preferences or {})
    if request.POST.get("reset"):
        prefs.pop(PREF_KEY, None)
    else:
        keys = clean_columns(request.POST.getlist("col"))
        if keys:
            prefs[PREF_KEY] = keys
    user.column_preferences = prefs
    user.save(update_fields=["column_preferences"])
    return HttpResponseRedirect(safe_next(request))
