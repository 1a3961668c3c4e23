"""The settings' sections, in the order of the side navigation. A section is listed only once its
screens exist: each entry is (URL name, label)."""

from django.utils.translation import gettext_lazy as _

SECTIONS = [
    ("administration:lines", _("Open channels")),
    ("administration:connections", _("Connections")),
    ("administration:bitrix24", _("Bitrix24 compatibility")),
    ("administration:employees", _("Employees")),
    ("administration:departments", _("Departments")),
    ("administration:roles", _("Roles")),
    ("administration:quick_replies", _("Quick replies")),
    ("administration:tags", _("Tags")),
    ("administration:api_tokens", _("API tokens")),
    ("administration:pipelines", _("Pipelines")),
    ("administration:audit", _("Audit log")),
]
