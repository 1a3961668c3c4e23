"""Peer: django-helpdesk's ticket list at the same row count, run in its own virtual environment.

Setup (not a project dependency; done by `benchmarks/peers/setup.sh`):
    python3 -m venv benchmarks/peers/.venv-helpdesk
    benchmarks/peers/.venv-helpdesk/bin/pip install django-helpdesk
Run: `benchmarks/peers/.venv-helpdesk/bin/python benchmarks/peers/helpdesk_bench.py --tickets N
      --db sqlite:////path/peer.sqlite3 --out FILE.json [--runs R]`

It loads N tickets in bulk (once; reused when present) and times the JSON endpoint its ticket list
page calls (`datatables_ticket_list/<base64 query>`, the DataTables server-side
protocol) through Django's test Client in-process, for the requests it can also do: default list,
status filter, keyword search, deep page (start = 49,950).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from urllib.parse import urlencode

import django
from django.conf import settings


def configure(db_url: str) -> None:
    if db_url.startswith("sqlite:///"):
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db_url[len("sqlite:///") :]}
    else:
        rest = db_url.split("://", 1)[1]
        user_host, name = rest.rsplit("/", 1)
        user, host = user_host.split("@")
        host, _, port = host.partition(":")
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": user,
            "HOST": host,
            "PORT": port or "5432",
        }
    settings.configure(
        DEBUG=False,
        SECRET_KEY="peer-benchmark",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        DATABASES={"default": database},
        ROOT_URLCONF=__name__,
        SITE_ID=1,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django.contrib.sites",
            "django.contrib.humanize",
            "rest_framework",
            "account",
            "pinax.invitations",
            "pinax.teams",
            "reversion",
            "helpdesk",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        STATIC_URL="/static/",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()


urlpatterns = []


def _urls():
    from django.urls import include, path

    global urlpatterns
    urlpatterns = [path("", include("helpdesk.urls"))]


FIRST = ["María", "José", "Juan", "Ana", "Luis", "Carmen", "John", "Emma", "Olga", "Ivan"]
LAST = [
    "García",
    "Rodríguez",
    "López",
    "Martínez",
    "Smith",
    "Brown",
    "Ivanov",
    "Petrov",
    "Gómez",
    "Díaz",
]


def load(n: int) -> float:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone
    from helpdesk.models import Queue, Ticket

    call_command("migrate", verbosity=0, interactive=False)
    have = Ticket.objects.count()
    if have >= n:
        return 0.0
    User = get_user_model()
    staff, _ = User.objects.get_or_create(
        username="peer-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    queues = [
        Queue.objects.get_or_create(slug=f"q{i}", defaults={"title": f"Queue {i}"})[0]
        for i in range(25)
    ]
    rng = random.Random(1)
    t0 = time.monotonic()
    end = timezone.now()
    step = 730 * 86400 / n
    import uuid

    batch = []
    for i in range(have, n):
        created = end - timezone.timedelta(seconds=(n - i) * step)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        batch.append(
            Ticket(
                title=f"{name}: {rng.choice(['order', 'invoice', 'login', 'refund', 'delivery'])} question",
                queue=queues[i % 25],
                created=created,
                modified=created,
                submitter_email=f"client{i}@mail.example",
                assigned_to=staff if i % 3 else None,
                status=rng.choice([1, 1, 2, 3, 4, 4, 4, 4, 5]),
                description="Customer message",
                priority=3,
                secret_key=uuid.uuid4().hex[:36],
            )
        )
        if len(batch) == 20000:
            Ticket.objects.bulk_create(batch)
            batch = []
    Ticket.objects.bulk_create(batch)
    # created/modified are auto fields in some versions: set them explicitly afterwards is not
    # needed here because bulk_create keeps the given values for auto_now_add only when set.
    return time.monotonic() - t0


def measure(runs: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from helpdesk.query import query_to_base64

    client = Client()
    client.force_login(get_user_model().objects.get(username="peer-staff"))
    requests = [
        (
            "default list",
            {"filtering": {"status__in": [1, 2, 3]}, "sorting": "created", "sortreverse": True},
            0,
            "",
        ),
        (
            "status filter",
            {"filtering": {"status__in": [4]}, "sorting": "created", "sortreverse": True},
            0,
            "",
        ),
        (
            "keyword search",
            {"filtering": {}, "sorting": "created", "sortreverse": True, "search_string": "garcía"},
            0,
            "",
        ),
        (
            "deep page (start 49,950)",
            {"filtering": {}, "sorting": "created", "sortreverse": True},
            49950,
            "",
        ),
    ]
    out = []
    for name, query, start, search in requests:
        from django.urls import reverse

        url = (
            reverse("helpdesk:datatables_ticket_list", kwargs={"query": query_to_base64(query)})
            + "?"
            + urlencode({"draw": 1, "start": start, "length": 50, "search[value]": search})
        )
        samples, status, rows = [], None, 0
        for i in range(runs + 2):
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - t0
            status = response.status_code
            if i >= 2:
                samples.append(elapsed * 1000)
        if status == 200:
            rows = len(json.loads(response.content).get("data", []))
        ms = sorted(samples)
        out.append(
            {
                "name": name,
                "status": status,
                "rows": rows,
                "median": round(statistics.median(ms), 1),
                "p95": round(ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)], 1),
                "max": round(ms[-1], 1),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    configure(args.db)
    _urls()
    import helpdesk  # noqa: F401  (fails early when the peer venv lacks it)

    load_seconds = load(args.tickets)
    from helpdesk.models import Ticket

    result = {
        "helpdesk_version": __import__("importlib.metadata").metadata.version("django-helpdesk"),
        "django": django.get_version(),
        "tickets": Ticket.objects.count(),
        "load_seconds": round(load_seconds, 1),
        "requests": measure(args.runs),
    }
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    sys.modules.setdefault("helpdesk_bench", sys.modules[__name__])
    sys.exit(main())
