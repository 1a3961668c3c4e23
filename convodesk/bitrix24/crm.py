"""crm.lead.*, crm.contact.*, crm.duplicate.findbycomm and imopenlines.crm.lead.create.

Reads obey the one CRM rule (`visible_to`); writes go through the cards' forms (the API's path
too) and, for a conversation, through `crm.actions.rebind`. Field names and value shapes are the
seed product's: `ID` strings, `DATE_CREATE` with the offset, `STATUS_ID` codes (LEAD_STATUS),
phones and e-mails as multi-field lists.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level, User
from convodesk.conversations.normalize import clean, normalize_email, parse_id
from convodesk.crm import actions
from convodesk.crm.binding import default_country, phone_keys
from convodesk.crm.forms import LeadForm
from convodesk.crm.models import Contact, ContactEmail, ContactPhone, Lead
from convodesk.crm.visibility import can, record_for

from .common import page, yes
from .registry import method
from .transport import B24Error, Result, access_denied, iso

# Our lead status → the seed product's STATUS_ID (README "Moving from Bitrix24").
LEAD_STATUS = {
    Lead.Status.NEW: "NEW",
    Lead.Status.IN_WORK: "IN_PROCESS",
    Lead.Status.CONVERTED: "CONVERTED",
    Lead.Status.JUNK: "JUNK",
}
STATUS_BY_CODE = {v: k for k, v in LEAD_STATUS.items()}
SOURCE = {"open_channel": "OPENLINE", "api": "WEB"}


def _multi(values, kind: str) -> list[dict]:
    return [
        {"ID": str(pk), "VALUE_TYPE": "WORK", "VALUE": value, "TYPE_ID": kind}
        for pk, value in values
        if value
    ]


def lead_out(ctx, lead: Lead) -> dict:
    return {
        "ID": str(lead.pk),
        "TITLE": lead.title,
        "NAME": lead.name,
        "LAST_NAME": "",
        "COMPANY_TITLE": lead.company_title,
        "STATUS_ID": LEAD_STATUS.get(lead.status, lead.status.upper()),
        "SOURCE_ID": SOURCE.get(lead.source, lead.source.upper()),
        "ASSIGNED_BY_ID": str(lead.responsible_id) if lead.responsible_id else None,
        "COMMENTS": lead.comment,
        "OPENED": "Y",
        "CONTACT_ID": str(lead.contact_id) if lead.contact_id else None,
        "COMPANY_ID": str(lead.company_id) if lead.company_id else None,
        "HAS_PHONE": yes(bool(lead.phone)),
        "HAS_EMAIL": yes(bool(lead.email)),
        "DATE_CREATE": iso(lead.created_at, ctx.tz),
        "DATE_MODIFY": iso(lead.updated_at, ctx.tz),
        "PHONE": _multi([(lead.pk, lead.phone)], "PHONE"),
        "EMAIL": _multi([(lead.pk, lead.email)], "EMAIL"),
    }


def contact_out(ctx, contact: Contact) -> dict:
    phones = [(p.pk, p.value) for p in contact.phones.all()]
    emails = [(e.pk, e.value) for e in contact.emails.all()]
    return {
        "ID": str(contact.pk),
        "NAME": contact.name,
        "LAST_NAME": "",
        "COMPANY_ID": str(contact.company_id) if contact.company_id else None,
        "ASSIGNED_BY_ID": str(contact.responsible_id) if contact.responsible_id else None,
        "COMMENTS": contact.comment,
        "OPENED": "Y",
        "HAS_PHONE": yes(bool(phones)),
        "HAS_EMAIL": yes(bool(emails)),
        "DATE_CREATE": iso(contact.created_at, ctx.tz),
        "DATE_MODIFY": iso(contact.updated_at, ctx.tz),
        "PHONE": _multi(phones, "PHONE"),
        "EMAIL": _multi(emails, "EMAIL"),
    }


MULTI = {"PHONE", "EMAIL", "IM", "WEB"}


def _select(row: dict, select) -> dict:
    """The seed product's `select`: default fields without multi-fields; '*' all ordinary
    fields; PHONE and EMAIL only when named."""
    if select in (None, "", []):
        select = ["*"]
    if not isinstance(select, list):
        raise B24Error("INVALID_ARG_VALUE", _("select must be a list of field names."))
    names = {str(s).upper() for s in select}
    keep = {k for k in row if k not in MULTI} if "*" in names else {"ID"}
    keep |= {k for k in row if k in names}
    return {k: v for k, v in row.items() if k in keep}


# Filters --------------------------------------------------------------------------------------

OPERATORS = (">=", "<=", "!=", "=", ">", "<", "%", "!", "@")
LOOKUP = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "%": "icontains", "=": "exact", "@": "in"}


def _split(key: str) -> tuple[str, str]:
    for op in OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :].upper()
    return "=", key.upper()


def _filter(queryset, flt, fields: dict, ctx, phone_field=None, email_field=None):
    if flt in (None, "", []):
        return queryset
    if not isinstance(flt, dict):
        raise B24Error("INVALID_ARG_VALUE", _("filter must be an object."))
    for key, value in flt.items():
        op, name = _split(str(key))
        if name in ("PHONE", "EMAIL"):
            if op not in ("=", "@"):
                raise B24Error("INVALID_ARG_VALUE", _("PHONE and EMAIL filter by equality."))
            values = value if isinstance(value, list) else [value]
            if name == "PHONE":
                keys = [k for v in values for k in phone_keys(str(v), default_country())]
                queryset = queryset.filter(**{f"{phone_field}__in": keys})
            else:
                keys = [normalize_email(str(v)) for v in values]
                queryset = queryset.filter(**{f"{email_field}__in": keys})
            continue
        field = fields.get(name)
        if field is None:
            raise B24Error("INVALID_ARG_VALUE", _("Cannot filter by %(field)s.") % {"field": name})
        column, convert = field
        values = value if isinstance(value, list) else [value]
        try:
            values = [convert(v, ctx) for v in values]
        except (TypeError, ValueError):
            raise B24Error(
                "INVALID_ARG_VALUE", _("Wrong value for %(field)s.") % {"field": name}
            ) from None
        if isinstance(value, list) or op == "@":
            condition = Q(**{f"{column}__in": values})
        else:
            condition = Q(**{f"{column}__{LOOKUP.get(op, 'exact')}": values[0]})
        queryset = queryset.exclude(condition) if op in ("!", "!=") else queryset.filter(condition)
    return queryset


def _int(value, ctx):
    found = parse_id(str(value))
    if found is None:
        raise ValueError(value)
    return found


def _text(value, ctx):
    text = clean(str(value))
    if len(text) > 255:  # longer than any stored title or name (and than SQLite's LIKE allows)
        raise ValueError(value)
    return text


def _when(value, ctx):
    text = str(value)
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(value)
        parsed = dt.datetime.combine(day, dt.time(), tzinfo=ctx.tz)
    elif parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ctx.tz)
    return parsed


def _lead_status(value, ctx):
    status = STATUS_BY_CODE.get(str(value).upper())
    if status is None:
        raise ValueError(value)
    return status


LEAD_FIELDS = {
    "ID": ("pk", _int),
    "TITLE": ("title", _text),
    "NAME": ("name", _text),
    "STATUS_ID": ("status", _lead_status),
    "ASSIGNED_BY_ID": ("responsible_id", _int),
    "DATE_CREATE": ("created_at", _when),
    "DATE_MODIFY": ("updated_at", _when),
    "COMPANY_TITLE": ("company_title", _text),
}
CONTACT_FIELDS = {
    "ID": ("pk", _int),
    "NAME": ("name", _text),
    "ASSIGNED_BY_ID": ("responsible_id", _int),
    "COMPANY_ID": ("company_id", _int),
    "DATE_CREATE": ("created_at", _when),
    "DATE_MODIFY": ("updated_at", _when),
}


def _order(queryset, order, fields: dict):
    if order in (None, "", []):
        return queryset.order_by("pk")
    if not isinstance(order, dict):
        raise B24Error("INVALID_ARG_VALUE", _("order must be an object."))
    keys = []
    for name, direction in order.items():
        field = fields.get(str(name).upper())
        if field is None:
            raise B24Error("INVALID_ARG_VALUE", _("Cannot order by %(field)s.") % {"field": name})
        keys.append(("-" if str(direction).upper() == "DESC" else "") + field[0])
    return queryset.order_by(*keys, "pk")


def _record(ctx, model, params, action="view"):
    record_id = parse_id(str(params.get("id", params.get("ID", ""))))
    if not record_id:
        raise B24Error("INVALID_ARG_VALUE", _("ID is not defined or invalid."))
    try:
        return record_for(ctx.user, model, record_id, action)
    except Exception as exc:  # NotFound and NotAllowed are the services' exceptions
        from convodesk.conversations.services import NotAllowed, NotFound

        if isinstance(exc, NotFound):
            raise B24Error("NOT_FOUND", _("Not found"), 400) from None
        if isinstance(exc, NotAllowed):
            raise access_denied() from None
        raise


# Leads --------------------------------------------------------------------------------------


@method("crm.lead.list")
def lead_list(ctx, params) -> Result:
    rows = Lead.objects.visible_to(ctx.user, "view")
    rows = _filter(
        rows, params.get("filter"), LEAD_FIELDS, ctx, "phone_normalized", "email_normalized"
    )
    rows = _order(rows, params.get("order"), LEAD_FIELDS)
    chunk, total, following = page(rows, params)
    select = params.get("select")
    return Result([_select(lead_out(ctx, r), select) for r in chunk], total, following)


@method("crm.lead.get")
def lead_get(ctx, params) -> Result:
    return Result(lead_out(ctx, _record(ctx, Lead, params)))


def _first_value(value) -> str | None:
    """PHONE: [{"VALUE": "+34…", "VALUE_TYPE": "WORK"}] → the first value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and str(item.get("VALUE", "")).strip():
                return str(item["VALUE"])
            if isinstance(item, str) and item.strip():
                return item
        return ""
    raise B24Error("INVALID_ARG_VALUE", _("PHONE and EMAIL are lists of values."))


