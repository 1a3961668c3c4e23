"""imopenlines.* and im.message.add, mapped onto the conversation services.

A conversation is the seed product's session and its chat at once: `CHAT_ID`, `SESSION_ID` and
the dialog `chat{id}` all name the conversation id. A conversation the webhook's employee may not
see answers exactly as one that does not exist (the seed product's error for a wrong chat id).
Statuses are mapped by STATUS_MAP (README "Moving from Bitrix24").
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from convodesk.accounts.models import User
from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, Message
from convodesk.conversations.normalize import clean_text, parse_id
from convodesk.crm.models import MODELS
from convodesk.lines.models import Line

from .common import page, yes
from .registry import method
from .transport import B24Error, Result, iso

# Our detailed status → the seed product's session status (imopenlines.v2.Session.list).
STATUS_MAP = {
    Status.NEW: "new",
    Status.SKIPPED: "new",
    Status.TAKEN: "answered",
    Status.CLIENT_WROTE: "answered",
    Status.CLIENT_WROTE_AFTER_AGENT: "answered",
    Status.AGENT_REPLIED: "answered",
    Status.CLOSING: "paused",
    Status.CLOSED: "closed",
    Status.SPAM: "spam",
    Status.DUPLICATE: "closed",
    Status.AUTO_CLOSED: "closed",
}
CODES_BY_STATUS = {}
for _code, _name in STATUS_MAP.items():
    CODES_BY_STATUS.setdefault(_name, []).append(int(_code))
CLOSE_REASON = {"employee": "operator", "automatic": "auto", "system": "operator"}
VOTE = {1: "like", -1: "dislike"}
WRONG_CHAT = _l("An incorrect chat identifier was provided")


def wrong_chat() -> B24Error:
    """What a missing conversation answers; a hidden one answers the same."""
    return B24Error("CHAT_ID", WRONG_CHAT, 400)


def chat_id(params: dict, *names: str) -> int:
    names = names or ("CHAT_ID",)
    for name in names:
        value = params.get(name)
        if value in (None, ""):
            continue
        text = str(value)
        if name == "DIALOG_ID" and text.lower().startswith("chat"):
            text = text[4:]
        found = parse_id(text)
        if found is None or found == 0:
            raise wrong_chat()
        return found
    raise B24Error("CHAT_ID_EMPTY", _("Chat identifier not provided"), 400)


def visible(ctx, conversation_id: int, action: str = "view") -> Conversation:
    conversation = (
        Conversation.objects.visible_to(ctx.user, "view")
        .select_related("line", "connection", "client", "identity", "responsible")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise wrong_chat()
    if (
        action != "view"
        and not Conversation.objects.visible_to(ctx.user, action)
        .filter(pk=conversation_id)
        .exists()
    ):
        raise B24Error(
            "ACCESS_DENIED",
            _("You cannot open this conversation because you do not have sufficient rights."),
            403,
        )
    return conversation


def acting(func, conversation_id: int, *args, **kwargs):
    """A service call on a conversation: NotFound (hidden or missing) is the wrong-chat error."""
    try:
        return func(conversation_id, *args, **kwargs)
    except services.NotFound:
        raise wrong_chat() from None


def source(conversation) -> str:
    connector = getattr(conversation.connection, "bitrix24_connector", None)
    if connector is not None:
        return connector.connector.code
    return conversation.channel


def user_code(conversation) -> str:
    return (
        f"{source(conversation)}|{conversation.line_id}|"
        f"{conversation.identity.external_id}|{conversation.client_id}"
    )


def _crm_visible(ctx, conversations) -> set[tuple[str, int]]:
    wanted: dict[str, set[int]] = {}
    for conv in conversations:
        if conv.crm_entity_type in MODELS and conv.crm_entity_id:
            wanted.setdefault(conv.crm_entity_type, set()).add(conv.crm_entity_id)
    seen = set()
    for kind, ids in wanted.items():
        rows = MODELS[kind].objects.visible_to(ctx.user, "view").filter(pk__in=ids)
        seen |= {(kind, pk) for pk in rows.values_list("pk", flat=True)}
    return seen


def session_out(ctx, conv, crm_seen) -> dict:
    crm = (conv.crm_entity_type, conv.crm_entity_id) in crm_seen
    tz = ctx.tz
    return {
        "id": conv.pk,
        "configId": conv.line_id,
        "source": source(conv),
        "operatorId": conv.responsible_id,
        "userId": conv.client_id,
        "userCode": user_code(conv),
        "chatId": conv.pk,
        "dateCreate": iso(conv.started_at, tz),
        "dateClose": iso(conv.closed_at, tz),
        "dateFirstAnswer": iso(conv.first_reply_at, tz),
        "dateOperatorAnswer": iso(conv.taken_at, tz),
        "status": STATUS_MAP[Status(conv.status)],
        "closeReason": (
            "spam"
            if conv.status == Status.SPAM
            else CLOSE_REASON.get(conv.closed_by)
            if conv.closed_at
            else None
        ),
        "vote": VOTE.get(conv.client_rating, "none"),
        "voteHead": conv.supervisor_rating,
        "commentHead": conv.supervisor_comment or None,
        "crmEntityType": conv.crm_entity_type if crm else None,
        "crmEntityId": conv.crm_entity_id if crm else None,
        "queueTransfers": conv.transfer_count,
        "waitAnswer": conv.first_answer_wait,
        "waitClose": conv.duration,
        "kpiFirstAnswer": None,
        "messageCount": conv.message_count,
    }


# Open channels (configs) -------------------------------------------------------------------


def line_out(line: Line, queue: list[int] | None = None) -> dict:
    out = {
        "ID": str(line.pk),
        "LINE_NAME": line.name,
        "ACTIVE": yes(line.active),
        "QUEUE_TYPE": {"all_at_once": "all", "evenly": "evenly", "strict": "strictly"}.get(
            line.distribution, line.distribution
        ),
        "QUEUE_TIME": line.queue_timeout_seconds,
        "CRM": yes(line.crm_binding != Line.CrmBinding.NOTHING),
        "CRM_CREATE": {"lead": "lead", "contact": "contact"}.get(line.crm_binding, "none"),
        "WELCOME_MESSAGE": yes(bool(line.greeting_text)),
        "WELCOME_MESSAGE_TEXT": line.greeting_text,
        "CLOSE_TEXT": line.closing_text,
        "VOTE_MESSAGE": yes(line.ask_rating),
        "DATE_CREATE": None,
    }
    if queue is not None:
        out["QUEUE"] = [str(u) for u in queue]
    return out


def _select(row: dict, select) -> dict:
    if not select or not isinstance(select, list) or "*" in select:
        return row
    return {k: v for k, v in row.items() if k in select or k == "ID"}


@method("imopenlines.config.list.get")
def config_list(ctx, params) -> Result:
    options = params.get("PARAMS") or {}
    if not isinstance(options, dict):
        raise B24Error("INVALID_ARG_VALUE", _("PARAMS must be an object."))
    lines = Line.objects.order_by("pk")
    flt = options.get("filter") or {}
    if isinstance(flt, dict):
        active = flt.get("ACTIVE", flt.get("=ACTIVE"))
        if active in ("Y", "N"):
            lines = lines.filter(active=active == "Y")
        wanted = flt.get("ID", flt.get("=ID"))
        if wanted not in (None, ""):
            ids = wanted if isinstance(wanted, list) else [wanted]
            lines = lines.filter(pk__in=[i for i in (parse_id(str(v)) for v in ids) if i])
    order = options.get("order") or {}
    if isinstance(order, dict) and str(order.get("ID", "")).upper() == "DESC":
        lines = lines.order_by("-pk")
    rows = []
    for line in lines:
        row = line_out(line)
        row["DATE_CREATE"] = iso(line.created_at, ctx.tz)
        rows.append(_select(row, options.get("select")))
    return Result(rows)


@method("imopenlines.config.get")
def config_get(ctx, params) -> Result:
    line_id = parse_id(str(params.get("CONFIG_ID", "")))
    line = Line.objects.filter(pk=line_id).first() if line_id else None
    if line is None:
        raise B24Error(
            "CONFIG_ID_EMPTY" if not line_id else "NOT_FOUND", _("Open channel not found"), 400
        )
    queue = None
    if str(params.get("WITH_QUEUE", "Y")).upper() in ("Y", "1", "TRUE"):
        queue = list(line.memberships.order_by("position", "id").values_list("user_id", flat=True))
    row = line_out(line, queue)
    row["DATE_CREATE"] = iso(line.created_at, ctx.tz)
    return Result(row)


# Sessions ------------------------------------------------------------------------------------

ORDER_FIELDS = {
    "datecreate": "started_at",
    "dateclose": "closed_at",
    "waitanswer": "first_answer_wait",
    "waitclose": "duration",
}


def _ids(value) -> list[int]:
    values = value if isinstance(value, list) else [value]
    found = [parse_id(str(v)) for v in values if v not in (None, "")]
    if any(v is None for v in found):
        raise B24Error("INVALID_ARG_VALUE", _("Identifiers must be whole numbers."))
    return found


@method("imopenlines.v2.session.list")
def session_list(ctx, params) -> Result:
    """Sessions the employee may see, 50 a page by `start` (the client's .as_list()), or by
    `offset` and `limit` as the v2 method documents them."""
    conditions = _session_filter(params)
    # The page walks the index with the per-row visibility probe; the total counts the
    # viewer's set (visibility.py: the two SQL shapes of the one rule).
    rows = (
        Conversation.objects.visible_to(ctx.user, "view")
        .filter(conditions)
        .select_related("connection__bitrix24_connector__connector", "identity")
    )
    counted = Conversation.objects.visible_to(ctx.user, "view", shape="set").filter(conditions)
    field = ORDER_FIELDS.get(str(params.get("order", "dateCreate")).lower())
    if field is None:
        raise B24Error("INVALID_ARG_VALUE", _("Unknown order."))
    descending = str(params.get("orderDirection", "desc")).lower() != "asc"
    rows = rows.order_by(f"-{field}" if descending else field, "-pk" if descending else "pk")
    if "start" not in params and ("offset" in params or "limit" in params):
        try:
            offset = min(10**9, max(0, int(params.get("offset") or 0)))
            limit = min(200, max(1, int(params.get("limit") or 50)))
        except (TypeError, ValueError):
            raise B24Error(
                "INVALID_ARG_VALUE", _("offset and limit must be whole numbers.")
            ) from None
        chunk = list(rows[offset : offset + limit])
        seen = _crm_visible(ctx, chunk)
        return Result({"sessions": [session_out(ctx, c, seen) for c in chunk]})
    chunk, total, following = page(rows, params, counted=counted)
    seen = _crm_visible(ctx, chunk)
    return Result({"sessions": [session_out(ctx, c, seen) for c in chunk]}, total, following)


def _session_filter(params) -> Q:
    """The v2 filters as one condition: open channels, operators, status, channel, dates."""
    conditions = Q()
    for key, field in (("configId", "line_id"), ("operatorId", "responsible_id")):
        if params.get(key) not in (None, ""):
            conditions &= Q(**{f"{field}__in": _ids(params[key])})
        if params.get(f"{key}List") not in (None, ""):
            conditions &= Q(**{f"{field}__in": _ids(params[f"{key}List"])})
    status = params.get("status")
    if status not in (None, ""):
        codes = CODES_BY_STATUS.get(str(status))
        if codes is None:
            raise B24Error("INVALID_ARG_VALUE", _("Unknown status."))
        conditions &= Q(status__in=codes)
    source_filter = params.get("source")
    if source_filter not in (None, ""):
        conditions &= Q(channel=str(source_filter)[:20])
    for key, lookup in (
        ("dateCreateFrom", "started_at__gte"),
        ("dateCreateTo", "started_at__lte"),
        ("dateCloseFrom", "closed_at__gte"),
        ("dateCloseTo", "closed_at__lte"),
    ):
        if params.get(key) not in (None, ""):
            conditions &= Q(**{lookup: _date(params[key], key)})
    return conditions


def _date(value, name):
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = None
    if parsed is None:
        raise B24Error("INVALID_ARG_VALUE", _("%(name)s is not an ISO 8601 date.") % {"name": name})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def chat_out(ctx, conv, crm_seen) -> dict:
    crm = (conv.crm_entity_type, conv.crm_entity_id) in crm_seen
    started = int(conv.started_at.timestamp())
    crm_type = (conv.crm_entity_type or "none").upper() if crm else "NONE"
    return {
        "id": conv.pk,
        "dialog_id": f"chat{conv.pk}",
        "name": f"{conv.client.name} - {conv.line.name}",
        "owner": conv.responsible_id or 0,
        "type": "lines",
        "entity_type": "LINES",
        "entity_id": user_code(conv),
        "entity_data_1": (
            f"{yes(crm)}|{crm_type}|{conv.crm_entity_id if crm else 0}|N|N|{conv.pk}|{started}|0|0|"
        ),
        "entity_data_2": "",
        "entity_data_3": "",
        "manager_list": [],
        "message_type": "L",
        "date_create": iso(conv.started_at, ctx.tz),
        "avatar": "",
        "color": "#29619b",
        "extranet": False,
        "session_id": conv.pk,
        "status": STATUS_MAP[Status(conv.status)],
    }


@method("imopenlines.dialog.get")
def dialog_get(ctx, params) -> Result:
    if params.get("USER_CODE") not in (None, ""):
        parts = str(params["USER_CODE"]).split("|")
        conv = None
        if len(parts) >= 4 and parse_id(parts[1]) and parse_id(parts[-1]):
            external = "|".join(parts[2:-1])
            conv = (
                Conversation.objects.visible_to(ctx.user, "view")
                .filter(
                    line_id=int(parts[1]), client_id=int(parts[-1]), identity__external_id=external
                )
                .order_by("-started_at", "-pk")
                .first()
            )
        if conv is None:
            raise B24Error("ACCESS_ERROR", _("You do not have access to the specified dialog"), 403)
        conversation_id = conv.pk
    else:
        try:
            conversation_id = chat_id(params, "CHAT_ID", "SESSION_ID", "DIALOG_ID")
        except B24Error as exc:
            if exc.code == "CHAT_ID_EMPTY":
                raise B24Error("DIALOG_ID_EMPTY", _("Dialog ID can't be empty"), 400) from None
            raise B24Error(
                "ACCESS_ERROR", _("You do not have access to the specified dialog"), 403
            ) from None
    try:
        conv = visible(ctx, conversation_id)
    except B24Error:
        raise B24Error(
            "ACCESS_ERROR", _("You do not have access to the specified dialog"), 403
        ) from None
    return Result(chat_out(ctx, conv, _crm_visible(ctx, [conv])))


def _person(user) -> dict:
    return {
        "id": str(user.pk),
        "name": user.name,
        "active": user.is_active,
        "firstName": user.first_name or user.name,
        "lastName": user.last_name,
        "bot": False,
        "connector": False,
        "externalAuthId": "default",
    }


@method("imopenlines.session.history.get")
def history_get(ctx, params) -> Result:
    conversation_id = chat_id(params, "SESSION_ID", "CHAT_ID")
    conv = visible(ctx, conversation_id, "history")
    messages = list(
        Message.objects.filter(conversation=conv)
        .exclude(author_kind=Message.Author.NOTE)  # employees' private notes stay here
        .select_related("author")
        .order_by("-created_at", "-id")
    )
    recipient = f"chat{conv.pk}"
    users = {}
    client_key = str(conv.client_id)
    out = {}
    for m in messages:
        if m.author_kind == Message.Author.CLIENT:
            sender = client_key
        elif m.author_kind == Message.Author.EMPLOYEE and m.author_id:
            sender = str(m.author_id)
            users.setdefault(sender, _person(m.author))
        else:
            sender = "0"
        out[str(m.pk)] = {
            "id": str(m.pk),
            "chatid": str(conv.pk),
            "senderid": sender,
            "recipientid": recipient,
            "date": iso(m.created_at, ctx.tz),
            "text": m.text,
            "textlegacy": m.text,
            "params": {"connectorMid": [m.external_id]} if m.external_id else [],
            "files": m.attachments or [],
        }
    users.setdefault(
        client_key,
        {
            "id": client_key,
            "name": conv.client.name,
            "active": True,
            "firstName": conv.client.name,
            "lastName": "",
            "bot": False,
            "connector": True,
            "externalAuthId": "imconnector",
        },
    )
    can_rate = Conversation.objects.visible_to(ctx.user, "rate").filter(pk=conv.pk).exists()
    return Result(
        {
            "chatId": conv.pk,
            "sessionId": conv.pk,
            "canJoin": yes(conv.is_open),
            "canVoteHead": yes(can_rate),
            "sessionVoteHead": conv.supervisor_rating or 0,
            "sessionCommentHead": conv.supervisor_comment or None,
            "userId": recipient,
            "message": out,
            "usersMessage": {recipient: list(out)},
            "users": users,
            "chat": {str(conv.pk): chat_out(ctx, conv, _crm_visible(ctx, [conv]))},
        }
    )


# Operator actions ------------------------------------------------------------------------------


@method("imopenlines.operator.answer")
def operator_answer(ctx, params) -> Result:
    acting(services.take, chat_id(params), ctx.actor)
    return Result(True)


@method("imopenlines.operator.skip")
def operator_skip(ctx, params) -> Result:
    acting(services.skip, chat_id(params), ctx.actor)
    return Result(True)


@method("imopenlines.operator.finish")
def operator_finish(ctx, params) -> Result:
    acting(services.close, chat_id(params), ctx.actor)
    return Result(True)


@method("imopenlines.operator.spam")
def operator_spam(ctx, params) -> Result:
    acting(services.mark_spam, chat_id(params), ctx.actor)
    return Result(True)


def _transfer_target(params) -> tuple[User | None, Line | None]:
    target = params.get("TRANSFER_ID")
    if target in (None, "") and params.get("QUEUE_ID") not in (None, ""):
        target = f"queue{params['QUEUE_ID']}"
    if target in (None, ""):
        target = params.get("USER_ID")
    text = str(target if target is not None else "").strip()
    if text.lower().startswith("queue"):
        line_id = parse_id(text[5:])
        line = Line.objects.filter(pk=line_id).first() if line_id else None
        if line is None:
            raise B24Error("WRONG_TRANSFER_ID", _("Unknown open channel."), 400)
        return None, line
    user_id = parse_id(text)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise B24Error("WRONG_TRANSFER_ID", _("Unknown employee."), 400)
    return user, None


@method("imopenlines.operator.transfer", "imopenlines.bot.session.transfer")
def operator_transfer(ctx, params) -> Result:
    conversation_id = chat_id(params)
    visible(ctx, conversation_id)
    employee, line = _transfer_target(params)
    acting(services.transfer, conversation_id, ctx.actor, to_employee=employee, to_line=line)
    return Result(True)


def _reply(ctx, conversation_id: int, text) -> Message:
    if not isinstance(text, str) or not clean_text(text).strip():
        raise B24Error("MESSAGE_EMPTY", _("Message can't be empty"), 400)
    return acting(services.reply, conversation_id, ctx.actor, text)


@method("imopenlines.bot.session.message.send")
def bot_message_send(ctx, params) -> Result:
    _reply(ctx, chat_id(params), params.get("MESSAGE"))
    return Result(True)


@method("im.message.add")
def im_message_add(ctx, params) -> Result:
    dialog = str(params.get("DIALOG_ID") or "")
    if not dialog:
        raise B24Error("DIALOG_ID_EMPTY", _("Dialog ID can't be empty"), 400)
    if not dialog.lower().startswith("chat"):
        raise B24Error("ACCESS_ERROR", _("You do not have access to the specified dialog"), 403)
    try:
        conversation_id = chat_id(params, "DIALOG_ID")
        message = _reply(ctx, conversation_id, params.get("MESSAGE"))
    except B24Error as exc:
        if exc.code == "CHAT_ID":
            raise B24Error(
                "ACCESS_ERROR", _("You do not have access to the specified dialog"), 403
            ) from None
        raise
    return Result(message.pk)


@method("imopenlines.crm.lead.create")
def crm_lead_create(ctx, params) -> Result:
    from . import crm

    conversation_id = chat_id(params)
    conv = visible(ctx, conversation_id, "act")
    crm.lead_for_conversation(ctx, conv)
    return Result(True)
