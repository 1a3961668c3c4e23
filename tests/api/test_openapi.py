"""The published OpenAPI document is valid, its docs page is self-hosted, and fuzzing finds no 500s."""

import json

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from ninja.responses import NinjaJSONEncoder
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from convodesk.api.v1 import api
from tests import factories as f

from .conftest import token_for

IS_SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
wsgi_app = get_wsgi_application()


def _no_duplicate_keys(pairs):
    keys = [k for k, _v in pairs]
    assert len(keys) == len(set(keys)), f"duplicated keys in the served document: {keys}"
    return dict(pairs)


@pytest.mark.nodb
def test_the_openapi_document_validates():
    served = json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder)  # what /openapi.json sends
    document = json.loads(served, object_pairs_hook=_no_duplicate_keys)
    validate(document)
    assert "/api/v1/conversations" in document["paths"]
    assert document["components"]["securitySchemes"]


@pytest.mark.django_db
def test_openapi_json_and_docs_are_served_without_a_cdn(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json()["info"]["title"] == "Convodesk API"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()


@pytest.fixture
def fuzz_world(db):
    """Something to find: an admin's token, a line, a connection and a conversation or two."""
    admin = f.employee("fuzz-admin", superuser=True)
    op = f.employee("fuzz-op")
    line = f.line("Fuzz line", members=[op])
    conn = f.connection(line, "api", config={"webhook_url": "http://127.0.0.1:9/hook"})
    f.client_message(conn, "fuzz-client", "hello")
    return {"Authorization": f"Bearer {token_for(admin)}"}


@pytest.mark.fuzz
@pytest.mark.skipif(
    not IS_SQLITE, reason="the fuzz run is database-agnostic; it runs once, on SQLite"
)
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_fuzzing_the_api_finds_no_server_errors(case, fuzz_world):
    case.call_and_validate(app=wsgi_app, headers=fuzz_world, checks=[not_a_server_error])