LEAD_FORM_FIELDS = {
    "TITLE": "title",
    "NAME": "name",
    "COMPANY_TITLE": "company_title",
    "COMMENTS": "comment",
    "ASSIGNED_BY_ID": "responsible",
}


def _lead_form_data(fields: dict, lead: Lead) -> dict:
    data = {
        "title": lead.title,
        "status": lead.status,
        "name": lead.name,
        "company_title": lead.company_title,
        "phone": lead.phone,
        "email": lead.email,
        "responsible": lead.responsible_id or "",
        "comment": lead.comment,
    }
    unknown = []
    for key, value in fields.items():
        name = str(key).upper()
        if name in LEAD_FORM_FIELDS:
            if value is not None and not isinstance(value, (str, int, float)):
                raise B24Error("INVALID_ARG_VALUE", _("%(field)s is one value.") % {"field": name})
            data[LEAD_FORM_FIELDS[name]] = "" if value is None else clean(str(value))
        elif name == "STATUS_ID":
            status = STATUS_BY_CODE.get(str(value).upper())
            if status is None or status == Lead.Status.CONVERTED:
                raise B24Error("INVALID_ARG_VALUE", _("Unknown STATUS_ID."))
            data["status"] = status
        elif name in ("PHONE", "EMAIL"):
            data[name.lower()] = clean(_first_value(value) or "")
        elif name in ("LAST_NAME", "SOURCE_ID", "OPENED", "SECOND_NAME"):
            if name == "LAST_NAME" and value:
                data["name"] = f"{data['name']} {clean(str(value))}".strip()
        else:
            unknown.append(name)
    if unknown:
        raise B24Error(
            "INVALID_ARG_VALUE",
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))},
        )
    return data


