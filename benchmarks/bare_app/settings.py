"""Minimal settings: the same database (and SQLite options) as the product, nothing else."""

import os

import dj_database_url

SECRET_KEY = "bare-benchmark-app"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "benchmarks.bare_app.urls"
USE_TZ = True
DATABASES = {
    "default": dj_database_url.parse(
        # The product's connection policy (no persistent connections under ASGI: with them
        # the bare app itself ran PostgreSQL out of connections and answered 500s).
        os.environ.get("DATABASE_URL", "sqlite:///var/bare.sqlite3"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["OPTIONS"] = {
        "options": "-c jit=off -c max_parallel_workers_per_gather=0",
        "pool": {"min_size": 2, "max_size": 16, "timeout": 20},
    }
