"""Edit forms of the CRM cards, lead conversion and re-binding.

The card forms take the viewing `user`: a choice of another CRM record offers only the records
that user may see (crm/visibility.py), so a dropdown never names a hidden record."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from convodesk.conversations.normalize import normalize_email, normalize_phone

from . import binding
from .models import Activity, Company, Contact, Deal, Lead, Pipeline, PipelineStage


def _employees():
    return (
        get_user_model().objects.filter(is_active=True, is_integration=False).order_by("username")
    )


class CrmForm(forms.ModelForm):
    """A card's form for `user`: record choices limited to the records `user` may see."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "responsible" in self.fields:
            self.fields["responsible"].queryset = _employees()
            self.fields["responsible"].label_from_instance = lambda u: u.name
            if self.instance.pk is None and not self.is_bound and user is not None:
                if not getattr(user, "is_integration", False):
                    self.initial.setdefault("responsible", user.pk)

    def limit_choice(self, name: str, model, order: str) -> None:
        """Offer only visible records. A current choice the user may not see stays as it is,
        unnamed and unchangeable (the form keeps it; the user never learns what it is)."""
        field = self.fields[name]
        visible = model.objects.visible_to(self.user, "view")
        current = getattr(self.instance, f"{name}_id", None)
        if current and not visible.filter(pk=current).exists():
            field.queryset = model.objects.filter(pk=current)
            field.disabled = True
            field.label_from_instance = lambda _r: _("(a record you may not see)")
        else:
            field.queryset = visible.order_by(order)


def _lines(text: str) -> list[str]:
    return [v.strip() for v in (text or "").replace(",", "\n").splitlines() if v.strip()]


class ContactForm(CrmForm):
    field_order = ["name", "phones", "emails", "company", "responsible", "comment"]
    phones = forms.CharField(
        label=_("Phones"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line."),
    )
    emails = forms.CharField(
        label=_("E-mails"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line."),
    )

    class Meta:
        model = Contact
        fields = ["name", "company", "responsible", "comment"]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_choice("company", Company, "title")
        if self.instance.pk and not self.is_bound:
            self.initial["phones"] = "\n".join(p.value for p in self.instance.phones.all())
            self.initial["emails"] = "\n".join(e.value for e in self.instance.emails.all())

    def clean_phones(self):
        values = _lines(self.cleaned_data["phones"])
        for value in values:
            if len(value) > 64 or not normalize_phone(value):
                raise forms.ValidationError(
                    _("“%(value)s” is not a phone number.") % {"value": value[:70]}
                )
        return values

    def clean_emails(self):
        values = _lines(self.cleaned_data["emails"])
        validator = forms.EmailField()
        for value in values:
            validator.clean(value)
        return values

    def save(self, commit=True):
        contact = super().save(commit=True)
        # A row shown on the card and sent back unchanged is kept as it is, flag included: its
        # stored form came from the line it arrived on, which the card's country may not match.
        country = binding.default_country()
        phones = [v.strip() for v in self.cleaned_data["phones"]]
        kept = set(contact.phones.filter(value__in=phones).values_list("value", flat=True))
        typed = {normalize_phone(v, country) for v in phones if v not in kept}
        contact.phones.exclude(value__in=kept).exclude(normalized__in=typed).delete()
        for value in phones:
            if value not in kept:
                contact.add_phone(value, country)
        keep_emails = {normalize_email(v) for v in self.cleaned_data["emails"]}
        contact.emails.exclude(normalized__in=keep_emails).delete()
        for value in self.cleaned_data["emails"]:
            contact.add_email(value)
        contact.refresh_search()
        return contact


class CompanyForm(CrmForm):
    class Meta:
        model = Company
        fields = ["title", "phone", "email", "website", "responsible", "comment"]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3}), "email": forms.EmailInput}


class LeadForm(CrmForm):
    class Meta:
        model = Lead
        fields = [
            "title",
            "status",
            "name",
            "company_title",
            "phone",
            "email",
            "responsible",
            "comment",
        ]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3}), "email": forms.EmailInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.status != Lead.Status.CONVERTED:
            # Conversion is its own action: it creates the contact the lead turns into.
            self.fields["status"].choices = [
                c for c in Lead.Status.choices if c[0] != Lead.Status.CONVERTED
            ]
        else:
            self.fields["status"].disabled = True

    def save(self, commit=True):
        lead = super().save(commit=False)
        country = lead.line.default_country if lead.line_id else binding.default_country()
        lead.set_contact_data(lead.phone, lead.email, country)
        lead.save()
        return lead


