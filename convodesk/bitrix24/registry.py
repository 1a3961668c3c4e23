"""The methods the endpoint answers, by lower-case name (the client sends `crm.lead.List`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from convodesk.conversations.services import Actor

METHODS: dict[str, Callable] = {}


@dataclass
class Context:
    """Who calls: the webhook code's employee, acting through the services as themselves."""

    user: object
    request: object
    tz: object = None

    @property
    def actor(self) -> Actor:
        return Actor.of(self.user)

    def host(self) -> str:
        return self.request.get_host()


def method(*names: str):
    def register(func):
        for name in names:
            METHODS[name.lower()] = func
        return func

    return register


def find(name: str):
    from . import common, connector, crm, openlines  # noqa: F401 - they register their methods

    return METHODS.get((name or "").strip().lower())
