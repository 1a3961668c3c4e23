"""The settings' sections, in the order of the side navigation. A section is listed only once its
screens exist: each entry is (URL name, label)."""

from django.utils.translation import gettext_lazy as _

SECTIONS = [
    ("administration:audit", _("Audit log")),
]
