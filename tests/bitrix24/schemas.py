"""The documented shapes of every method's `result` (the seed product's REST reference and what
its official client reads), as JSON Schemas. test_schemas.py checks every method against its own."""

from __future__ import annotations

ISO = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"}
ISO_OR_NULL = {"anyOf": [ISO, {"type": "null"}]}
ID = {"type": "string", "pattern": r"^[1-9][0-9]*$"}
ID_OR_NULL = {"anyOf": [ID, {"type": "null"}]}
YN = {"enum": ["Y", "N"]}
INT_OR_NULL = {"type": ["integer", "null"]}
TRUE = {"const": True}

TIME = {
    "type": "object",
    "required": [
        "start",
        "finish",
        "duration",
        "processing",
        "date_start",
        "date_finish",
        "operating_reset_at",
        "operating",
    ],
    "properties": {
        "start": {"type": "number"},
        "finish": {"type": "number"},
        "duration": {"type": "number", "minimum": 0},
        "processing": {"type": "number", "minimum": 0},
        "date_start": ISO,
        "date_finish": ISO,
        "operating_reset_at": {"type": "integer"},
        "operating": {"type": "number"},
    },
}

MULTI = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["ID", "VALUE_TYPE", "VALUE", "TYPE_ID"],
        "properties": {
            "ID": ID,
            "VALUE": {"type": "string"},
            "TYPE_ID": {"enum": ["PHONE", "EMAIL"]},
        },
    },
}

LEAD = {
    "type": "object",
    "required": [
        "ID",
        "TITLE",
        "STATUS_ID",
        "DATE_CREATE",
        "DATE_MODIFY",
        "HAS_PHONE",
        "HAS_EMAIL",
    ],
    "properties": {
        "ID": ID,
        "TITLE": {"type": "string"},
        "NAME": {"type": "string"},
        "STATUS_ID": {"enum": ["NEW", "IN_PROCESS", "CONVERTED", "JUNK"]},
        "SOURCE_ID": {"type": "string"},
        "ASSIGNED_BY_ID": ID_OR_NULL,
        "CONTACT_ID": ID_OR_NULL,
        "COMPANY_ID": ID_OR_NULL,
        "HAS_PHONE": YN,
        "HAS_EMAIL": YN,
        "DATE_CREATE": ISO,
        "DATE_MODIFY": ISO,
        "PHONE": MULTI,
        "EMAIL": MULTI,
    },
}
CONTACT = {
    "type": "object",
    "required": ["ID", "NAME", "DATE_CREATE", "HAS_PHONE", "HAS_EMAIL"],
    "properties": {
        "ID": ID,
        "NAME": {"type": "string"},
        "COMPANY_ID": ID_OR_NULL,
        "ASSIGNED_BY_ID": ID_OR_NULL,
        "HAS_PHONE": YN,
        "HAS_EMAIL": YN,
        "DATE_CREATE": ISO,
        "DATE_MODIFY": ISO,
        "PHONE": MULTI,
        "EMAIL": MULTI,
    },
}
SESSION = {
    "type": "object",
    "required": [
        "id",
        "configId",
        "source",
        "operatorId",
        "userId",
        "userCode",
        "chatId",
        "dateCreate",
        "dateClose",
        "dateFirstAnswer",
        "dateOperatorAnswer",
        "status",
        "closeReason",
        "vote",
        "voteHead",
        "commentHead",
        "crmEntityType",
        "crmEntityId",
        "queueTransfers",
        "waitAnswer",
        "waitClose",
        "kpiFirstAnswer",
        "messageCount",
    ],
    "properties": {
        "id": {"type": "integer"},
        "configId": {"type": "integer"},
        "source": {"type": "string"},
        "operatorId": INT_OR_NULL,
        "userId": {"type": "integer"},
        "userCode": {"type": "string", "pattern": r"^[^|]+\|\d+\|.*\|\d+$"},
        "chatId": {"type": "integer"},
        "dateCreate": ISO,
        "dateClose": ISO_OR_NULL,
        "dateFirstAnswer": ISO_OR_NULL,
        "dateOperatorAnswer": ISO_OR_NULL,
        "status": {"enum": ["new", "answered", "closed", "spam", "paused"]},
        "closeReason": {"enum": [None, "operator", "auto", "spam", "client", "replyLimit"]},
        "vote": {"enum": ["like", "dislike", "none"]},
        "voteHead": INT_OR_NULL,
        "commentHead": {"type": ["string", "null"]},
        "crmEntityType": {"enum": [None, "lead", "deal", "contact", "company"]},
        "crmEntityId": INT_OR_NULL,
        "queueTransfers": {"type": "integer"},
        "waitAnswer": INT_OR_NULL,
        "waitClose": INT_OR_NULL,
        "messageCount": {"type": "integer"},
    },
}
CHAT = {
    "type": "object",
    "required": [
        "id",
        "dialog_id",
        "name",
        "type",
        "entity_type",
        "entity_id",
        "entity_data_1",
        "owner",
        "message_type",
        "date_create",
    ],
    "properties": {
        "id": {"type": "integer"},
        "dialog_id": {"type": "string", "pattern": r"^chat\d+$"},
        "type": {"const": "lines"},
        "entity_type": {"const": "LINES"},
        "entity_id": {"type": "string", "pattern": r"^[^|]+\|\d+\|.*\|\d+$"},
        "entity_data_1": {"type": "string", "pattern": r"^[YN]\|[A-Z]+\|\d+\|"},
        "owner": {"type": "integer"},
        "message_type": {"const": "L"},
        "date_create": ISO,
    },
}
CONFIG = {
    "type": "object",
    "required": ["ID", "LINE_NAME", "ACTIVE"],
    "properties": {"ID": ID, "LINE_NAME": {"type": "string"}, "ACTIVE": YN},
}
HISTORY = {
    "type": "object",
    "required": [
        "chatId",
        "sessionId",
        "canJoin",
        "canVoteHead",
        "userId",
        "message",
        "usersMessage",
        "users",
    ],
    "properties": {
        "chatId": {"type": "integer"},
        "sessionId": {"type": "integer"},
        "canJoin": YN,
        "canVoteHead": YN,
        "userId": {"type": "string", "pattern": r"^chat\d+$"},
        "message": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["id", "chatid", "senderid", "recipientid", "date", "text", "params"],
                "properties": {"id": ID, "chatid": ID, "senderid": {"type": "string"}, "date": ISO},
            },
        },
        "usersMessage": {"type": "object", "additionalProperties": {"type": "array", "items": ID}},
        "users": {
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["id", "name", "connector"]},
        },
    },
}
CONNECTOR_RESULT = {
    "type": "object",
    "required": ["SUCCESS", "DATA"],
    "properties": {
        "SUCCESS": {"type": "boolean"},
        "DATA": {
            "type": "object",
            "required": ["RESULT"],
            "properties": {
                "RESULT": {"type": "array", "items": {"type": "object", "required": ["SUCCESS"]}}
            },
        },
    },
}
STATUS = {
    "type": "object",
    "required": ["LINE", "CONNECTOR", "ERROR", "CONFIGURED", "STATUS"],
    "properties": {"CONFIGURED": {"type": "boolean"}, "STATUS": {"type": "boolean"}},
}
SECTION = {"anyOf": [{"type": "object"}, {"type": "array", "maxItems": 0}]}

