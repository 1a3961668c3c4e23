"""Template helpers of the list toolbar's Export button."""

from django import template

from .. import export

register = template.Library()


@register.simple_tag(takes_context=True)
def can_export_conversations(context) -> bool:
    """Whether the viewer may export (the level is cached on the user, so usually no query)."""
    request = context.get("request")
    return export.can_export(getattr(request, "user", None))
