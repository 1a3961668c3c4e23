"""Conversations: the list (the one filter set and column registry), one conversation, its
messages and events, and the operator actions, all through the services and `visible_to`."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Body, Field, File, Form, Query, Router, Schema, UploadedFile
from pydantic import create_model

from convodesk.accounts.models import User
from convodesk.connectors import telegram
from convodesk.conversations import attachments, services, uploads, visibility
from convodesk.conversations.columns import (
    COLUMNS,
    SORTABLE,
    api_item,
    prefetch_for,
    related_for,
    with_crm_links,
)
from convodesk.conversations.filters import FILTER_PARAMS, ConversationFilter, scope_tz
from convodesk.conversations.models import (
    Client,
    ClientIdentity,
    Conversation,
    ConversationEvent,
    Message,
    Tag,
)
from convodesk.conversations.paging import (
    BadCursor,
    Count,
    after_cursor,
    bounded_count,
    make_cursor,
    read_cursor,
)
from convodesk.conversations.services import Actor
from convodesk.conversations.visibility import countable, merged_walk
from convodesk.lines.models import CloseReason, Connection, Line
from convodesk.stats import aggregates

from . import errors
from .errors import ApiError, Status, also, invalid, not_found
from .schemas import (
    DateTime,
    Input,
    IsoDateTimeIn,
    Item,
    OptionalDateTime,
    Ref,
    ReplyFilesIn,
)
from .serializers import event_out, message_out

router = Router(tags=["conversations"])

MAX_ID = 2**62
LIST_EXTRA = ("limit", "cursor", "updated_since", "columns")


# Schemas ------------------------------------------------------------------------------

FILTER_HELP = {
    "status": "Simple status: waiting, answered, closed (comma-separated)",
    "status_detail": "Detailed status names, e.g. new,taken,auto_closed",
    "channel": "livechat, telegram, email, api",
    "line": "Open channel ids",
    "connection": "Connection ids",
    "responsible": "Employee ids; none = not assigned",
    "type": "incoming or outgoing",
    "q": "Free-text search",
    "client": "Client name contains",
    "contact": "Phone (normalised) or e-mail",
    "id": "Conversation id",
    "sort": "A sortable column key, - prefix for descending (default -started_at)",
}
ListParams = create_model(
    "ConversationListParams",
    __base__=Schema,
    **{
        name: (
            str | None,
            Field(None, description=FILTER_HELP.get(name, "See SPEC filter parameters")),
        )
        for name in sorted(FILTER_PARAMS)
    },
    limit=(int, Field(50, ge=1, le=500)),
    cursor=(
        str | None,
        Field(None, max_length=500, description="next_cursor of the previous page"),
    ),
    updated_since=(
        IsoDateTimeIn | None,
        Field(None, description="Only conversations changed after this instant"),
    ),
    columns=(str | None, Field(None, description="Column keys to return (default: every column)")),
)


class ConversationPage(Schema):
    items: list[Item]
    next_cursor: str | None
    count: int
    count_exact: bool


class AttachmentOut(Schema):
    """An attachment: a posted link (`url`), or a file the product keeps (`download`), or a
    file a channel brought in that the product refused (`refused` says why)."""

    name: str | None = None
    content_type: str | None = None
    size: int | float | None = None
    url: str | None = Field(None, description="A link posted with the message (http or https)")
    download: str | None = Field(
        None,
        description="The API path that serves the file (a client's Telegram or e-mail file, an "
        "employee's upload), for whoever may read the conversation's history",
    )
    refused: str | None = Field(
        None, description="Why the product did not keep this file (too large, a type not accepted)"
    )


class MessageOut(Schema):
    id: int
    conversation_id: int
    author_kind: Literal[tuple(Message.Author.values)] = Field(  # type: ignore[valid-type]
        ...,
        description=(
            "Who wrote it: the client, an employee, the system, an automatic text, or `note`: "
            "an employee's private note, which is never sent to the client"
        ),
    )
    author: Ref | None = Field(..., description="The employee who wrote it, if any")
    text: str
    attachments: list[AttachmentOut]
    created_at: DateTime
    channel_sent_at: OptionalDateTime = Field(..., description="When the channel says it was sent")
    external_id: str | None
    delivery_state: Literal["pending", "sent", "failed"] | None = Field(
        ..., description="For messages to the client: its delivery through the channel"
    )
    delivery_attempts: int
    delivery_error: str | None
    next_attempt_at: OptionalDateTime


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    conversation_id: int
    kind: str
    actor_kind: str
    actor: Ref | None
    from_status: str | None = Field(..., description="A detailed status name")
    to_status: str | None = Field(..., description="A detailed status name")
    at: DateTime
    payload: dict[str, Any] = Field(..., description="What changed; its keys depend on the kind")


class EventPage(Schema):
    items: list[EventOut]
    last_id: int | None


class ReplyIn(Input):
    text: str = Field(..., min_length=1, max_length=20000)
    attachments: list[dict] = Field(default_factory=list, max_length=20)
    note: bool = Field(
        False,
        description=(
            "A private note for employees: never sent to the client or any channel, and not "
            "counted as a reply in any metric"
        ),
    )


class TransferIn(Input):
    employee: int | None = Field(None, description="Target employee id")
    line: int | None = Field(None, description="Target open channel id")
    comment: str = Field("", max_length=2000)


class CloseIn(Input):
    close_reason: int | None = Field(
        None,
        description="One of the open channel's close reasons (GET /lines/{id}/close-reasons); "
        "required when the open channel requires one",
    )


class TagsIn(Input):
    add: list[int] = Field(default_factory=list, description="Tag ids to add", max_length=100)
    remove: list[int] = Field(default_factory=list, description="Tag ids to remove", max_length=100)


class TagOut(Schema):
    id: int
    name: str
    colour: str
    archived: bool


class CloseReasonOut(Schema):
    id: int
    name: str


class RatingIn(Input):
    rating: int | None = Field(..., ge=1, le=5, description="1-5 stars; null clears the rating")
    comment: str = Field("", max_length=2000)


class StartIn(Input):
    client: int = Field(..., description="Client id")
    connection: int = Field(..., description="Connection id the client is known on")
    text: str = Field(..., min_length=1, max_length=20000)


# Helpers ------------------------------------------------------------------------------


def _user(request) -> User:
    return request.auth


@contextmanager
def _field_errors():
    """A service's ValidationError as the API's 422: {field: message}."""
    try:
        yield
    except DjangoValidationError as exc:
        raise invalid({k: str(v[0]) for k, v in exc.message_dict.items()}) from None


def _check_id(conversation_id: int) -> int:
    if not 0 < conversation_id < MAX_ID:
        raise not_found()
    return conversation_id


def _with_related(queryset, keys):
    queryset = queryset.select_related(*related_for(keys))
    if "crm_record" in keys:
        queryset = with_crm_links(queryset)
    return prefetch_for(queryset, keys)


def visible(user, conversation_id: int, action: str = "view") -> Conversation:
    """The conversation if the user may see it (else 404) and may do `action` on it (else 403):
    `visibility.access`, whose NotFound / NotAllowed the API's error handlers answer."""
    _check_id(conversation_id)
    queryset = _with_related(Conversation.objects.all(), list(COLUMNS))
    return visibility.access(user, conversation_id, action, queryset=queryset)


