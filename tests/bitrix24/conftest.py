"""A small open-channel world and a webhook code for the seed product's REST endpoint."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from convodesk.bitrix24 import transport
from convodesk.bitrix24.models import WebhookCode
from tests import factories as f


class Rest:
    """Calls /rest/{user_id}/{code}/{method}.json as the seed product's client does."""

    def __init__(self, user, code: str):
        self.user, self.code = user, code
        self.http = Client()

    def url(self, method: str) -> str:
        return f"/rest/{self.user.pk}/{self.code}/{method}.json"

    def post(self, method: str, params: dict | None = None, **kw):
        return self.http.post(
            self.url(method), json.dumps(params or {}), content_type="application/json", **kw
        )

    def call(self, method: str, params: dict | None = None) -> dict:
        response = self.post(method, params)
        body = response.json()
        assert response.status_code == 200, (method, response.status_code, body)
        assert "error" not in body, body
        return body


def code_for(user, name: str = "script") -> str:
    return WebhookCode.issue(user, name)[1]


@pytest.fixture(autouse=True)
def _fresh_bucket():
    transport.bucket.levels.clear()
    yield
    transport.bucket.levels.clear()


@pytest.fixture
def desk(db):
    """Line "Support" with two operators, a supervisor who sees all, an admin, an api connection."""
    admin = f.employee("b24admin", superuser=True)
    op1 = f.employee("b24op1", roles=["Manager"])
    op2 = f.employee("b24op2", roles=["Manager"])
    chief = f.employee("b24chief", roles=["Chief executive"])
    line = f.line("Support", members=[op1, op2])
    other = f.line("Sales")
    conn = f.connection(line, "api")

    class Desk:
        pass

    d = Desk()
    d.__dict__.update(admin=admin, op1=op1, op2=op2, chief=chief, line=line, other=other, conn=conn)
    d.rest = lambda user: Rest(user, code_for(user))
    return d
