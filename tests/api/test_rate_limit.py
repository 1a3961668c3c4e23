"""The per-token limit: a burst, then a steady rate; beyond it 429 with Retry-After, in the
error schema, documented on every operation a token calls."""

import pytest
from django.test import Client

from convodesk.api import auth

from .conftest import Api, assert_error, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.CONVODESK = {**settings.CONVODESK, "API_RATE_BURST": 3, "API_RATE_PER_SECOND": 0.01}
    auth.bucket.levels.clear()
    yield
    auth.bucket.levels.clear()


def test_a_token_past_its_burst_gets_429_with_retry_after_and_others_are_not_held(org, tight):
    busy = Api(token_for(org.op1))
    for _ in range(3):
        assert busy.get("/me")[0] == 200
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {busy.token}")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"
    assert_error(busy.get("/conversations"), 429, "throttled")
    # another employee's token has its own bucket
    assert Api(token_for(org.op2)).get("/me")[0] == 200


def test_the_limit_is_documented_on_token_operations_and_not_on_ingestion(org):
    schema = Client().get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {name for req in operation.get("security", []) for name in req}
            if "TokenAuth" in names:
                assert "429" in operation["responses"], (method, path)
                content = operation["responses"]["429"]["content"]["application/json"]
                assert content["schema"]["$ref"].endswith("/ErrorOut")
            elif names:
                assert "429" not in operation["responses"], (method, path)
