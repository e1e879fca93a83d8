"""我的发票 (by application or by trip, a page at a time), an invoice, and 红冲 with its
confirmation step. Forms validate; the same services as the App API decide."""

from __future__ import annotations

from collections import OrderedDict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from cards.picker import pick_card
from piaogen.errors import ServiceError
from piaogen.paging import KeysetMixin, trim_page

from .. import selectors, services
from ..forms import ReverseForm
from ..models import Application
from .mixins import CardMonthMixin


class InvoiceListView(KeysetMixin, CardMonthMixin, TemplateView):
    """我的发票: by application or by trip, filtered by card and month, newest first, a page of
    invoices at a time."""

    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)

    template_name = "invoices/invoices.html"
    cursor_kinds = selectors.INVOICE_CURSOR

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # every card (全部) unless one is asked for, or searched for (a fleet's picker, cards.picker)
        picker = pick_card(self.request.user, self.request.GET, default_first=False)
        card_id = picker.chosen.card_id if picker.chosen else None
        card_no = picker.chosen.card.card_no if picker.chosen else ""
        months = selectors.recent_months(12)
        month = self.request.GET.get("month", "")
        if month and month not in months:
            months.append(month)
        view = self.request.GET.get("view", "application")
        picker.keeping(month=month, view=view if view != "application" else "")
        cursors = self.cursors()
        page = selectors.invoice_list_page(self.request.user, card_id=card_id, month=month or None, **cursors)
        invoices = page.rows
        groups: OrderedDict = OrderedDict()
        if view == "trip":
            lines = selectors.invoice_line_trips([inv.pk for inv in invoices], months={inv.month for inv in invoices})
            # By trip, a page holds at most INVOICE_TRIP_VIEW_LINES lines: a monthly invoice
            # covers a whole month of trips, and 50 of them made a page of thousands of groups.
            per_invoice: dict[int, int] = {}
            for line in lines:
                per_invoice[line[0]] = per_invoice.get(line[0], 0) + 1
            page = trim_page(
                page,
                [per_invoice.get(inv.pk, 0) for inv in invoices],
                settings.INVOICE_TRIP_VIEW_LINES,
                selectors.INVOICE_ORDER,
                backward="before" in cursors,
            )
            invoices = page.rows
            by_id = {inv.pk: inv for inv in invoices}
            for invoice_id, transit_id, entry, exit_, exit_time, recharge_id in lines:
                if invoice_id not in by_id:
                    continue
                inv = by_id[invoice_id]
                key = transit_id or recharge_id or ""
                label = f"{entry} → {exit_} · {timezone.localtime(exit_time):%Y-%m-%d}" if transit_id else _("充值")
                group = groups.setdefault(key, {"label": label, "invoices": []})
                if inv not in group["invoices"]:
                    group["invoices"].append(inv)
        else:
            apps = {
                a.pk: a
                for a in Application.objects.filter(
                    user=self.request.user, id__in={i.application_id for i in invoices}
                ).only("id", "kind", "summary_no")
            }
            for inv in invoices:
                groups.setdefault(inv.application_id, {"app": apps.get(inv.application_id), "invoices": []})[
                    "invoices"
                ].append(inv)
        recent = list(
            Application.objects.filter(user=self.request.user)
            .exclude(status=Application.Status.ISSUED)
            .only("id", "kind", "status", "failure_reason")
            .order_by("-created_at", "-id")[:5]
        )
        # 按卡按月下载: a ZIP link per card-month that has invoices, within the filters
        card_months = selectors.invoice_card_months(self.request.user, card_id=card_id, month=month or None)
        # 财务台账: a period across every card, this year's January to last month by default
        ledger_months = selectors.recent_months(24)
        ctx.update(
            ledger_months=ledger_months,
            ledger_from=f"{ledger_months[1][:4]}-01",
            ledger_to=ledger_months[1],
            picker=picker,
            card_no=card_no,
            month=month,
            months=months,
            view=view,
            card_months=card_months,
            # a chosen card and month without invoices says so where its ZIP link would be
            empty_card_month=bool(card_id and month and not card_months),
            groups=groups,
            count=len(invoices),
            page=page,
            links=self.page_links(page),
            pending_apps=recent,
        )
        return ctx


class InvoiceDetailView(LoginRequiredMixin, TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "invoices/invoice.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoice = ctx["invoice"] = selectors.invoice_of(self.request.user, kwargs["pk"])
        # a stored-value card's recharge invoice: its dates are recharge dates (lines are prefetched)
        ctx["recharge"] = any(line.recharge_id for line in invoice.lines.all())
        if invoice.status == invoice.Status.REVERSED:
            ctx["red_letter"] = selectors.red_letter_of(invoice)
        ctx["red_confirmation"] = selectors.red_confirmation_of(invoice)
        ctx["deductible"] = selectors.deductible_input_tax(invoice)
        return ctx


class InvoiceReverseView(LoginRequiredMixin, TemplateView):
    """红冲 with a confirmation step."""

    template_name = "invoices/reverse.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoice = selectors.invoice_of(self.request.user, kwargs["pk"])
        trips = {line.transit_id: line.transit for line in invoice.lines.all() if line.transit_id}
        ctx.update(
            invoice=invoice,
            # the trips whose share of this seller opens again for invoicing once it is reversed
            trips=list(trips.values()),
            pending=services.reversal_pending(invoice.pk),
        )
        return ctx

    def post(self, request, pk: int):
        invoice = selectors.invoice_of(request.user, pk)
        form = ReverseForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, error=form.first_error))
        try:
            app = services.invoice_reverse(user=request.user, invoice_id=invoice.pk, reason=form.cleaned_data["reason"])
        except ServiceError as exc:
            return self.render_to_response(self.get_context_data(pk=pk, error=exc.message))
        messages.success(request, _("红冲申请已提交。"))
        return redirect("invoices:application", pk=app.pk)
