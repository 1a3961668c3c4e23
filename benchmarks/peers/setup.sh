#!/bin/sh
# Creates the peer's own virtual environment (django-helpdesk is not a Convodesk dependency).
set -e
cd "$(dirname "$0")"
test -x .venv-helpdesk/bin/python || python3 -m venv .venv-helpdesk
# pinax-teams is a migration dependency of django-helpdesk that its package does not pull in.
# psycopg: the PostgreSQL runs (data set L).
.venv-helpdesk/bin/pip install --quiet "django-helpdesk>=2.6,<3" "pinax-teams>=3,<4" "psycopg[binary]>=3.1,<4"
