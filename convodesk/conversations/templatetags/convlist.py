"""Small template helpers of the conversation list."""

from django import template
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from convodesk.conversations import columns

register = template.Library()


@register.simple_tag(takes_context=True)
def include_optional(context, name: str):
    """Render `name` with the current context when it exists: the hook other features fill in."""
    try:
        tpl = get_template(name)
    except TemplateDoesNotExist:
        return ""
    return tpl.render(context.flatten(), context.get("request"))


@register.filter
def history_url(conversation_id) -> str:
    """A conversation's history page, for long lists (reversed once, see convodesk/links.py)."""
    return columns.history_url(conversation_id)


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""
