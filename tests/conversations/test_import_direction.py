"""The write side runs in one direction: the services import their helpers, never the reverse.

The helpers decide (`lines.distribution` whom to offer to, `crm.binding` what to bind, the
lifecycle the next state) or write rows for the services (`stats.rollups`), and `hooks` is the
list of after-commit subscribers; none of them imports the services, not even inside a function.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "convodesk"

BELOW_THE_SERVICES = [
    "conversations/lifecycle.py",
    "conversations/visibility.py",
    "conversations/models.py",
    "conversations/normalize.py",
    "conversations/attachments.py",
    "conversations/hooks.py",
    "conversations/realtime.py",
    "crm/binding.py",
    "crm/models.py",
    "lines/distribution.py",
    "lines/models.py",
    "stats/rollups.py",
    "stats/tiers.py",
]


def _imports(path: Path) -> list[str]:
    """Every module an import statement in the file names, at any depth, resolved to dotted form."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.nodb
@pytest.mark.parametrize("module", BELOW_THE_SERVICES)
def test_no_helper_below_the_services_imports_them(module):
    imported = _imports(ROOT / module)
    upward = [
        name
        for name in imported
        if name == "convodesk.conversations.services"
        or name.startswith("convodesk.conversations.services.")
    ]
    assert not upward, f"{module} imports {upward}"


@pytest.mark.nodb
def test_the_services_import_the_deciding_helpers():
    imported = {
        name for path in (ROOT / "conversations/services").glob("*.py") for name in _imports(path)
    }
    assert "convodesk.lines.distribution" in imported
    assert "convodesk.crm.binding" in imported
