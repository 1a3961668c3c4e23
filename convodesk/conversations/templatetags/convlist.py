"""Small template helpers of the conversation list."""

from django import template
from django.template import TemplateDoesNotExist

from convodesk.conversations import columns

register = template.Library()


@register.simple_tag(takes_context=True)
def include_optional(context, name: str):
    """Render `name` with the current context when it exists: the hook other features fill in.
    (The page's own context, as {% include %} does: a new one would run every context
    processor again for each hook on each page.)"""
    try:
        tpl = context.template.engine.get_template(name)
    except TemplateDoesNotExist:
        return ""
    with context.push():
        return tpl.render(context)


@register.filter
def history_url(conversation_id) -> str:
    """A conversation's history page, for long lists (reversed once, see convodesk/links.py)."""
    return columns.history_url(conversation_id)


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""
