import glob
import os
import tempfile
import uuid

import pytest
from hypothesis import settings as hypothesis_settings

from . import factories as f
from . import migrated

# The channel peers (Dovecot, SMTP recorder, Bot API) as fixtures any test module may use.
pytest_plugins = ["tests.channels.servers"]

IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis: fewer examples and no per-example deadline in CI, more locally.
hypothesis_settings.register_profile("ci", max_examples=60, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=200, deadline=None)
hypothesis_settings.load_profile("ci" if IN_CI else "dev")


# The files that take longest (`testrun --durations`, both passes), heaviest first. xdist hands
# out whole files in collection order (`--dist loadfile --no-loadscope-reorder`, testrun.py);
# collected last, or ordered by their number of tests (xdist's default), the heavy files of one
# test each ran alone at the end of a pass while the other worker idled.
SLOWEST_FILES = [
    "tests/security/test_permission_matrix.py",
    "tests/security/test_hostile_screens.py",
    "tests/ops/test_moving_and_backups.py",
    "tests/ops/test_process_life.py",
    "tests/list/test_browser_screens.py",
    "tests/ops/test_multinode.py",
    "tests/list/test_department_pages.py",
    "tests/stats/test_permissions_and_views.py",
    "tests/crm/test_import.py",
    "tests/export/test_export_live_sqlite.py",
    "tests/export/test_export_memory.py",
    "tests/security/test_hostile_ingestion.py",
    "tests/crm/test_browser_work.py",
    "tests/stats/test_rollups_agree.py",
    "tests/administration/test_browser_people.py",
    "tests/workspace/test_browser_flow.py",
    "tests/devtools/test_demo.py",
    "tests/administration/test_browser_connections.py",
    "tests/bitrix24/test_hostile.py",
    "tests/list/test_grid.py",
    "tests/stats/test_department_statistics.py",
    "tests/workspace/test_multiprocess_redis.py",
    "tests/stats/test_browser.py",
    "tests/security/test_browser_csp.py",
    "tests/export/test_export_asgi_stream.py",
]