RESULTS = {
    "user.current": {
        "type": "object",
        "required": ["ID", "ACTIVE", "NAME", "LAST_NAME"],
        "properties": {"ID": ID},
    },
    "profile": {
        "type": "object",
        "required": ["ID", "ADMIN", "NAME", "LAST_NAME", "PERSONAL_GENDER", "TIME_ZONE"],
        "properties": {
            "ID": ID,
            "ADMIN": {"type": "boolean"},
            "PERSONAL_GENDER": {"enum": ["", "F", "M"]},
        },
    },
    "server.time": ISO,
    "batch": {
        "type": "object",
        "required": ["result", "result_error", "result_total", "result_next", "result_time"],
        "properties": {
            "result": SECTION,
            "result_error": SECTION,
            "result_total": SECTION,
            "result_next": SECTION,
            "result_time": {
                "anyOf": [
                    {"type": "object", "additionalProperties": TIME},
                    {"type": "array", "maxItems": 0},
                ]
            },
        },
    },
    "imopenlines.config.list.get": {"type": "array", "items": CONFIG},
    "imopenlines.config.get": {**CONFIG, "required": [*CONFIG["required"], "QUEUE"]},
    "imopenlines.v2.session.list": {
        "type": "object",
        "required": ["sessions"],
        "properties": {"sessions": {"type": "array", "items": SESSION}},
    },
    "imopenlines.dialog.get": CHAT,
    "imopenlines.session.history.get": HISTORY,
    "imopenlines.operator.answer": TRUE,
    "imopenlines.operator.skip": TRUE,
    "imopenlines.operator.transfer": TRUE,
    "imopenlines.operator.finish": TRUE,
    "imopenlines.operator.spam": TRUE,
    "imopenlines.bot.session.transfer": TRUE,
    "imopenlines.bot.session.message.send": TRUE,
    "im.message.add": {"type": "integer", "minimum": 1},
    "imopenlines.crm.lead.create": TRUE,
    "imconnector.register": TRUE,
    "imconnector.unregister": TRUE,
    "imconnector.activate": TRUE,
    "imconnector.status": {"anyOf": [STATUS, {"type": "array", "items": STATUS}]},
    "imconnector.list": {"type": "object", "additionalProperties": {"type": "string"}},
    "imconnector.send.messages": CONNECTOR_RESULT,
    "imconnector.send.status.delivery": CONNECTOR_RESULT,
    "imconnector.send.status.reading": CONNECTOR_RESULT,
    "crm.lead.list": {"type": "array", "items": LEAD},
    "crm.lead.get": {**LEAD, "required": [*LEAD["required"], "PHONE", "EMAIL"]},
    "crm.lead.add": {"type": "integer", "minimum": 1},
    "crm.lead.update": TRUE,
    "crm.contact.list": {"type": "array", "items": CONTACT},
    "crm.contact.get": {**CONTACT, "required": [*CONTACT["required"], "PHONE", "EMAIL"]},
    "crm.duplicate.findbycomm": {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    k: {"type": "array", "items": {"type": "integer"}}
                    for k in ("LEAD", "CONTACT", "COMPANY")
                },
                "additionalProperties": False,
            },
            {"type": "array", "maxItems": 0},
        ]
    },
}
ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string", "minLength": 1},
        "error_description": {"type": "string"},
    },
    "additionalProperties": False,
}


def envelope(method: str, listing: bool = False) -> dict:
    """The whole answer: `result` in the method's shape, the time object, and for a list the
    `total` (and `next` while rows are left)."""
    schema = {
        "type": "object",
        "required": ["result", "time", *(["total"] if listing else [])],
        "properties": {
            "result": RESULTS[method],
            "time": TIME,
            "total": {"type": "integer", "minimum": 0},
            "next": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    }
    return schema