def item(user, conversation_id: int) -> Item:
    return api_item(visible(user, conversation_id))


def after_action(user, conversation_id: int) -> Item:
    """The conversation after an action; only its id when the action took it out of the user's sight
    (a skip in a queue leaves nothing for a queue-only member to see)."""
    try:
        return item(user, conversation_id)
    except (ApiError, services.NotFound):
        return {"id": conversation_id}


def _columns(raw: str | None) -> list[str]:
    if not raw:
        return list(COLUMNS)
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in keys if k not in COLUMNS]
    if unknown:
        raise invalid({"columns": _("Unknown columns: %(keys)s.") % {"keys": ", ".join(unknown)}})
    return list(dict.fromkeys(keys)) or list(COLUMNS)


def _has_nul(params) -> list[str]:
    return [k for k, values in params.lists() if any("\x00" in v for v in values)]


def filter_params(request, extra=LIST_EXTRA) -> dict[str, str]:
    """The query string as the filter set reads it; unknown parameters are a 422 naming them."""
    unknown = sorted(k for k in request.GET.keys() if k not in FILTER_PARAMS and k not in extra)
    errors = {k: _("Unknown parameter.") for k in unknown}
    errors.update({k: _("Contains a NUL character.") for k in _has_nul(request.GET)})
    if errors:
        raise invalid(errors)
    return {k: ",".join(request.GET.getlist(k)) for k in request.GET.keys() if k in FILTER_PARAMS}


def filtered(user, params: dict, action: str = "view") -> tuple[Conversation, ConversationFilter]:
    conv_filter = ConversationFilter(params, tz=scope_tz(user))
    if conv_filter.errors:
        raise invalid(dict(conv_filter.errors))
    # the page's ids are walked off the sort index (filter(walk=True)); counts use countable()
    return conv_filter.filter(Conversation.objects.visible_to(user, action), walk=True), conv_filter


