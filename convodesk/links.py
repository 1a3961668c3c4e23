"""Links for pages that show many of them: reverse() once per URL name, then fill in the id.

Every URL comes from its name (reverse() / {% url %}). A reverse() costs 20–60 µs, and a
200-row conversation list links each row five or six times, so per-row links reverse each
name once (per script prefix) with a placeholder id and put each row's id in its place.
"""

from __future__ import annotations

import functools

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse

_SLOT = 987654321987654  # an id no table reaches, replaced by the real one


@functools.cache
def _parts(name: str, prefix: str, fixed: tuple) -> tuple[str, str]:
    head, slot, tail = reverse(name, args=[*fixed, _SLOT]).rpartition(str(_SLOT))
    assert slot, name
    return head, tail


@functools.cache
def _plain(name: str, prefix: str) -> str:
    return reverse(name)


def path(name: str) -> str:
    """reverse(name) for a URL without arguments, cached."""
    return _plain(name, get_script_prefix())


def id_path(name: str, pk, *fixed) -> str:
    """reverse(name, args=[*fixed, pk]) for an integer `pk`, cached per name and `fixed`."""
    head, tail = _parts(name, get_script_prefix(), fixed)
    return f"{head}{int(pk)}{tail}"


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _parts.cache_clear()
        _plain.cache_clear()
