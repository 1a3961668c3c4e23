"""The API's typed answers: the error body, dates, references and a conversation `Item`.

`Item` is derived from the one column registry (conversations/columns.py): each column's kind
gives its value shape, and the few columns whose API value is written by hand (`api=`) declare
their keys here. A column added to the registry with a kind gets its field by itself; a column
with a hand-written API value and no shape below stops the API from loading, so the published
document cannot fall behind the answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, WithJsonSchema, create_model

from convodesk.conversations import columns as registry
from convodesk.conversations.lifecycle import SIMPLE_LABELS, STATUS_KEYS
from convodesk.lines.models import Connection

# Dates ---------------------------------------------------------------------------------
# The answers carry ISO 8601 text in UTC ("2026-12-04T18:13:00.123456Z", SPEC "Value shapes");
# declared as `format: date-time` so a generated client reads them as datetimes.
DATE_TIME_SCHEMA = {"type": "string", "format": "date-time"}
DateTime = Annotated[str, WithJsonSchema(DATE_TIME_SCHEMA)]
OptionalDateTime = Annotated[
    str | None, WithJsonSchema({"anyOf": [DATE_TIME_SCHEMA, {"type": "null"}]})
]


def _iso_only(value):
    """An ISO 8601 text only: pydantic would also read a number as a Unix time."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date and time is expected")
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 date and time is expected") from None


IsoDateTimeIn = Annotated[dt.datetime, BeforeValidator(_iso_only)]  # for parameters and bodies


# Errors --------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str = Field(..., description="A stable machine-readable code, e.g. validation_error")
    message: str = Field(..., description="A sentence for people, in the caller's language")
    details: dict[str, Any] | None = Field(
        None, description="For 422: {parameter or field: message}"
    )


class ErrorOut(Schema):
    error: ErrorDetail


# Shared shapes -------------------------------------------------------------------------


class Input(Schema):
    """A request body: values of the declared JSON type only (no 0 for false, no "5" or 5.0 for
    5), so what the document promises to refuse is refused with a 422 naming the field."""

    model_config = ConfigDict(strict=True)


class Ref(Schema):
    """An employee, open channel, connection or client: its id and display name."""

    id: int
    name: str


def _open_schema(schema: dict) -> None:
    # Optional item fields are "absent", not "null unless given": drop pydantic's `default: null`
    # on types that are never null (a boolean with a null default reads as a nullable boolean).
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class Partial(Schema):
    """Fields not sent are absent from the answer (served with exclude_unset)."""

    model_config = ConfigDict(json_schema_extra=_open_schema)


class CrmLink(Schema):
    type: str = Field(..., description="contact, company, lead or deal")
    id: int
    title: str


class TagRef(Schema):
    """A tag on a conversation (managed in settings)."""

    id: int
    name: str
    colour: str = Field(..., description="grey, blue, green, yellow, orange, red or purple")


# The conversation item, from the column registry ---------------------------------------

SimpleStatus = Literal[tuple(str(k) for k in SIMPLE_LABELS)]  # type: ignore[misc]
DetailedStatus = Literal[tuple(STATUS_KEYS.values())]  # type: ignore[misc]

# Columns with a closed set of values: the registry's own label maps name them.
CHOICES: dict[str, Any] = {
    "type": Literal[tuple(str(k) for k in registry.TYPE_LABELS)],  # type: ignore[misc]
    "status": SimpleStatus,
    "closed_by": Literal[tuple(registry.CLOSED_BY_LABELS)] | None,  # type: ignore[misc]
    "channel": Literal[tuple(Connection.Kind.values)],  # type: ignore[misc]
}

KIND_SHAPES: dict[str, Any] = {
    registry.KIND_INT: int,
    registry.KIND_DURATION: int | None,
    registry.KIND_DATETIME: OptionalDateTime,
    registry.KIND_TEXT: str | None,
    registry.KIND_BOOL: bool,
    registry.KIND_REF: Ref | None,
    registry.KIND_CHOICE: str | None,
    registry.KIND_RATING: Literal["like", "dislike"] | None,
    registry.KIND_STARS: int | None,
}

# The keys a hand-written `api=` value of a column answers with, and their shapes.
CUSTOM_API_SHAPES: dict[str, dict[str, tuple[Any, str]]] = {
    "status_detail": {
        "status_detail": (DetailedStatus, "The detailed status name"),
        "status_detail_code": (int, "The detailed status code (SPEC: new 0 … auto_closed 75)"),
    },
    "crm_record": {
        "crm_record": (str | None, "The primary bound CRM record as text"),
        "crm_entity_type": (str | None, "contact, company, lead or deal"),
        "crm_entity_id": (int | None, "The primary bound CRM record's id"),
        "crm_title": (str | None, "The primary bound CRM record's title"),
        "crm_records": (list[CrmLink], "Every bound CRM record, primary first"),
    },
    "crm_activity": {"crm_activity_id": (int | None, "The conversation's CRM activity")},
    "tags": {"tags": (list[TagRef], "The conversation's tags, by name")},
    "due_at": {
        "due_at": (
            OptionalDateTime,
            "When the reply-time target of the client's current wait runs out (ISO 8601 in "
            "UTC), or null: nobody waits or the open channel has no target",
        ),
        "overdue": (bool, "Past its due instant now"),
    },
}

DESCRIPTIONS = {
    registry.KIND_DURATION: "Integer seconds, or null",
    registry.KIND_DATETIME: "ISO 8601 in UTC, or null",
    registry.KIND_REF: "{id, name}, or null",
    registry.KIND_STARS: "1-5 stars, or null",
}


def _item_fields() -> dict[str, tuple[Any, Any]]:
    fields: dict[str, tuple[Any, Any]] = {}
    for key, column in registry.COLUMNS.items():
        if column.api is not None:
            if key not in CUSTOM_API_SHAPES:
                raise LookupError(f"column {key!r} writes its own API value: declare its shape")
            for name, (shape, help_text) in CUSTOM_API_SHAPES[key].items():
                fields[name] = (shape, Field(None, description=help_text))
            continue
        shape = CHOICES.get(key) or KIND_SHAPES[column.kind]
        help_text = str(column.label)
        if column.kind in DESCRIPTIONS:
            help_text = f"{help_text}. {DESCRIPTIONS[column.kind]}"
        fields[key] = (shape, Field(None, description=help_text))
    fields["id"] = (int, Field(..., description="The conversation id"))
    return fields


Item = create_model(
    "Item",
    __base__=Partial,
    __doc__=(
        "A conversation: every column's value by its stable key (SPEC 'Value shapes'). The list "
        "answers only the requested `columns`; after an action that took the conversation out "
        "of the caller's sight only `id` is answered."
    ),
    **_item_fields(),
)


# Files -----------------------------------------------------------------------------------


class ReplyFilesIn(Schema):
    """The text fields of a reply with files (multipart/form-data; the files are `files`)."""

    text: str = Field("", max_length=20000, description="The message; may be empty with files")
    note: bool = Field(
        False,
        description=(
            "A private note for employees: never sent to the client or any channel, and not "
            "counted as a reply in any metric"
        ),
    )
