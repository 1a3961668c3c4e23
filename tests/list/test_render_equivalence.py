"""The grid built once per page (issue 23 item 3) prints what rendering each row alone printed.

The page caches per request what is the same for every row (the date format and zone, cells that
depend on one small value, the row's wording) and prints each <tr> without a template include;
the filter form renders a field nobody filled in once per language, day and option list. These
tests hold the page to the per-row reference: each cell is what the column registry renders for
that conversation alone, each row is what the former per-row template printed, and each cached
filter field is what the field's template prints now.
"""

import re
import zoneinfo
from unittest import mock

import pytest
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.html import conditional_escape

from convodesk.conversations.columns import COLUMNS, prefetch_for, with_crm_links
from convodesk.conversations.models import Conversation
from convodesk.conversations.views import panel
from convodesk.conversations.views.rows import build_rows, cell_classes, rate_summary, row_texts

from .. import factories as f

LIST = "/contact-center/conversations/"
ROW = re.compile(
    r'<tr id="row-(\d+)"[^>]*>\n<td class="col-check">.*?</td>\n(.*?)\n<td class="col-actions">',
    re.S,
)
# conversations/_row.html as it was before the rows were printed in Python: the reference.
FORMER_ROW = (
    '{% if True %}<tr id="row-{{ row.pk }}" class="row-{{ row.conv.simple_status }}'
    '{% if row.conv.is_overdue %} row-overdue{% endif %}" data-id="{{ row.pk }}"'
    '{% if oob %} hx-swap-oob="true"{% endif %}>\n'
    '<td class="col-check"><input type="checkbox" name="ids" value="{{ row.pk }}" form="bulk-form"'
    ' aria-label="{{ row.texts.select }}"{% if not row.selectable %} disabled'
    ' title="{{ t.not_selectable }}"{% endif %}></td>\n'
    "{{ row.cells }}\n"
    '<td class="col-actions"><details class="menu" data-menu data-load="menu"><summary'
    ' class="btn btn-sm btn-ghost" aria-label="{{ row.texts.actions }}">⋯</summary><div'
    ' class="menu-pop" role="menu"></div></details></td>\n</tr>\n{% endif %}'
)
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def _page(client, user, language, query="view=all"):
    user.language = language
    user.time_zone = "Europe/Madrid"
    user.column_preferences = {"conversation_list": list(COLUMNS)}
    user.save()
    client.force_login(user)
    return client.get(f"{LIST}?{query}").content.decode()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("who", ["admin", "supervisor", "op1"])
def test_every_cell_is_what_the_column_registry_renders_for_that_row_alone(
    varied, client, language, who
):
    user = getattr(varied.org, who)
    frozen = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        html = _page(client, user, language)
        rows = dict(ROW.findall(html))
        assert len(rows) >= 2
        keys = list(COLUMNS)
        columns = [COLUMNS[k] for k in keys]
        classes = cell_classes(columns)
        # each row read alone, with what the columns read from other tables (as the page does)
        convs = {
            int(pk): prefetch_for(with_crm_links(Conversation.objects.filter(pk=pk)), keys).get()
            for pk in rows
        }
        ratable = {r.pk for r in build_rows(user, list(convs.values()), keys) if r.can_rate}
        with translation.override(language), timezone.override(MADRID):
            for pk, cells in rows.items():
                conv = convs[int(pk)]
                expected = "".join(
                    f"<td{cls}>"
                    + conditional_escape(
                        rate_summary(conv)
                        if col.key == "supervisor_rating" and conv.pk in ratable
                        else col.render_html(conv)
                    )
                    + "</td>"
                    for col, cls in zip(columns, classes, strict=True)
                )
                assert cells == expected, f"row {pk}"
    assert "great &lt;b&gt;&quot;work&quot;&lt;/b&gt; &amp; more" in html
    assert "Eva &lt;b&gt;&quot;x&quot;&lt;/b&gt;" in html


@pytest.mark.parametrize("language", ["en", "es"])
def test_each_row_is_what_the_former_row_template_printed(varied, client, language):
    user = varied.org.admin
    user.language = language
    user.save()
    keys = list(COLUMNS)
    convs = list(Conversation.objects.order_by("-started_at"))
    frozen = timezone.now()
    with (
        mock.patch("django.utils.timezone.now", return_value=frozen),
        translation.override(language),
    ):
        rows = build_rows(user, convs, keys)
        assert any(not r.selectable for r in rows) and any(r.selectable for r in rows)
        assert any(r.conv.is_overdue for r in rows)
        template = Template(FORMER_ROW)
        for row in rows:
            for oob, printed in ((False, row.html), (True, row.html_oob)):
                context = Context({"row": row, "t": row_texts(), "oob": oob})
                assert printed == template.render(context)


def _fields(params=None):
    return panel.build_fields(params or {}, {}, timezone.localdate())


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_filter_field_rendered_once_reads_as_rendering_it_again(org, language):
    panel._FIELD_HTML.clear()
    with translation.override(language):
        first = {fld.key: fld.html for fld in _fields()}
        assert panel._FIELD_HTML  # the empty fields were kept
        for fld in _fields():
            assert fld.cache_key is not None
            assert fld.html == first[fld.key]
            assert fld.html == panel._field_template().render({"f": fld})
        # a field with a value or an error is rendered for its page, never kept
        chosen = {fld.key: fld for fld in _fields({"status": "waiting", "message_count_min": "x"})}
        assert chosen["status"].cache_key is None
        assert 'value="waiting" checked' in chosen["status"].html
        assert chosen["message_count"].cache_key is None


def test_a_new_employee_or_open_channel_shows_in_the_filter_form_at_once(org, client):
    client.force_login(org.admin)
    html = client.get(f"{LIST}?status=waiting").content.decode()
    assert "Zoe Newcomer" not in html and "Brand new line" not in html
    f.employee("zoe", display_name="Zoe Newcomer")
    f.line("Brand new line")
    html = client.get(f"{LIST}?status=waiting").content.decode()
    assert "Zoe Newcomer" in html and "Brand new line" in html
