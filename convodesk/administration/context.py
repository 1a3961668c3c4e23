"""Template context: whether the header links to the settings, and the settings' sections."""

from .access import may_manage_settings
from .sections import SECTIONS


def settings_nav(request):
    user = getattr(request, "user", None)
    if not may_manage_settings(user):
        return {"may_manage_settings": False}
    return {"may_manage_settings": True, "settings_sections": SECTIONS}
