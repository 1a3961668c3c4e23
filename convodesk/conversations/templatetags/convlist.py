"""Small template helpers of the conversation list."""

from django import template
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

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
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""
