"""通行记录 (a card-month's trips, each with the documents it will yield and why) and 充值记录 (a
stored-value card's recharges)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from cards.models import CardType
from piaogen.paging import KeysetMixin

from .. import selectors
from ..models import CardInvoiceBasis, InvoiceState
from ..regimes import DocumentKind
from .mixins import CardMonthMixin


def explain(trips: list[selectors.TripRow]) -> list[selectors.TripRow]:
    """Adds to each trip the sentence saying how many documents it yields and why — which
    operators, and which kind of document each share gets under the regime of its travel date —
    its future documents as text ("丙还贷中心 · 通行费财政电子票据（政府还贷，不征税）；甲高速公司 ·
    数电发票 3%") and its local entry and exit times: worded and formatted here, where it costs a
    fraction of template tags in a loop."""
    several = _("您经过了不同经营单位的路段，每个经营单位各自为自己收取的通行费开票。")
    why_fiscal = _("政府还贷路段收取的部分按通行日期适用的规定开具通行费财政电子票据（不征税，不能抵扣）。")
    why_digital = _("经营性路段收取的部分开具数电发票：只有20位发票号码，没有发票代码和校验码。")
    labels: dict[tuple[str, int | None], str] = {}  # a document's label, worded once a page
    for trip in trips:
        n = trip.invoice_count
        kinds = trip.document_kinds
        fiscal = DocumentKind.FISCAL_E_BILL in kinds
        if n == 1 and trip.documents:
            trip.why = _("这次通行将开出 1 张%(kind)s。") % {
                "kind": selectors.document_kind_short(trip.documents[0][2])
            }
        elif n > 1 and fiscal:
            trip.why = (
                ngettext("这次通行将开出 %(n)s 张票据", "这次通行将开出 %(n)s 张票据", n) % {"n": n} + "：" + several
            )
        elif n > 1:
            trip.why = (
                ngettext("这次通行将开出 %(n)s 张发票", "这次通行将开出 %(n)s 张发票", n) % {"n": n} + "：" + several
            )
        else:
            trip.why = _("这次通行没有待开的票据。")
        if n and fiscal:
            trip.why += " " + why_fiscal
        if n and DocumentKind.DIGITAL_E_INVOICE in kinds:
            trip.why += " " + why_digital
        if trip.partly_invoiced:
            trip.why = (
                _("这次通行有发票已红冲，红冲的部分可以重新开票；%(done)s 的发票仍然有效，不会重复开具。")
                % {"done": "、".join(name for name, _rate in trip.invoiced)}
                + " "
                + trip.why
            )
        trip.entry_at = timezone.localtime(trip.entry_time).strftime("%Y-%m-%d %H:%M")
        trip.exit_at = timezone.localtime(trip.exit_time).strftime("%Y-%m-%d %H:%M")
        for _name, rate, kind in trip.documents:
            if (kind, rate) not in labels:
                labels[(kind, rate)] = selectors.share_document_label(kind, rate)
        trip.document_lines = [f"{name} · {labels[(kind, rate)]}" for name, rate, kind in trip.documents]
        trip.sellers = "；".join(trip.document_lines)
    return trips


class TransitListView(KeysetMixin, CardMonthMixin, TemplateView):
    """通行记录: a card-month's trips, a page at a time, with the month's count and total."""

    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)

    template_name = "invoices/transits.html"
    cursor_kinds = selectors.TRIP_CURSOR

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        picker, binding, month, months = self.card_and_month()
        page, count, total = selectors.Page([]), 0, 0
        if binding:
            count, total = selectors.card_month_totals(binding.card_id, month)
            page = selectors.trip_page(binding.card_id, month, **self.cursors())
            explain(page.rows)
        ctx.update(
            picker=picker,
            binding=binding,
            month=month,
            months=months,
            trips=page.rows,
            page=page,
            links=self.page_links(page, card=binding.card.card_no, month=month) if binding else {},
            availability=selectors.transit_availability(),
            count=count,
            total=total,
        )
        return ctx


class RechargeListView(CardMonthMixin, TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "invoices/recharges.html"
    card_type = CardType.STORED_VALUE

    def default_month(self, binding) -> str | None:
        return selectors.newest_recharge_month(binding.card_id)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        picker, binding, month, months = self.card_and_month()
        rows = list(selectors.recharges_for_card(binding.card_id, month)) if binding else []
        basis = CardInvoiceBasis.objects.filter(card_id=binding.card_id).first() if binding else None
        ctx.update(
            picker=picker,
            binding=binding,
            month=month,
            months=months,
            recharges=rows,
            basis=basis,
            open_count=sum(1 for r in rows if r.state == InvoiceState.OPEN),
        )
        return ctx
