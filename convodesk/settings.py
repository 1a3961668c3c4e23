"""Settings come from the environment, with defaults that run embedded on a laptop."""

import datetime as dt
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from convodesk import keyfile

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("CONVODESK_VAR_DIR", PROJECT_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# The key signs sessions and encrypts stored secrets (convodesk/crypto.py), so it is never a
# string from the repository: the environment's SECRET_KEY, else this installation's own key
# file (`make run` writes a random one on first start). In development (DEBUG) and under pytest
# (which sets PYTEST_VERSION) the file is written on demand; in production a missing key stops
# the start. Old keys stay readable during `manage.py rotate_key` through SECRET_KEY_FALLBACKS.
SECRET_KEY_FILE = VAR_DIR / "secret_key"
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or keyfile.read(SECRET_KEY_FILE)
if not SECRET_KEY and (DEBUG or os.environ.get("PYTEST_VERSION")):
    SECRET_KEY = keyfile.ensure(SECRET_KEY_FILE)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        f"No SECRET_KEY: set the SECRET_KEY environment variable (50+ random characters), or "
        f"run `python -m convodesk.keyfile` once to write this installation's key to "
        f"{SECRET_KEY_FILE} (`make run` does this on first start)."
    )
SECRET_KEY_FALLBACKS = [
    k.strip() for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
]
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_tasks",
    # Before django_tasks_db: its `db_worker` command is the package's with a heartbeat.
    "convodesk.ops",
    "django_tasks_db",
    "ninja",  # serves its Swagger UI from its own static files, not a CDN
    "csp",
    "convodesk.accounts",
    "convodesk.lines",
    "convodesk.conversations",
    "convodesk.crm",
    "convodesk.connectors",
    "convodesk.stats",
    "convodesk.api",
    "convodesk.workspace",
    "convodesk.audit",
    "convodesk.administration",
    "convodesk.devtools",  # demo data, benchmark generator, invariants (no models)
    "convodesk.bitrix24",
    "axes",  # log-in throttling; after the apps so their templates come first
]

MIDDLEWARE = [
    # First: a request id for the logs and the request's latency for /metrics (convodesk/ops).
    "convodesk.ops.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # A body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (JSON on the API), before anything reads it.
    "convodesk.api.middleware.RequestSizeLimitMiddleware",
    # Static files come from the app itself under uvicorn (no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "convodesk.accounts.middleware.UserLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "convodesk.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a locked-out log-in into the log-in page with the lock message (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "convodesk.urls"
ASGI_APPLICATION = "convodesk.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "convodesk.administration.context.settings_nav",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
PG_PREPARED = env_bool("PG_PREPARED", True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'convodesk.sqlite3'}"),
        # Persistent connections do not suit ASGI (each request runs on a new thread, and
        # connections pile up); keep 0 unless a pooler sits in front. PostgreSQL and SQLite keep
        # their connections per process instead (below).
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while the one writer commits; IMMEDIATE makes
    # every write transaction take the lock up front, the SQLite form of row locking.
    # Connections are kept per process and reused by the next request, whichever thread serves
    # it (convodesk/ops/sqlite3): opening one and running its PRAGMAs took 3-10 ms a request.
    DATABASES["default"]["ENGINE"] = "convodesk.ops.sqlite3"
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # closing returns it to the process's connections
    # SQLite's own page cache, per connection (its default is 2 MB): a statistics page reads
    # tens of thousands of rollup rows, and pages the process has already read are then not
    # read from the file again. Only the pages read take memory.
    cache_mb = os.environ.get("SQLITE_CACHE_MB", "32").strip()
    if not cache_mb.isdigit():
        raise ImproperlyConfigured(f"SQLITE_CACHE_MB: give a whole number of MB, not {cache_mb!r}")
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
        f"PRAGMA cache_size=-{int(cache_mb) * 1024};",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Short indexed queries on a small machine: JIT compilation (tens of ms) and parallel
    # workers cost more than they save for the list's queries (reference/sql-floor.md).
    # PG_SESSION_OPTIONS="" keeps the server's own settings.
    session = os.environ.get(
        "PG_SESSION_OPTIONS", "-c jit=off -c max_parallel_workers_per_gather=0"
    )
    if session:
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = session
    if PG_PREPARED:  # psycopg prepares the statements of server-binding cursors on first use
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0
    # A connection pool per process (psycopg_pool): under ASGI every request and socket event
    # runs its database work in a thread of its own, and without a pool each of them opened and
    # closed a PostgreSQL connection. PG_POOL_MAX=0 turns the pool off.
    pool_max = int(os.environ.get("PG_POOL_MAX", "16"))
    if pool_max:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": pool_max,
            "timeout": 20,
        }
