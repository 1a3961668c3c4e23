"""How dates and numbers read in each language (Django's FORMAT_MODULE_PATH).

One format per language, used by every screen through `convodesk.display` and the `display`
template filters, and by any `{{ value }}` or `|date` that Django renders: a date and time is
numeric and short enough for a grid cell, times are 24-hour, and numbers are grouped the same way
in tabs, toolbars, statistics and charts. The time zone is always the employee's own.
"""
