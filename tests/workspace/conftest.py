import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def install_default_roles():
    import importlib

    from django.apps import apps

    module = importlib.import_module("convodesk.accounts.migrations.0002_default_roles")
    module.install(apps, None)


@pytest.fixture
def tdb(transactional_db):
    """A database committed for real (sockets read it from another thread), with the default
    roles the migrations install, and an empty in-memory channel layer."""
    install_default_roles()
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()
    yield
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()