DATABASES["default"].setdefault("TEST", {})
if os.environ.get("CONVODESK_TEST_DB"):
    DATABASES["default"]["TEST"]["NAME"] = os.environ["CONVODESK_TEST_DB"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "conversations:list"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Log-in throttling (django-axes): the throttle backend goes first and refuses a locked pair
# before any password is checked. API tokens do not authenticate through these backends.
AUTHENTICATION_BACKENDS = [
    "convodesk.accounts.backends.LoginThrottleBackend",
    "convodesk.accounts.backends.EmployeeBackend",
]
# Locked by the pair (username, IP): one attacker cannot lock an employee out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "convodesk.accounts.views.login_locked_out"
# Locks by REMOTE_ADDR: behind a reverse proxy, uvicorn sets it from X-Forwarded-For for the
# proxies FORWARDED_ALLOW_IPS names (manage.py serve), and trusts no header otherwise.

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")

# The product's own mail (invitations), through the SMTP server the environment names.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "true").lower() == "true" and EMAIL_PORT != 465
EMAIL_USE_SSL = EMAIL_PORT == 465
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Convodesk <convodesk@localhost>")
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600  # an invitation link works for three days
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [PROJECT_DIR / "locale"]
# One way to show dates and numbers per language (convodesk/formats, convodesk/display.py).
FORMAT_MODULE_PATH = ["convodesk.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve from the apps' static folders too, so a fresh checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
# Files (channels' inbound parts, the composer's uploads) go through the default storage: local
# disk under MEDIA_ROOT, or any S3-compatible store with `pip install convodesk[s3]` and S3_BUCKET.
# Nothing there is public: the product serves every file itself, behind the visibility rule.


def s3_storage(environ) -> dict:
    """The default storage on an S3-compatible store, from the environment (README, "Files")."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": environ["S3_BUCKET"],
            "endpoint_url": environ.get("S3_ENDPOINT_URL") or None,
            "region_name": environ.get("S3_REGION") or None,
            "access_key": environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": environ.get("S3_SECRET_ACCESS_KEY") or None,
            "default_acl": None,  # no ACL header: buckets with ACLs disabled (the AWS default) refuse one; objects stay private
            "file_overwrite": False,
        },
    }


if os.environ.get("S3_BUCKET"):
    STORAGES["default"] = s3_storage(os.environ)
EXPORT_ROOT = VAR_DIR / "exports"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Production behind HTTPS (README, "Production"): each switched by the environment, off on a laptop.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The seed product's REST client follows no redirect: /rest/ answers on whatever scheme it came.
SECURE_REDIRECT_EXEMPT = [r"^rest/"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    # Behind a TLS-terminating proxy that sets this header (e.g. X-Forwarded-Proto) to "https"
    # and strips it from clients' requests.
    header = os.environ["SECURE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (f"HTTP_{header}", "https")
X_FRAME_OPTIONS = "DENY"
# No inline script, no inline style attribute, no eval, no framing: what a planted link or an
# unescaped string would need. Scripts and styles come only from our own static files; 'self'
# also covers the same host's ws:/wss: sockets. CSP_STYLE_SRC / CSP_SCRIPT_SRC add sources.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *os.environ.get("CSP_SCRIPT_SRC", "").split()],
        "style-src": ["'self'", *os.environ.get("CSP_STYLE_SRC", "").split()],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket time-out by default, the same as channels-redis's
            # blocking pop: a quiet socket then dies with "Timeout reading". Give the read room.
            "CONFIG": {
                # redis-py's asyncio pool holds 100 connections by default; a process serving
                # 500 sockets ran out under load ("Too many connections": the consumer died).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", "1000")),
                    }
                ],
                # Several installations may share one Redis server.
                "prefix": os.environ.get("REDIS_PREFIX", "asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Two queues, each with a worker of its own (`serve --role worker` starts both): "default" for
# the short tasks a client or an employee waits on (deliveries, received files, Bitrix24 events),
# "jobs" for the long ones (exports, bulk actions, CRM imports). A 1,000,000-row export does not
# hold back a reply's delivery, and an export does not wait behind a backlog of deliveries.
TASK_QUEUE_JOBS = "jobs"
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", TASK_QUEUE_JOBS],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # LOG_FORMAT=json: one JSON object per line, with the request id, user id and conversation
    # id where known (convodesk/ops/logs.py).
    "formatters": {"json": {"()": "convodesk.ops.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if os.environ.get("LOG_FORMAT") == "json" else {}),
        }
    },
    "loggers": {
        "convodesk": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        **(
            {
                "django": {"handlers": ["console"], "level": "WARNING"},
                "django_tasks": {"handlers": ["console"], "level": "INFO"},
            }
            if os.environ.get("LOG_FORMAT") == "json"
            else {}
        ),
    },
}

# /metrics (convodesk/ops): open to a bearer token (METRICS_TOKEN) and/or to client addresses in
# METRICS_ALLOWED_NETWORKS (comma-separated CIDRs; default the machine itself). Neither set: 404.


def _networks(name: str, default: str = "") -> list[str]:
    """The environment variable `name` as comma-separated CIDRs, each checked now: a typo stops
    the start with the variable's name, instead of an address silently never matching."""
    networks = [n.strip() for n in os.environ.get(name, default).split(",") if n.strip()]
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {exc}") from None
    return networks


def _proxy(name: str) -> str:
    """The environment variable `name` as an http(s) proxy URL with a host, or ""; anything
    else stops the start with the variable's name."""
    value = os.environ.get(name, "").strip()
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name}: give the proxy as http://host:port")
    return value


METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = _networks("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")


CONVODESK = {
    # A bounded count stops at this many rows; beyond it the page shows an estimate.
    "COUNT_THRESHOLD": int(os.environ.get("COUNT_THRESHOLD", "100000")),
    # PostgreSQL: a count still running after this gives way to the planner's estimate (shown
    # as such), so the total never holds the page back more than this.
    "COUNT_TIMEOUT_MS": int(os.environ.get("COUNT_TIMEOUT_MS", "60")),
    # PostgreSQL: the write path's and the live feed's fixed-shape reads are prepared on the
    # server once per connection (convodesk.prepared). 0 behind a connection pooler in
    # transaction mode, which cannot keep a connection's prepared statements.
    "PG_PREPARED": PG_PREPARED,
    # PostgreSQL: the memory and parallel workers the statement that reads a statistics page's
    # filtered conversations may use (stats.sources.materialized), beside the sessions' own
    # (PG_SESSION_OPTIONS turns parallel workers off for the short queries of everything else).
    "STATS_WORK_MEM": os.environ.get("STATS_WORK_MEM", "64MB"),
    "STATS_PARALLEL_WORKERS": int(os.environ.get("STATS_PARALLEL_WORKERS", "2")),
    # The CRM lists count exactly up to this many records, then show the planner's "≈" (issue 20:
    # a page at 1,000,000 contacts within 100 ms; counting 100,000 filtered rows took 60 ms).
    "CRM_COUNT_THRESHOLD": int(os.environ.get("CRM_COUNT_THRESHOLD", "10000")),
    # The list's preset tabs are counted over the viewer's latest N conversations (shown "N+" past it).
    "TAB_COUNT_THRESHOLD": int(os.environ.get("TAB_COUNT_THRESHOLD", "10000")),
    "EXPORT_BACKGROUND_ROWS": int(os.environ.get("EXPORT_BACKGROUND_ROWS", "100000")),
    # The REST API's limit per token, per web process: a burst of API_RATE_BURST requests, then
    # API_RATE_PER_SECOND a second; beyond it 429 with Retry-After. Connectors' ingestion (the
    # connection secret) is not limited: a feed must not lose messages to a burst.
    "API_RATE_BURST": int(os.environ.get("API_RATE_BURST", "600")),
    "API_RATE_PER_SECOND": float(os.environ.get("API_RATE_PER_SECOND", "20")),
    # Bulk actions on more rows than this run as a background task with progress.
    "BULK_BACKGROUND_ROWS": int(os.environ.get("BULK_BACKGROUND_ROWS", "200")),
    "TIMER_INTERVAL_SECONDS": float(os.environ.get("TIMER_INTERVAL_SECONDS", "2")),
    "TELEGRAM_API_BASE": os.environ.get("TELEGRAM_API_BASE", "https://api.telegram.org"),
    # The address clients and Telegram reach this installation at (webhooks, widget script).
    "PUBLIC_URL": os.environ.get("PUBLIC_URL", ""),
    # Invitations and notices go out by mail when EMAIL_HOST is set; without it, the settings
    # show an invitation link for the administrator to pass on.
    "SYSTEM_MAIL": bool(os.environ.get("EMAIL_HOST")),
    # The folders a mail connection's own CA file may be read from (colon-separated): the
    # settings screen cannot name, or learn of, any other file on the server.
    "MAIL_CA_DIRS": [
        d
        for d in os.environ.get(
            "MAIL_CA_DIRS",
            f"/etc/ssl/certs:/usr/local/share/ca-certificates:{VAR_DIR / 'ca'}",
        ).split(":")
        if d
    ],
    # The composer's files: the largest accepted, the accepted extensions (comma-separated; the
    # type each is stored and sent as comes from conversations/uploads.py), and how long the
    # signed link a widget client or a REST integration gets for one keeps working.
    "ATTACHMENT_MAX_BYTES": int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))),
    "ATTACHMENT_EXTENSIONS": [
        e.strip().lower().lstrip(".")
        for e in os.environ.get("ATTACHMENT_EXTENSIONS", "").split(",")
        if e.strip()
    ],
    "ATTACHMENT_LINK_MAX_AGE": int(os.environ.get("ATTACHMENT_LINK_MAX_AGE", str(7 * 24 * 3600))),
    # Webhooks, Bitrix24 event handlers and mailboxes' IMAP and SMTP servers connect to public
    # addresses only (convodesk/outbound.py); the networks listed here (comma-separated CIDRs)
    # are allowed besides.
    "OUTBOUND_ALLOW_NETWORKS": _networks("OUTBOUND_ALLOW_NETWORKS"),
    # The HTTP proxy webhooks and Bitrix24 event handlers go through, if the network requires
    # one, and the Telegram Bot API with them (webhooks do not read HTTP(S)_PROXY). Not mail.
    "OUTBOUND_PROXY": _proxy("OUTBOUND_PROXY"),
    # /readyz: a worker or timers heartbeat older than this is a stopped role.
    "HEARTBEAT_MAX_AGE_SECONDS": float(os.environ.get("HEARTBEAT_MAX_AGE_SECONDS", "60")),
}
