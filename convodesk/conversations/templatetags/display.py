"""`{% load display %}`: the template side of convodesk.display, the one way dates and numbers
are shown (`|when`, `|day`, `|number`, `|money`, `|day_input`)."""

from django import template

from convodesk import display

register = template.Library()

register.filter("when", display.when)
register.filter("day", display.day)
register.filter("day_input", display.day_input)


@register.filter
def number(value, decimals=None):
    return display.number(value, None if decimals in (None, "") else int(decimals))


@register.filter
def money(amount, currency):
    return display.money(amount, currency)


@register.simple_tag
def day_placeholder():
    return display.day_placeholder()
