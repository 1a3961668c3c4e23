"""A served process keeps what it loaded at start out of the garbage collector's full passes.

The application (Django, the URL map, the models, the column registry) is over 100,000 objects
that live as long as the process; a full collection walked all of them in the middle of some
request. `convodesk.asgi` moves them to the permanent generation once loaded.
"""

import os
import subprocess
import sys

from django.conf import settings


def test_the_loaded_application_is_frozen_out_of_full_collections():
    probe = "import gc, convodesk.asgi; print(gc.get_freeze_count())"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "convodesk.settings"}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert int(out.stdout.strip().splitlines()[-1]) > 50_000