def _save_lead(ctx, lead: Lead, fields) -> Lead:
    if not isinstance(fields, dict):
        raise B24Error("INVALID_ARG_VALUE", _("fields must be an object."))
    form = LeadForm(_lead_form_data(fields, lead), instance=lead, user=ctx.user)
    if not form.is_valid():
        text = " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        raise B24Error("INVALID_ARG_VALUE", text)
    return form.save()


@method("crm.lead.add")
def lead_add(ctx, params) -> Result:
    if level(ctx.user, "edit_crm") < Level.OWN:
        raise access_denied()
    fields = params.get("fields", params.get("FIELDS")) or {}
    responsible = None if ctx.user.is_integration else ctx.user
    lead = _save_lead(ctx, Lead(source="api", title="", responsible=responsible), fields)
    if not can(ctx.user, lead, "edit"):
        raise access_denied()  # e.g. given to someone outside the caller's scope: nothing is kept
    return Result(lead.pk)


@method("crm.lead.update")
def lead_update(ctx, params) -> Result:
    lead = _record(ctx, Lead.objects.select_for_update(), params, "edit")
    fields = params.get("fields", params.get("FIELDS")) or {}
    if lead.status == Lead.Status.CONVERTED and fields:
        raise B24Error("INVALID_ARG_VALUE", _("A converted lead cannot be changed."))
    lead = _save_lead(ctx, lead, fields)
    if not can(ctx.user, lead, "view"):
        raise access_denied()
    return Result(True)


