"""Every link and redirect of the product comes from its URL name (reverse(), {% url %},
`links.path` / `links.id_path`), so a moved page or a deployment under a script prefix keeps
every link right (issue 17 item 5: one source for URLs)."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2] / "convodesk"
# A quoted path under one of the pages the root URLconf serves (convodesk/urls.py).
PAGE_PATH = re.compile(
    r"""(["'])(/(?:contact-center|settings|account|login|logout|crm|widget|connectors|rest|i18n|admin)(?:[/?][^"']*)?)\1"""
)
# Quoted paths that are not links: API routes (relative to /api/v1/), a prefix matched against
# a request's path, and the one page that must render when nothing else does.
ALLOWED = {
    ("api/connectors.py", "/connectors/{connection_id}/messages"),
    ("api/v1.py", "/crm"),
    ("api/middleware.py", "/connectors/"),
    ("templates/500.html", "/contact-center/conversations/"),
    ("templates/500.html", "/contact-center/workspace/"),
    ("templates/500.html", "/crm/"),
    ("templates/500.html", "/contact-center/statistics/"),
}


def _hard_coded() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".py", ".html", ".js") or "migrations" in path.parts:
            continue
        relative = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for match in PAGE_PATH.finditer(line):
                if (relative, match.group(2)) not in ALLOWED:
                    found.append(f"{relative}:{number}: {line.strip()[:120]}")
    return found


def test_no_page_path_is_written_out_by_hand():
    assert _hard_coded() == []
