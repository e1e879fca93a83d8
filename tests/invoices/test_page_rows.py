"""The rows of 我的发票 and 通行记录 written in Python (invoices/templatetags/page_rows.py) are the
HTML the template loops they replace wrote, byte for byte: in both languages, for every shape of
row (red, reversed, a 数电 invoice without a code, a partly invoiced trip, a 不征税 share, a trip
with no document left), and with text that needs escaping."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from invoices.models import Invoice
from invoices.selectors import SegmentView, TripRow
from invoices.templatetags.page_rows import invoice_rows, trip_items
from invoices.views.trips import explain

# the loops as the templates wrote them before (invoices/_invoice_table.html, invoices/transits.html)
INVOICE_LOOP = """{% load i18n money document_kinds %}{% for inv in invoices %}
    <tr class="doc-{{ inv.document_kind }}{% if inv.red %} red{% endif %}">
      <td class="wide reference" data-label="{% translate '代码/号码' %}"><a href="{% url 'invoices:invoice' inv.pk %}">{% if inv.code %}{{ inv.code }}<br>{% endif %}{{ inv.number }}</a></td>
      <td class="wide" data-label="{% translate '销售方' %}">{{ inv.seller_name }}</td>
      <td class="doc-kind" data-label="{% translate '票据种类' %}">{% if inv.red %}{% translate "红字" %} {% endif %}{{ inv.document_kind|kind_short }} · {{ inv.get_kind_display }}</td>
      <td class="figure" data-label="{% translate '价税合计' %}">¥{{ inv.total|yuan }}</td>
      <td data-label="{% translate '状态' %}">{{ inv.get_status_display }}</td>
    </tr>{% endfor %}"""

TRIP_LOOP = """{% load i18n money %}{% translate "通行费拆分（每段由其经营单位开票）" as split_caption %}{% translate "路段" as th_section %}{% translate "经营单位" as th_operator %}{% translate "税率" as th_rate %}{% translate "金额" as th_amount %}{% translate "不征税" as non_taxable %}{% translate "将开出的票据" as documents_caption %}{% for t in trips %}
      <li class="trip panel">
        <div class="trip-head">
          <strong>{{ t.entry_station }} → {{ t.exit_station }}</strong>
          <span class="tag state-{{ t.state }}">{% if t.partly_invoiced %}{% translate "部分待开票" %}{% else %}{{ t.state_label }}{% endif %}</span>
        </div>
        <div class="muted">{{ t.entry_at }} — {{ t.exit_at }} · {{ t.plate }}</div>
        <div class="fee">¥{{ t.fee|yuan }}</div>
        <table class="segments">
          <caption class="muted">{{ split_caption }}</caption>
          <thead><tr><th scope="col">{{ th_section }}</th><th scope="col">{{ th_operator }}</th><th scope="col">{{ th_rate }}</th><th scope="col">{{ th_amount }}</th></tr></thead>
          <tbody>
          {% for seg in t.segments %}
            <tr><td>{{ seg.section_name }}</td><td>{{ seg.operator_name }}</td><td>{% if seg.rate is None %}{{ non_taxable }}{% else %}{{ seg.rate }}%{% endif %}</td><td>¥{{ seg.fee|yuan }}</td></tr>
          {% endfor %}
          </tbody>
        </table>
        <p class="why">{{ t.why }}</p>
        {% if t.document_lines %}<ul class="plain trip-documents" aria-label="{{ documents_caption }}">{% for line in t.document_lines %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
      </li>
    {% endfor %}"""

SHANGHAI = ZoneInfo("Asia/Shanghai")


INVOICES = [  # pk, kind of document, code, number, kind, status, red, seller, total
    (7, "vat_e_invoice", "041002600112", "00000001", "taxable", "normal", False, "甲高速公司 <A&B>", 123456),
    (8, "vat_e_invoice", "041002600112", "00000002", "non_taxable", "reversed", False, "甲高速公司 <A&B>", 123456),
    (9, "vat_e_invoice", "041002600112", "00000003", "taxable", "normal", True, "乙", -9733),
    (10, "digital_e_invoice", "", "26410000000000000001", "taxable", "normal", False, "丙", 5),
    (11, "fiscal_e_bill", "41029926", "0000000001", "non_taxable", "normal", False, "丁还贷中心", 100),
]


def invoices() -> list[Invoice]:
    fields = ("pk", "document_kind", "code", "number", "kind", "status", "red", "seller_name", "total")
    return [Invoice(**dict(zip(fields, row, strict=True))) for row in INVOICES]


def trips() -> list[TripRow]:
    at = datetime(2026, 9, 5, 8, 0, tzinfo=SHANGHAI)
    base = {"plate": "豫A12345", "entry_time": at, "exit_time": at, "travel_date": date(2026, 9, 5)}
    three = TripRow(1, "T1", entry_station="郑州 <东>", exit_station="洛阳&西", fee=11433, state="open", **base)
    three.segments = [
        SegmentView("S-A3", "甲段", 1, "甲高速公司", 9733, 3),
        SegmentView("S-B5", "乙段 <桥>", 2, "乙路桥公司", 1200, None),
        SegmentView("S-C9", "丙段", 3, "丙公司", 500, 9),
    ]
    three.invoices = [("甲高速公司", 3), ("乙路桥公司", None), ("丙公司", 9)]
    three.documents = [("甲高速公司", 3, "vat_e_invoice"), ("乙路桥公司", None, "fiscal_e_bill"), ("丙公司", 9, "digital_e_invoice")]  # fmt: skip
    one = TripRow(2, "T2", entry_station="开封", exit_station="郑州", fee=100000, state="invoiced", **base)
    one.segments = [SegmentView("S-A3", "甲段", 1, "甲高速公司", 100000, 3)]
    partly = TripRow(3, "T3", entry_station="新乡", exit_station="郑州", fee=1700, state="open", **base)
    partly.segments = [SegmentView("S-A3", "甲段", 1, "甲高速公司", 1200, 3), SegmentView("S-C9", "丙段", 3, "丙公司", 500, 9)]  # fmt: skip
    partly.invoices = [("丙公司", 9)]
    partly.invoiced = [("甲高速公司", 3)]
    partly.documents = [("丙公司", 9, "vat_e_invoice")]
    return explain([three, one, partly])


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_rows_are_what_the_template_loops_wrote(language):
    with translation.override(language):
        rows = invoices()
        assert invoice_rows(rows) == Template(INVOICE_LOOP).render(Context({"invoices": rows}))
        listed = trips()
        assert trip_items(listed) == Template(TRIP_LOOP).render(Context({"trips": listed}))
        assert invoice_rows([]) == "" and trip_items([]) == ""
    html = invoice_rows(invoices())
    assert "甲高速公司 &lt;A&amp;B&gt;" in html and "<A&B>" not in html  # escaped as {{ }} escapes
    assert html.count("<tr ") == 5 and "¥1,234.56" in html and "¥-97.33" in html and "红字 " in html
    assert 'href="/invoices/10/">26410000000000000001</a>' in html  # a 数电 invoice has no code