def _field(path: str):
    model, field = Conversation, None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model or model
    return field


def _cursor_value(path: str, value):
    """A cursor's sort value must have the sort field's type (a cursor from another sort is refused)."""
    if value is None:
        return None
    internal = _field(path).get_internal_type()
    if internal == "DateTimeField":
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value
    elif "Integer" in internal or internal in ("AutoField", "BigAutoField", "ForeignKey"):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_ID:
            return value
    elif isinstance(value, str) and len(value) <= 1000 and "\x00" not in value:
        return value
    raise BadCursor("type")


def cursor_key(conv_filter: ConversationFilter, cursor: str | None):
    """The (sort value, id) a cursor names, checked against the sort; None without a cursor."""
    if not cursor:
        return None
    try:
        value, pk = read_cursor(cursor)
        if not 0 < pk < MAX_ID:
            raise BadCursor("id")
        value = _cursor_value(conv_filter.sort_field, value)
    except (BadCursor, ValueError, TypeError, OverflowError):
        raise invalid({"cursor": _("This cursor is not valid for this sort.")}) from None
    return value, pk


def page_after(queryset, conv_filter: ConversationFilter, cursor: str | None):
    key = cursor_key(conv_filter, cursor)
    if key is None:
        return queryset
    field, descending = conv_filter.sort_field, conv_filter.sort_descending
    return after_cursor(queryset, field, descending, *key)


# The list ----------------------------------------------------------------------------


@router.get(
    "/conversations",
    response=ConversationPage,
    exclude_unset=True,
    summary="List, filter, sort and page conversations",
)
def list_conversations(request, params: Query[ListParams]):
    user = _user(request)
    keys = _columns(params.columns)
    queryset, conv_filter = filtered(user, filter_params(request))
    counted = countable(user, conv_filter, "view")
    if params.updated_since is not None:
        since = params.updated_since
        if since.tzinfo is None:
            since = timezone.make_aware(since, scope_tz(user))
        queryset = queryset.filter(updated_at__gt=since)
        counted = conv_filter.filter(
            Conversation.objects.visible_to(user, "view", shape="set")
        ).filter(updated_at__gt=since)
    total = aggregates.rollup_total(user, conv_filter) if params.updated_since is None else None
    if total is not None:
        count = Count(total, True)
    else:
        count = bounded_count(counted, known_large=conv_filter.known_large)
    # Ids first, then their rows with the joins (as the list page does): ordering the joined
    # rows made the database sort every match with its joins (110 ms for 13,000 waiting
    # conversations at 1,000,000), the ids alone come off the index.
    walk = merged_walk(user, "view", conv_filter) if params.updated_since is None else None
    if walk is not None:
        # A department supervisor's page off the merge of their employees' participant rows
        # (the list page's walk, visibility.merged_walk), after the cursor when there is one.
        after = cursor_key(conv_filter, params.cursor)
        ids = [pk for _, pk in walk.keys(limit=params.limit + 1, after=after)]
    else:
        ordered = page_after(queryset, conv_filter, params.cursor)
        ordered = ordered.order_by(*conv_filter.ordering()).values_list("pk", flat=True)
        ids = list(ordered[: params.limit + 1])  # LIMIT in the statement, not after reading all
    by_id = _with_related(Conversation.objects.filter(pk__in=ids), keys).in_bulk()
    rows = [by_id[pk] for pk in ids if pk in by_id]
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        from convodesk.conversations.paging import sort_value_of

        next_cursor = make_cursor(sort_value_of(last, conv_filter.sort_field), last.pk)
    return {
        "items": [api_item(conv, keys) for conv in rows],
        "next_cursor": next_cursor,
        "count": count.value,
        "count_exact": count.exact,
    }


@router.post(
    "/conversations",
    response={201: Item},
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Start an outgoing conversation",
)
def start_conversation(request, payload: StartIn):
    user = _user(request)
    errors = {}
    client = (
        Client.objects.filter(pk=payload.client).first() if 0 < payload.client < MAX_ID else None
    )
    if client is None or not (
        Conversation.objects.visible_to(user, "act").filter(client=client).exists()
    ):
        # A client known only through conversations the user may not act on is "unknown":
        # starting (or probing for an open conversation) needs the client to be visible.
        errors["client"] = _("Unknown client.")
    connection = (
        Connection.objects.filter(pk=payload.connection).first()
        if 0 < payload.connection < MAX_ID
        else None
    )
    if connection is None:
        errors["connection"] = _("Unknown connection.")
    if errors:
        raise invalid(errors)
    identity = (
        ClientIdentity.objects.filter(client=client, connection=connection).order_by("id").first()
    )
    if identity is None:
        raise invalid({"connection": _("The client has not written through this connection.")})
    conv = services.start_outgoing(Actor.of(user), identity, payload.text)
    return Status(201, item(user, conv.pk))