class DealForm(CrmForm):
    stage = forms.ChoiceField(label=_("Stage"))

    class Meta:
        model = Deal
        fields = [
            "title",
            "pipeline",
            "stage",
            "amount",
            "currency",
            "lost_reason",
            "contact",
            "company",
            "responsible",
            "comment",
        ]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_choice("contact", Contact, "name")
        self.limit_choice("company", Company, "title")
        pipelines = list(Pipeline.objects.prefetch_related("stages"))
        if not pipelines:
            pipelines = [Pipeline.default()]
        self.fields["pipeline"].queryset = Pipeline.objects.all()
        self.fields["pipeline"].required = False  # empty: the deal's own, else the default
        self.fields["pipeline"].empty_label = None
        if not self.instance.pipeline_id and not self.is_bound:
            default = next((p for p in pipelines if p.is_default), pipelines[0])
            self.initial.setdefault("pipeline", default.pk)
            chosen = next(
                (p for p in pipelines if str(p.pk) == str(self.initial["pipeline"])), default
            )
            first = next((s for s in chosen.ordered_stages() if s.outcome == "open"), None)
            if first is not None and self.instance.pk is None:
                self.initial["stage"] = first.code
        if len(pipelines) == 1:
            self.fields["stage"].choices = [(s.code, s.name) for s in pipelines[0].ordered_stages()]
        else:  # codes repeat across pipelines; clean() checks the pair
            self.fields["stage"].choices = [
                (p.name, [(s.code, s.name) for s in p.ordered_stages()]) for p in pipelines
            ]
        self.fields["currency"].help_text = _("Three letters (ISO 4217), e.g. EUR, USD.")
        self.fields["lost_reason"].help_text = _("Why the deal was won or lost.")

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount < 0:
            raise forms.ValidationError(_("The amount cannot be negative."))
        return amount

    def clean_currency(self):
        currency = (self.cleaned_data["currency"] or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise forms.ValidationError(_("Three letters, e.g. EUR."))
        return currency

    def clean(self):
        data = super().clean()
        if "pipeline" in data and data["pipeline"] is None:
            data["pipeline"] = (
                self.instance.pipeline if self.instance.pipeline_id else Pipeline.default()
            )
        pipeline, code = data.get("pipeline"), data.get("stage")
        if pipeline is not None and code:
            stage = PipelineStage.objects.filter(pipeline=pipeline, code=code).first()
            if stage is None:
                self.add_error("stage", _("This pipeline has no such stage."))
            elif stage.outcome == "lost" and not (data.get("lost_reason") or "").strip():
                self.add_error("lost_reason", _("Say why the deal was lost."))
        return data


class ActivityForm(CrmForm):
    """An open channel activity follows its conversation (times, responsible employee,
    completion): only its text is the employee's. A hand-made one (call, meeting, task,
    e-mail, note) is the employee's entirely."""

    class Meta:
        model = Activity
        fields = [
            "type",
            "subject",
            "direction",
            "start_at",
            "end_at",
            "completed",
            "responsible",
            "description",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "start_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "end_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        if owner is not None:
            self.instance.owner_type, self.instance.owner_id = owner.entity_type, owner.pk
        if self.instance.conversation_id:
            for name in ("type", "direction", "start_at", "end_at", "completed", "responsible"):
                del self.fields[name]
            return
        self.fields["type"].choices = [
            c for c in Activity.Type.choices if c[0] in Activity.MANUAL_TYPES
        ]
        for name in ("start_at", "end_at"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
        if self.instance.pk is None and not self.is_bound:
            from django.utils import timezone

            self.initial.setdefault(
                "start_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def clean(self):
        data = super().clean()
        if not self.instance.owner_type:
            raise forms.ValidationError(
                _("An activity belongs to a contact, company, lead or deal.")
            )
        start, end = data.get("start_at"), data.get("end_at")
        if start and end and end < start:
            self.add_error("end_at", _("The end is before the start."))
        return data


FORMS = {
    "contact": ContactForm,
    "company": CompanyForm,
    "lead": LeadForm,
    "deal": DealForm,
    "activity": ActivityForm,
}


class ConvertForm(forms.Form):
    contact_name = forms.CharField(label=_("Contact name"), max_length=255, required=False)
    company_title = forms.CharField(
        label=_("Company (leave empty for none)"), max_length=255, required=False
    )
    create_deal = forms.BooleanField(label=_("Create a deal"), required=False)
    deal_title = forms.CharField(label=_("Deal title"), max_length=255, required=False)
    deal_amount = forms.DecimalField(
        label=_("Deal amount"), max_digits=14, decimal_places=2, required=False, min_value=0
    )


class RebindForm(forms.Form):
    entity_type = forms.ChoiceField(
        label=_("Record type"),
        choices=[
            ("contact", _("Contact")),
            ("company", _("Company")),
            ("lead", _("Lead")),
            ("deal", _("Deal")),
        ],
    )
    entity_id = forms.IntegerField(label=_("Record ID"), min_value=1, max_value=2**62)