def pytest_collection_modifyitems(items):
    """Skip, with the reason shown, what needs the other database (`postgres_only`,
    `sqlite_only`, each with an optional reason); schedule the slowest files first (a stable
    sort: each file keeps its own order)."""
    from django.conf import settings

    needs = {"postgres_only": "PostgreSQL", "sqlite_only": "SQLite"}
    other = "sqlite_only" if settings.IS_POSTGRES else "postgres_only"
    for item in items:
        marker = item.get_closest_marker(other)
        if marker is not None:
            why = marker.args[0] if marker.args else "the other pass of the suite"
            item.add_marker(pytest.mark.skip(reason=f"needs {needs[other]} ({why})"))
    rank = {path: n for n, path in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session", autouse=True)
def _static_files_looked_up_per_request():
    """WhiteNoise indexes every static file when its middleware starts (33 ms), and the test
    Client starts the middleware chain once per Client: thousands of times a run, a third of the
    permission matrix's time. Here it looks each file up when asked (its autorefresh mode, as
    under DEBUG); the files and answers are the same."""
    from django.conf import settings

    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _webhook_receivers_on_loopback(settings):
    """The tests' webhook receivers and Bitrix24 handlers listen on 127.0.0.1, which an
    installation does not send to unless allowed (convodesk/outbound.py): allowed here, as an
    administrator would. tests/security/test_outbound.py checks the default."""
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": ["127.0.0.0/8"]}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users are created by the dozen; PBKDF2 would spend most of the suite hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request):
    """Each process's test database is a copy of the migrated template (tests/migrated.py),
    made before pytest-django sets the databases up, which then keeps it as it is.

    SQLite tests run on a database file on a RAM disk, not on Django's shared-cache memory one.
    A shared-cache memory database locks whole tables and answers "database table is locked" at
    once, without waiting for the busy timeout, when a browser test's server thread writes while
    another thread reads. A file in WAL mode behaves as an installation does: readers never block
    the writer, and writers wait their turn. The name is this process's own, so xdist workers
    and concurrent runs never share one; PostgreSQL keeps pytest-django's worker suffix, and the
    database is dropped at the end of the run.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        if not database["TEST"].get("NAME"):
            ram = "/dev/shm"
            folder = ram if os.access(ram, os.W_OK) else tempfile.gettempdir()
            name = os.path.join(folder, f"convodesk-test-{uuid.uuid4().hex[:12]}.sqlite3")
            database["TEST"]["NAME"] = name
        name = database["TEST"]["NAME"]

        def remove_files():  # Django removes the database file; SQLite leaves -wal and -shm
            for leftover in glob.glob(f"{name}*"):
                os.remove(leftover)

        request.addfinalizer(remove_files)
        if name != ":memory:" and not name.startswith("file:"):  # a memory database migrates
            migrated.copy_sqlite(name)
    else:
        request.getfixturevalue("django_db_modify_db_settings_parallel_suffix")
        name = database["TEST"].get("NAME") or f"test_{database['NAME']}"

        def drop():
            from django.db import connections

            from tests.ops import pg

            connections.close_all()
            pg.drop(name)

        request.addfinalizer(drop)
        migrated.copy_postgres(name)


@pytest.fixture(scope="session")
def django_db_keepdb():
    """pytest-django uses the copied database as it is (no migrations to run) and leaves its
    removal to `django_db_modify_db_settings`."""
    return True


def pytest_report_header(config):
    from django.conf import settings

    return f"convodesk database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


@pytest.fixture(autouse=True)
def _default_roles_after_flush(request):
    """Transactional tests flush every table, and the rows the data migration made with them
    (the three default roles); put them back so every database test starts from a migrated
    database, whichever test ran before it on the same worker."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
    elif marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    else:
        request.getfixturevalue("db")
    from convodesk.accounts.defaults import install_default_roles
    from convodesk.accounts.models import Role

    install_default_roles(Role)


@pytest.fixture
def tdb(transactional_db):
    """A database committed for real (servers and sockets read it from other threads), with the
    default roles (put back by `_default_roles_after_flush`) and an empty channel layer."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()
    yield
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()


@pytest.fixture
def org(db):
    """A small organisation: two departments (one nested), operators, a supervisor, an admin, one line."""
    from convodesk.accounts.defaults import install_default_roles
    from convodesk.accounts.models import Role as _Role

    install_default_roles(_Role)  # transactional tests flush the rows the data migration made
    sales = f.department("Sales")
    sales_east = f.department("Sales East", parent=sales)
    support = f.department("Support")
    admin = f.employee("admin", superuser=True)
    supervisor = f.employee("supervisor", departments=[sales])
    supervisor.roles.set([f.role("Manager")])
    from convodesk.accounts.models import Role

    dep_role = Role.objects.create(
        name="Department supervisor",
        view_conversations=20,
        view_history=20,
        view_statistics=20,
        act=20,
        rate=20,
        export=30,
    )
    supervisor.roles.add(dep_role)
    op1 = f.employee("op1", departments=[sales])
    op2 = f.employee("op2", departments=[sales_east])
    op3 = f.employee("op3", departments=[support])
    line = f.line("Sales line", members=[op1, op2, op3])
    conn = f.connection(line, "api")

    class Org:
        pass

    o = Org()
    o.__dict__.update(
        sales=sales,
        sales_east=sales_east,
        support=support,
        admin=admin,
        supervisor=supervisor,
        op1=op1,
        op2=op2,
        op3=op3,
        line=line,
        conn=conn,
        dep_role=dep_role,
    )
    return o


@pytest.fixture
def chromium(monkeypatch):
    """A launched Chromium (Playwright's sync API); each test opens its own contexts."""
    from .browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls stay sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# What the migrations wrote that no test changes: kept through the flushes (below).
KEPT_THROUGH_FLUSH = frozenset({"django_content_type", "auth_permission"})


@pytest.fixture(scope="session", autouse=True)
def _light_flush():
    """The flush after each transactional test empties what tests write and keeps the content
    types and permissions the migrations made, so no post-migrate pass is needed to make them
    again (`_default_roles_after_flush` puts the default roles back). On PostgreSQL it deletes
    the rows instead of truncating: TRUNCATE gives every table and index a new file, which for
    this schema took longer than the rest of most such tests. The deletes run in one transaction
    in any order, as every foreign key is checked at commit (Django creates them deferrable,
    initially deferred); sequences are left as TRUNCATE leaves them."""
    from django.core.management.commands import flush

    sql_flush, emit_post_migrate_signal = flush.sql_flush, flush.emit_post_migrate_signal

    def light_sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        tables = [
            table
            for table in connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            if table not in KEPT_THROUGH_FLUSH
        ]
        if connection.vendor == "postgresql" and not reset_sequences:
            return [f"DELETE FROM {connection.ops.quote_name(table)};" for table in tables]
        return connection.ops.sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )

    flush.sql_flush = light_sql_flush
    flush.emit_post_migrate_signal = lambda *args, **kwargs: None
    yield
    flush.sql_flush, flush.emit_post_migrate_signal = sql_flush, emit_post_migrate_signal
