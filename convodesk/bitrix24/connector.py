"""imconnector.*: a custom connector posts its clients' messages into an open channel.

`imconnector.register` records the connector; `imconnector.activate` makes it live on an open
channel through an api connection of ours (created by `connectors.setup`, audited);
`imconnector.send.messages` stores each client message through the REST connector
(`connectors.rest.receive`), idempotent by the message id: a retried call never duplicates.
Replies go back as OnImConnectorMessageAdd (events.py), which the connector confirms with
`imconnector.send.status.delivery`. Registering and activating are an administrator's (the
settings permission); posting is an administrator's or an integration account's.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext as _

from convodesk.connectors import rest, setup, skipped
from convodesk.conversations import attachments
from convodesk.conversations.models import Message
from convodesk.conversations.normalize import clean, clean_text, parse_id
from convodesk.conversations.services import LineInactive
from convodesk.fielderrors import FieldErrors
from convodesk.lines.models import Line

from .common import is_admin
from .models import Connector, ConnectorLine
from .registry import method
from .transport import B24Error, Result, access_denied

log = logging.getLogger("convodesk.bitrix24")

MAX_MESSAGES = 50


def _admin(ctx):
    if not is_admin(ctx.user):
        raise access_denied()


def _code(params) -> str:
    code = clean_text(str(params.get("CONNECTOR", params.get("ID", "")) or ""), 100).strip()
    if not code:
        raise B24Error("CONNECTOR", _("Argument 'CONNECTOR' is null or empty"), 400)
    return code


def _line(params) -> Line:
    line_id = parse_id(str(params.get("LINE", "")))
    if not line_id:
        raise B24Error("LINE", _("Argument 'LINE' is null or empty"), 400)
    line = Line.objects.filter(pk=line_id).first()
    if line is None:
        raise B24Error("NOT_ACTIVE_LINE", _("Line with this ID is inactive or does not exist"), 400)
    return line


def _connector(params) -> Connector:
    connector = Connector.objects.filter(code=_code(params)).first()
    if connector is None:
        raise B24Error(
            "IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR", _("Connector not specified"), 400
        )
    return connector


@method("imconnector.register")
def register(ctx, params) -> Result:
    _admin(ctx)
    code = clean_text(str(params.get("ID", "") or ""), 100).strip()
    if not code:
        raise B24Error("ID", _("Argument 'ID' is null or empty"), 400)
    name = clean_text(str(params.get("NAME", "") or ""), 200).strip() or code
    handler = params.get("PLACEMENT_HANDLER") or ""
    if handler and not attachments.safe_url(handler):
        raise B24Error("PLACEMENT_HANDLER", _("Enter an http(s) URL."), 400)
    connector, created = Connector.objects.update_or_create(
        code=code,
        defaults={"name": name, "placement_handler": attachments.safe_url(handler)},
        create_defaults={
            "name": name,
            "placement_handler": attachments.safe_url(handler),
            "created_by": ctx.user,
        },
    )
    return Result(True)


@method("imconnector.unregister")
def unregister(ctx, params) -> Result:
    _admin(ctx)
    connector = _connector(params)
    for row in connector.lines.select_related("connection"):
        setup.update_connection(row.connection, active=False, actor=ctx.user)
    connector.lines.update(active=False)
    return Result(True)


@method("imconnector.activate")
def activate(ctx, params) -> Result:
    _admin(ctx)
    connector, line = _connector(params), _line(params)
    active = str(params.get("ACTIVE", "1")).upper() in ("1", "Y", "TRUE")
    row = (
        ConnectorLine.objects.select_related("connection")
        .filter(connector=connector, line=line)
        .first()
    )
    try:
        if row is None and active:
            connection, _secret = setup.create_connection(
                line, "api", connector.name[:200], {}, actor=ctx.user
            )
            ConnectorLine.objects.create(connector=connector, line=line, connection=connection)
            # Kept on the connection (a key the product writes, like a bot's name) so that the
            # reply path knows it without a query: see events.api_delivers.
            connection.config = {**connection.config, "connector": connector.code}
            connection.save(update_fields=["config"])
        elif row is not None:
            setup.update_connection(row.connection, active=active, actor=ctx.user)
            if row.active != active:
                row.active = active
                row.save(update_fields=["active"])
    except FieldErrors as exc:
        raise B24Error("INVALID_ARG_VALUE", " ".join(map(str, exc.errors.values()))) from None
    return Result(True)


def status_out(connector, row) -> dict:
    live = bool(row and row.active and row.connection.active and row.line.active)
    return {
        "LINE": row.line_id if row else None,
        "CONNECTOR": connector.code,
        "ERROR": False,
        "CONFIGURED": row is not None,
        "STATUS": live,
    }


@method("imconnector.status")
def status(ctx, params) -> Result:
    connector = _connector(params)
    rows = connector.lines.select_related("connection", "line")
    if params.get("LINE") not in (None, ""):
        line = _line(params)
        return Result(status_out(connector, rows.filter(line=line).first()) | {"LINE": line.pk})
    return Result([status_out(connector, row) for row in rows.order_by("line_id")])


@method("imconnector.list")
def connector_list(ctx, params) -> Result:
    return Result({c.code: c.name for c in Connector.objects.order_by("code")})


def live_connection(ctx, params):
    """The api connection of an active connector on an active open channel."""
    if not (is_admin(ctx.user) or ctx.user.is_integration):
        raise access_denied()
    connector, line = _connector(params), _line(params)
    row = (
        ConnectorLine.objects.select_related("connection__line")
        .filter(connector=connector, line=line, active=True, connection__active=True)
        .first()
    )
    if row is None or not line.active:
        raise B24Error("NOT_ACTIVE_LINE", _("Line with this ID is inactive or does not exist"), 400)
    return connector, row.connection


def _messages(params) -> list:
    messages = params.get("MESSAGES")
    if messages in (None, "", []):
        raise B24Error("MESSAGES", _("Argument 'MESSAGES' is null or empty"), 400)
    if isinstance(messages, dict):
        messages = list(messages.values())
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise B24Error("100", _("The MESSAGES parameter must be an array of messages (arrays)"))
    if len(messages) > MAX_MESSAGES:
        raise B24Error("100", _("At most %(n)s messages at once.") % {"n": MAX_MESSAGES})
    return messages


def _part(item: dict, key: str) -> dict:
    value = item.get(key) or {}
    return value if isinstance(value, dict) else {}


def _incoming(item: dict) -> rest.IncomingMessage:
    user, message, chat = _part(item, "user"), _part(item, "message"), _part(item, "chat")
    user_id = clean(str(user.get("id", "") or "")).strip()
    chat_key = clean(str(chat.get("id", "") or "")).strip() or user_id
    message_id = clean(str(message.get("id", "") or "")).strip()
    text = message.get("text") or ""
    files = message.get("files") or []
    if isinstance(files, dict):
        files = list(files.values())
    if not isinstance(text, str) or not isinstance(files, list):
        raise ValueError(_("Not all required data has been provided"))
    found = []
    for file in files[: rest.MAX_ATTACHMENTS]:
        url = attachments.safe_url(file.get("url") if isinstance(file, dict) else None)
        if url:
            found.append({"url": url, "name": str(file.get("name", "") or "")[:255]})
    if not user_id or not message_id or len(chat_key) > 255 or len(message_id) > 255:
        raise ValueError(_("Not all required data has been provided"))
    if not clean(text).strip() and not found:
        raise ValueError(_("Not all required data has been provided"))
    name = " ".join(
        clean(str(user.get(k) or "")).strip() for k in ("name", "last_name") if user.get(k)
    )
    sent_at = None
    date = message.get("date")
    if date not in (None, ""):
        try:
            sent_at = dt.datetime.fromtimestamp(int(float(date)), dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            sent_at = None
    return rest.IncomingMessage(
        external_message_id=message_id,
        client=rest.IncomingClient(
            external_id=chat_key,
            name=name[:255],
            phone=str(user.get("phone", "") or "")[:64],
            email=str(user.get("email", "") or "")[:254],
        ),
        text=text[:20000],
        attachments=found,
        sent_at=sent_at,
        source_url=str(chat.get("url", "") or "")[:1000],
    )


@method("imconnector.send.messages")
def send_messages(ctx, params) -> Result:
    connector, connection = live_connection(ctx, params)
    results = []
    for item in _messages(params):
        chat = _part(item, "chat")
        try:
            incoming = _incoming(item)
        except ValueError as exc:
            results.append(
                {
                    "SUCCESS": False,
                    "ERRORS": [
                        {"code": "IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA", "message": str(exc)}
                    ],
                }
            )
            continue
        try:
            received = rest.receive(connection, incoming)
        except LineInactive:
            raise B24Error(
                "NOT_ACTIVE_LINE", _("Line with this ID is inactive or does not exist"), 400
            ) from None
        except Exception as exc:
            if not skipped.is_message_fault(exc):
                raise
            skipped.record(connection, incoming.external_message_id, exc, str(item)[:2000])
            results.append(
                {
                    "SUCCESS": False,
                    "ERRORS": [{"code": "MESSAGE_NOT_STORED", "message": str(exc)[:500]}],
                }
            )
            continue
        conv = received.conversation
        results.append(
            {
                "SUCCESS": True,
                "session": {"ID": conv.pk, "CHAT_ID": conv.pk},
                "chat": {"id": chat.get("id") or incoming.client.external_id},
                "message": [received.message.pk],
                "new": received.created,
            }
        )
    return Result({"SUCCESS": all(r["SUCCESS"] for r in results), "DATA": {"RESULT": results}})


@method("imconnector.send.status.delivery", "imconnector.send.status.reading")
def status_delivery(ctx, params) -> Result:
    """The connector confirms that our replies reached its channel (their ids there kept)."""
    _connector_code, connection = live_connection(ctx, params)
    results = []
    for item in _messages(params):
        im = _part(item, "im")
        message_id = parse_id(str(im.get("message_id", "")))
        conversation_id = parse_id(str(im.get("chat_id", "")))
        ids = _part({"m": item.get("message")}, "m").get("id")
        channel_id = ids[0] if isinstance(ids, list) and ids else ids
        row = (
            Message.objects.filter(
                pk=message_id,
                conversation_id=conversation_id,
                conversation__connection=connection,
                author_kind__in=(Message.Author.EMPLOYEE, Message.Author.BOT),
            ).first()
            if message_id and conversation_id
            else None
        )
        if row is None:
            results.append({"SUCCESS": False, "ERRORS": [{"code": "MESSAGE_NOT_FOUND"}]})
            continue
        changes = {}
        if channel_id not in (None, "") and not row.channel_message_id:
            changes["channel_message_id"] = clean(str(channel_id))[:255]
        if changes:
            Message.objects.filter(pk=row.pk).update(**changes)
        results.append({"SUCCESS": True})
    return Result({"SUCCESS": all(r["SUCCESS"] for r in results), "DATA": {"RESULT": results}})
