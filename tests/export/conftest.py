import pytest


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    """Exports land in a per-test folder; background tasks run inline unless a test says otherwise."""
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    return settings.EXPORT_ROOT
