"""Settings › Pipelines: the forms. Writes go through `convodesk.crm.pipelines`."""

from django import forms
from django.utils.translation import gettext_lazy as _


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_default = forms.BooleanField(label=_("New deals go here (default)"), required=False)
    new_stage = forms.CharField(label=_("Add an open stage"), max_length=100, required=False)


class NewPipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