def lead_for_conversation(ctx, conversation) -> Lead:
    """imopenlines.crm.lead.create: the conversation's open lead, or a new one from its client
    bound to it through `crm.actions.rebind` (its history records the change)."""
    if conversation.crm_entity_type == "lead" and conversation.crm_entity_id:
        lead = Lead.objects.filter(pk=conversation.crm_entity_id).first()
        if lead is not None:
            return lead
    if level(ctx.user, "edit_crm") < Level.OWN:
        raise access_denied()
    client = conversation.client
    fields = {
        "TITLE": _("%(client)s (%(line)s)")
        % {"client": client.name, "line": conversation.line.name},
        "NAME": client.name,
        "PHONE": client.phone,
        "EMAIL": client.email,
    }
    responsible = conversation.responsible or (None if ctx.user.is_integration else ctx.user)
    lead = Lead(
        title="",
        line=conversation.line,
        connection_id=conversation.identity.connection_id,
        external_id=conversation.identity.external_id,
        responsible=responsible,
    )
    lead = _save_lead(ctx, lead, fields)
    try:
        actions.rebind(conversation.pk, ctx.user, "lead", lead.pk)
    except actions.CrmError as exc:
        raise B24Error("ACCESS_DENIED", exc.message, 403) from None
    return lead


# Contacts -----------------------------------------------------------------------------------


@method("crm.contact.list")
def contact_list(ctx, params) -> Result:
    rows = Contact.objects.visible_to(ctx.user, "view")
    flt = params.get("filter")
    if isinstance(flt, dict):
        multi = {k: v for k, v in flt.items() if _split(str(k))[1] in ("PHONE", "EMAIL")}
        rest = {k: v for k, v in flt.items() if k not in multi}
        for key, value in multi.items():
            name = _split(str(key))[1]
            values = value if isinstance(value, list) else [value]
            if name == "PHONE":
                keys = [k for v in values for k in phone_keys(str(v), default_country())]
                rows = rows.filter(
                    pk__in=ContactPhone.objects.filter(normalized__in=keys).values("contact_id")
                )
            else:
                keys = [normalize_email(str(v)) for v in values]
                rows = rows.filter(
                    pk__in=ContactEmail.objects.filter(normalized__in=keys).values("contact_id")
                )
        flt = rest
    rows = _filter(rows, flt, CONTACT_FIELDS, ctx)
    rows = _order(rows, params.get("order"), CONTACT_FIELDS).prefetch_related("phones", "emails")
    chunk, total, following = page(rows, params)
    select = params.get("select")
    return Result([_select(contact_out(ctx, r), select) for r in chunk], total, following)


@method("crm.contact.get")
def contact_get(ctx, params) -> Result:
    return Result(contact_out(ctx, _record(ctx, Contact, params)))


# Duplicates -----------------------------------------------------------------------------------

MAX_VALUES = 20


@method("crm.duplicate.findbycomm")
def find_by_communication(ctx, params) -> Result:
    kind = str(params.get("type", params.get("TYPE", ""))).upper()
    if kind not in ("PHONE", "EMAIL"):
        raise B24Error("INVALID_ARG_VALUE", _("type must be PHONE or EMAIL."))
    values = params.get("values", params.get("VALUES"))
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not values or len(values) > MAX_VALUES:
        raise B24Error(
            "INVALID_ARG_VALUE", _("values must list 1 to %(n)s values.") % {"n": MAX_VALUES}
        )
    wanted = str(params.get("entity_type", params.get("ENTITY_TYPE", "")) or "").upper()
    if wanted not in ("", "LEAD", "CONTACT", "COMPANY"):
        raise B24Error("INVALID_ARG_VALUE", _("entity_type must be LEAD, CONTACT or COMPANY."))
    texts = [clean(str(v)) for v in values]
    found = {}
    if kind == "PHONE":
        keys = sorted({k for v in texts for k in phone_keys(v, default_country())})
        lead_q = Q(phone_normalized__in=keys)
        contact_rows = ContactPhone.objects.filter(normalized__in=keys)
    else:
        keys = sorted({normalize_email(v) for v in texts if normalize_email(v)})
        lead_q = Q(email_normalized__in=keys)
        contact_rows = ContactEmail.objects.filter(normalized__in=keys)
    if keys and wanted in ("", "LEAD"):
        ids = list(
            Lead.objects.visible_to(ctx.user, "view")
            .filter(lead_q)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            found["LEAD"] = ids
    if keys and wanted in ("", "CONTACT"):
        ids = list(
            Contact.objects.visible_to(ctx.user, "view")
            .filter(pk__in=contact_rows.values("contact_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            found["CONTACT"] = ids
    return Result(found or [])


__all__ = ["User", "lead_for_conversation"]
