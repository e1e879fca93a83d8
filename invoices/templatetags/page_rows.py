"""The rows of the two longest lists a person pages through, written here rather than by template
tags in a loop (``{% load page_rows %}``): 我的发票's invoice rows (``invoices/_invoice_table.html``,
also on the home page and an application's page) and 通行记录's trips with their splits
(``invoices/transits.html``). A page holds 50 invoices, or 50 trips of about three segments each,
and Django's template engine spent most of such a page's time resolving, filtering and escaping
one variable after another (docs/performance.md, "A fleet of 500 cards"). What the labels say is
translated once a list, each value is escaped exactly as ``{{ }}`` escapes it, and the HTML is the
same, byte for byte, as the loops it replaces wrote (``tests/invoices/test_page_rows.py``).
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from piaogen.templatetags.money import fen_to_yuan

from .. import selectors
from ..models import Invoice, InvoiceState

register = template.Library()


def _e(value) -> str:
    """As ``{{ value }}`` writes it (autoescaped)."""
    return conditional_escape(value)


@register.simple_tag
def invoice_rows(invoices) -> SafeString:
    """The ``<tr>`` of each invoice (a list row of ``selectors.invoice_list_page`` or an
    ``Invoice``): code and number linking to the invoice, seller, kind of document, 价税合计,
    status; each cell labelled for the stacked phone layout."""
    labels = [_e(_(text)) for text in ("代码/号码", "销售方", "票据种类", "价税合计", "状态")]
    reference, seller, kind, total, status = labels
    red_mark = _e(_("红字"))
    kinds = {value: _e(label) for value, label in Invoice.Kind.choices}
    statuses = {value: _e(label) for value, label in Invoice.Status.choices}
    short: dict[str, str] = {}
    out = []
    for inv in invoices:
        doc = inv.document_kind
        if doc not in short:
            short[doc] = _e(selectors.document_kind_short(doc))
        href = reverse("invoices:invoice", args=[inv.pk])
        number = f"{_e(inv.code)}<br>{_e(inv.number)}" if inv.code else _e(inv.number)
        out.append(
            f'\n    <tr class="doc-{_e(doc)}{" red" if inv.red else ""}">'
            f'\n      <td class="wide reference" data-label="{reference}"><a href="{_e(href)}">{number}</a></td>'
            f'\n      <td class="wide" data-label="{seller}">{_e(inv.seller_name)}</td>'
            f'\n      <td class="doc-kind" data-label="{kind}">{red_mark + " " if inv.red else ""}{short[doc]}'
            f" · {kinds.get(inv.kind) or _e(inv.kind)}</td>"
            f'\n      <td class="figure" data-label="{total}">¥{fen_to_yuan(inv.total)}</td>'
            f'\n      <td data-label="{status}">{statuses.get(inv.status) or _e(inv.status)}</td>'
            "\n    </tr>"
        )
    return mark_safe("".join(out))


@register.simple_tag
def trip_items(trips) -> SafeString:
    """The ``<li>`` of each trip of ``views.trips.explain``: stations, state, times and plate,
    fee, the split (section, operator, rate, amount: each share invoiced by its operator), the
    sentence saying what it yields, and its future documents."""
    caption = _e(_("通行费拆分（每段由其经营单位开票）"))
    head = "".join(f'<th scope="col">{_e(_(text))}</th>' for text in ("路段", "经营单位", "税率", "金额"))
    non_taxable = _e(_("不征税"))
    documents_caption = _e(_("将开出的票据"))
    partly = _e(_("部分待开票"))
    states = {value: _e(label) for value, label in InvoiceState.choices}
    out = []
    for t in trips:
        segments = "".join(
            f"\n            <tr><td>{_e(seg.section_name)}</td><td>{_e(seg.operator_name)}</td>"
            f"<td>{non_taxable if seg.rate is None else f'{_e(seg.rate)}%'}</td><td>¥{fen_to_yuan(seg.fee)}</td></tr>"
            "\n          "
            for seg in t.segments
        )
        documents = ""
        if t.document_lines:
            items = "".join(f"<li>{_e(line)}</li>" for line in t.document_lines)
            documents = f'<ul class="plain trip-documents" aria-label="{documents_caption}">{items}</ul>'
        state = partly if t.partly_invoiced else states.get(t.state) or _e(t.state)
        out.append(
            '\n      <li class="trip panel">'
            '\n        <div class="trip-head">'
            f"\n          <strong>{_e(t.entry_station)} → {_e(t.exit_station)}</strong>"
            f'\n          <span class="tag state-{_e(t.state)}">{state}</span>'
            "\n        </div>"
            f'\n        <div class="muted">{_e(t.entry_at)} — {_e(t.exit_at)} · {_e(t.plate)}</div>'
            f'\n        <div class="fee">¥{fen_to_yuan(t.fee)}</div>'
            '\n        <table class="segments">'
            f'\n          <caption class="muted">{caption}</caption>'
            f"\n          <thead><tr>{head}</tr></thead>"
            "\n          <tbody>"
            f"\n          {segments}"
            "\n          </tbody>"
            "\n        </table>"
            f'\n        <p class="why">{_e(t.why)}</p>'
            f"\n        {documents}"
            "\n      </li>"
            "\n    "
        )
    return mark_safe("".join(out))