@router.get(
    "/conversations/{conversation_id}",
    response=Item,
    exclude_unset=True,
    summary="One conversation with its metrics",
)
def get_conversation(request, conversation_id: int):
    return item(_user(request), conversation_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response=MessagePage,
    summary="The transcript, oldest first, cursor-paged",
)
def conversation_messages(
    request,
    conversation_id: int,
    cursor: str | None = Query(None, max_length=500),
    limit: int = Query(100, ge=1, le=500),
):
    conv = visible(_user(request), conversation_id, "history")
    rows = Message.objects.filter(conversation=conv).select_related("author", "connection")
    if cursor:
        try:
            value, pk = read_cursor(cursor)
            if not isinstance(value, dt.datetime) or value.tzinfo is None or not 0 < pk < MAX_ID:
                raise BadCursor("type")
        except (BadCursor, ValueError, TypeError, OverflowError):
            raise invalid({"cursor": _("This cursor is not valid.")}) from None
        rows = after_cursor(rows, "created_at", False, value, pk)
    rows = list(rows.order_by("created_at", "id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = make_cursor(rows[-1].created_at, rows[-1].pk)
    return {"items": [message_out(m) for m in rows], "next_cursor": next_cursor}


FILE_DOC = {
    "responses": {
        200: {
            "description": "The file, as an attachment",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **also(502)["responses"],
    }
}


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/files/{index}",
    openapi_extra=FILE_DOC,
    url_name="message_file",
    summary="Download a file of a message (its `download` path)",
)
def message_file(request, conversation_id: int, message_id: int, index: int):
    """Files the product keeps: a client's Telegram or e-mail file, an employee's upload. 404
    for a conversation the caller cannot read, a message or file that is not there, or a posted
    link (fetch it where it points); 502 when Telegram cannot hand over a file not fetched yet."""
    conv = visible(_user(request), conversation_id, "history")
    message = (
        Message.objects.select_related("connection")
        .filter(conversation=conv, pk=_check_id(message_id))
        .first()
    )
    if message is None:
        raise not_found()
    try:
        message = telegram.fetch_on_opening(message, index)
        content, filename = attachments.open_file(message, index)
    except attachments.NotServable:
        raise not_found() from None
    except attachments.FetchFailed as exc:
        raise ApiError(
            502,
            errors.HTTP_CODES[502],
            _("The file could not be fetched from the channel: %(reason)s") % {"reason": exc},
        ) from None
    return attachments.download(content, filename)


@router.get(
    "/conversations/{conversation_id}/events",
    response=EventPage,
    summary="Every recorded change of one conversation, in order",
)
def conversation_events(
    request,
    conversation_id: int,
    after: int = Query(0, ge=0, lt=MAX_ID),
    limit: int = Query(200, ge=1, le=1000),
):
    conv = visible(_user(request), conversation_id, "history")
    rows = list(
        ConversationEvent.objects.filter(conversation=conv, id__gt=after)
        .select_related("actor")
        .order_by("id")[:limit]
    )
    return {"items": [event_out(e) for e in rows], "last_id": rows[-1].pk if rows else None}


# Operator actions -------------------------------------------------------------------


@router.post(
    "/conversations/{conversation_id}/take",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Take (Answer) a conversation",
)
def take(request, conversation_id: int):
    user = _user(request)
    services.take(_check_id(conversation_id), Actor.of(user))
    return after_action(user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/skip",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Skip a conversation offered to you",
)
def skip(request, conversation_id: int):
    user = _user(request)
    services.skip(_check_id(conversation_id), Actor.of(user))
    return after_action(user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut},
    openapi_extra=also(409),
    summary=(
        "Write to the client (an integration's token writes an automatic text), "
        "or a private note for employees (`note`)"
    ),
)
def post_reply(request, conversation_id: int, payload: ReplyIn):
    user = _user(request)
    try:
        files = attachments.clean(attachments.from_outside(payload.attachments))
    except attachments.AttachmentError as exc:
        raise invalid({exc.field: exc.message_text}) from None
    write = services.add_private_note if payload.note else services.reply
    message = write(_check_id(conversation_id), Actor.of(user), payload.text, attachments=files)
    message.refresh_from_db()
    return Status(201, message_out(message))


UPLOAD_STATUS = {uploads.UploadRefused.TOO_LARGE: 413, uploads.UploadRefused.TYPE: 415}


@router.post(
    "/conversations/{conversation_id}/messages/files",
    response={201: MessageOut},
    openapi_extra={
        "responses": {
            **also(409, 415)["responses"],
            **errors.worded(
                400,
                "A file is empty (bad_request)",
            ),
            **errors.worded(413, "A file is larger than the server accepts (too_large)"),
        }
    },
    summary=(
        "Write to the client with files attached (multipart/form-data: `files`, one or more; "
        "`text`; `note`), under the size and type limits of the composer"
    ),
)
def post_reply_with_files(
    request,
    conversation_id: int,
    payload: Form[ReplyFilesIn],
    files: Annotated[
        list[UploadedFile],
        File(max_length=uploads.MAX_FILES, description="One or more files, at most 10"),
    ],
):
    """The files are checked (413 too large, 415 a type not accepted, 400 empty),
    named safely and stored like the composer's, then sent like `POST …/messages`. Nothing is
    stored for a conversation the caller cannot see, and nothing stays when the reply is
    refused."""
    user = _user(request)
    visible(user, conversation_id)
    try:
        message = services.write_with_files(
            conversation_id, Actor.of(user), payload.text, files, note=payload.note
        )
    except uploads.UploadRefused as exc:
        status = UPLOAD_STATUS.get(exc.reason, 400)
        raise ApiError(status, errors.HTTP_CODES[status], exc.message) from None
    message.refresh_from_db()
    return Status(201, message_out(message))


@router.post(
    "/conversations/{conversation_id}/transfer",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Transfer to an employee or an open channel",
)
def transfer(request, conversation_id: int, payload: TransferIn):
    user = _user(request)
    visible(user, conversation_id)
    if (payload.employee is None) == (payload.line is None):
        raise invalid(
            {
                "employee": _("Give either an employee or an open channel."),
                "line": _("Give either an employee or an open channel."),
            }
        )
    to_employee = to_line = None
    if payload.employee is not None:
        to_employee = (
            User.objects.filter(pk=payload.employee).first()
            if 0 < payload.employee < MAX_ID
            else None
        )
        if to_employee is None:
            raise invalid({"employee": _("Unknown employee.")})
    else:
        to_line = (
            Line.objects.filter(pk=payload.line).first() if 0 < payload.line < MAX_ID else None
        )
        if to_line is None:
            raise invalid({"line": _("Unknown open channel.")})
    services.transfer(
        conversation_id,
        Actor.of(user),
        to_employee=to_employee,
        to_line=to_line,
        comment=payload.comment,
    )
    return after_action(user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/close",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Close a conversation (with a close reason where the open channel asks for one)",
)
def close(request, conversation_id: int, payload: Body[CloseIn | None] = None):
    """The body is optional; a conversation whose open channel requires a close reason answers
    422 (`close_reason`) without one."""
    user = _user(request)
    reason = payload.close_reason if payload is not None else None
    with _field_errors():
        services.close(_check_id(conversation_id), Actor.of(user), reason=reason)
    return after_action(user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/tags",
    response=Item,
    exclude_unset=True,
    summary="Add and remove tags",
)
def change_tags(request, conversation_id: int, payload: TagsIn):
    """Archived tags cannot be added (422); unknown tag ids answer 422."""
    user = _user(request)
    with _field_errors():
        services.change_tags(
            _check_id(conversation_id), Actor.of(user), add=payload.add, remove=payload.remove
        )
    return after_action(user, conversation_id)


@router.get("/tags", response=list[TagOut], summary="The tags (archived ones too)")
def tag_list(request):
    _user(request)
    return list(Tag.objects.order_by("name", "id"))


@router.get(
    "/lines/{line_id}/close-reasons",
    response=list[CloseReasonOut],
    summary="An open channel's close reasons that can be chosen",
)
def close_reasons(request, line_id: int):
    _user(request)
    if not 0 < line_id < MAX_ID:
        raise not_found()
    return list(CloseReason.objects.filter(line_id=line_id, archived=False))


@router.post(
    "/conversations/{conversation_id}/spam",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="Close a conversation as spam",
)
def spam(request, conversation_id: int):
    user = _user(request)
    services.mark_spam(_check_id(conversation_id), Actor.of(user))
    return after_action(user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/rating",
    response=Item,
    exclude_unset=True,
    openapi_extra=also(409),
    summary="The supervisor's rating (1-5) and comment",
)
def rate(request, conversation_id: int, payload: RatingIn):
    user = _user(request)
    services.supervisor_rate(
        _check_id(conversation_id), Actor.of(user), payload.rating, payload.comment
    )
    return after_action(user, conversation_id)


__all__ = ["filter_params", "filtered", "router", "visible", "SORTABLE"]
