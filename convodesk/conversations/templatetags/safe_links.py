"""`safe_url`: the one filter every template puts a user-supplied address through before href.

`{% with href=value|safe_url %}{% if href %}<a href="{{ href }}">…</a>{% else %}…{% endif %}`:
anything but an http(s) address or a path on this site comes back empty, so it renders as text.
"""

from django import template

from convodesk.conversations.attachments import safe_href

register = template.Library()


@register.filter(is_safe=False)
def safe_url(value) -> str:
    return safe_href(value)
