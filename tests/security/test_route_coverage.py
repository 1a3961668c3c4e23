"""Every route is in the permission matrix (issue 15), as NetBox's view test base classes do.

The walk covers every Django URL pattern (recursively through include()), every operation of
the published OpenAPI document, every socket route and every message type a socket consumer
reads. A route without an entry in tests/security/test_permission_matrix.py fails here, so a
new page, API operation or socket message cannot ship without saying who may reach it; the
matrix test then asserts the entry request by request. Entries for routes that no longer exist
fail too, so the matrix cannot rot.
"""

from __future__ import annotations

import inspect
import re

import pytest
from django.urls import URLPattern, URLResolver, clear_url_caches, get_resolver, path

from convodesk import routing
from convodesk.api.v1 import api
from tests.security import test_permission_matrix as matrix

pytestmark = pytest.mark.nodb

API_PREFIX = "api/v1/"
# The ninja patterns are the OpenAPI document's operations (one pattern may serve several).
NINJA_MODULES = {"ninja.operation"}


def _join(prefix: str, route: str) -> str:
    """As django.urls.resolvers.URLResolver._join_route (the form ResolverMatch.route has)."""
    return prefix + (route[1:] if route.startswith("^") else route)


def walk(patterns=None, prefix: str = ""):
    """(route, URLPattern) for every pattern, through every include()."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = _join(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _is_ninja_operation(route: str, pattern: URLPattern) -> bool:
    module = getattr(pattern.callback, "__module__", "")
    self_ = getattr(pattern.callback, "__self__", None)  # bound PathView.get_view methods
    return route.startswith(API_PREFIX) and (
        module in NINJA_MODULES or type(self_).__module__ in NINJA_MODULES
    )


def api_operations(schema: dict | None = None) -> set[str]:
    schema = api.get_openapi_schema() if schema is None else schema
    return {
        f"{method.upper()} {route}"
        for route, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def _openapi_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def socket_routes() -> dict[str, type]:
    found = {}
    for pattern in [*routing.websocket_urlpatterns, *routing.public_websocket_urlpatterns]:
        found[str(pattern.pattern)] = pattern.callback.consumer_class
    return found


def socket_message_types(consumer) -> set[str]:
    """The `type`s a consumer's receive_json acts on (`kind == "..."` branches)."""
    source = inspect.getsource(consumer.receive_json)
    return set(re.findall(r"""kind\s*==\s*["'](\w+)["']""", source))


def uncovered(schema: dict | None = None) -> list[str]:
    """Every route, operation, socket and socket message the matrix does not name."""
    missing = []
    operations = api_operations(schema)
    api_paths = {op.split(" ", 1)[1] for op in operations}
    for route, pattern in walk():
        if route.startswith("admin/"):
            continue  # the settings rule covers every admin pattern (admin_urls below)
        if _is_ninja_operation(route, pattern):
            if _openapi_path(route) not in api_paths:
                missing.append(f"{route} (an API pattern with no operation in the document)")
            continue
        if route not in matrix.ROUTE_MATRIX:
            missing.append(route)
    missing += sorted(op for op in operations if op not in matrix.API_MATRIX)
    for route, consumer in socket_routes().items():
        if route not in matrix.SOCKET_MATRIX:
            missing.append(f"socket {route}")
        for kind in sorted(socket_message_types(consumer)):
            if f"{route} {kind}" not in matrix.SOCKET_MATRIX:
                missing.append(f"socket {route} message {kind!r}")
    return missing


def admin_urls() -> list[tuple[str, str]]:
    """(route, a concrete URL) for every pattern under admin/: path ids 1, an app label of the
    pattern's own list, and a made-up page for the catch-all."""
    urls = []
    for route, _pattern in walk():
        if not route.startswith("admin/"):
            continue
        url = re.sub(r"<(?:path|int|str|slug):\w+>", "1", route)
        url = re.sub(r"\(\?P<app_label>([\w]+)[^)]*\)", r"\1", url)
        url = url.replace("(?P<url>.*)", "no-such-page/").replace("^", "").replace("$", "")
        urls.append((route, "/" + url))
    return urls


def test_every_route_operation_and_socket_message_is_in_the_permission_matrix():
    assert uncovered() == [], (
        "routes with no entry in tests/security/test_permission_matrix.py (say who may reach "
        "them there)"
    )


def test_every_socket_entry_names_a_test_that_exists():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for key, (_rule, node) in matrix.SOCKET_MATRIX.items():
        file, name = node.split("::")
        assert re.search(rf"^(async )?def {name}\(", (root / file).read_text(), re.M), (key, node)


def test_the_matrix_names_no_route_that_does_not_exist():
    routes = {route for route, _pattern in walk()}
    assert sorted(set(matrix.ROUTE_MATRIX) - routes) == []
    assert sorted(set(matrix.API_MATRIX) - api_operations()) == []
    sockets = socket_routes()
    known = set(sockets) | {
        f"{route} {kind}" for route, c in sockets.items() for kind in socket_message_types(c)
    }
    assert sorted(set(matrix.SOCKET_MATRIX) - known) == []


def test_every_matrix_check_requests_the_route_it_is_filed_under():
    from django.urls import resolve

    ids = dict.fromkeys(
        (
            "conv",
            "match",
            "message",
            "activity",
            "owner",
            "lead",
            "preset",
            "telegram",
            "connection",
            "deal",
            "pipeline",
            "crm_preset",
            "contact_a",
            "contact_a2",
            "company_a",
            "company_a2",
            "crm_merge",
            "crm_import",
        ),
        1,
    )
    ids.update(
        line=1,
        line_b=2,
        dep=1,
        role=1,
        op_a=1,
        quick_reply=1,
        tag=1,
        api_token=1,
        b24_code=1,
        b24_handler=1,
        client=1,
        owner_segment="leads",
        owner_type="lead",
        export="00000000-0000-0000-0000-000000000000",
        bulk="00000000-0000-0000-0000-000000000000",
        widget_key="k",
        bot_picture="ab" * 32,
    )
    for key, checks in matrix.ROUTE_MATRIX.items():
        for check in checks:
            url = check.url.format(**ids).split("?")[0]
            assert resolve(url).route == key, (key, check)
    for key, checks in matrix.API_MATRIX.items():
        for check in checks:
            assert check.method.upper() == key.split(" ")[0], (key, check)
            url = check.url.format(**ids)
            assert _openapi_path(resolve(url).route) == key.split(" ", 1)[1], (key, check)


def test_a_newly_added_page_without_a_matrix_entry_fails_the_coverage(monkeypatch):
    from django.http import HttpResponse

    from convodesk import urls

    extra = path("contact-center/brand-new-page/", lambda request: HttpResponse("new"))
    monkeypatch.setattr(urls, "urlpatterns", [*urls.urlpatterns, extra])
    clear_url_caches()
    try:
        assert "contact-center/brand-new-page/" in uncovered()
    finally:
        monkeypatch.undo()
        clear_url_caches()
    assert "contact-center/brand-new-page/" not in uncovered()


def test_a_newly_added_api_operation_or_socket_message_without_an_entry_fails(monkeypatch):
    schema = api.get_openapi_schema()
    schema = {**schema, "paths": {**schema["paths"], "/api/v1/brand-new": {"delete": {}}}}
    assert "DELETE /api/v1/brand-new" in uncovered(schema)

    from convodesk.workspace.consumers import OperatorConsumer

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        if kind == "shout":
            pass

    monkeypatch.setattr(OperatorConsumer, "receive_json", receive_json)
    assert "socket ws/operator/ message 'shout'" in uncovered()
