"""Who may open the settings: employees whose roles give *Settings* (administrators by default).

Settings pages are not about one hidden object, so a refusal is a 403 that says why, never a 404.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level


def may_manage_settings(user) -> bool:
    return bool(user and user.is_authenticated and level(user, "settings") >= Level.ALL)


def settings_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not may_manage_settings(request.user):
            raise PermissionDenied(_("Your role does not allow managing the settings."))
        return view(request, *args, **kwargs)

    return wrapped
