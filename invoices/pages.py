"""Pages of invoicing: 我要开票, an application's progress, 我的发票, an invoice, title change
and reversal. Forms validate and call the same services as the App API."""

from __future__ import annotations

from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.selectors import binding_for, bound_cards, titles
from piaogen.errors import ServiceError

from . import selectors, services
from .models import Application, CardInvoiceBasis, InvoiceState
from .views import CardMonthMixin


class ApplyView(CardMonthMixin, TemplateView):
    """我要开票: choose card, month, trips (or the whole month), mode, title, e-mail."""

    template_name = "invoices/apply.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        bindings, binding, month, months = self.card_and_month()
        trips = []
        basis = None
        if binding:
            trips = [
                t
                for t in selectors.trip_views(selectors.transits_for_card(binding.card_id, month))
                if t.transit.state == InvoiceState.OPEN
            ]
            basis = CardInvoiceBasis.objects.filter(card_id=binding.card_id).first()
        user_titles = list(titles(self.request.user))
        ctx.update(
            bindings=bindings, binding=binding, month=month, months=months, trips=trips, titles=user_titles,
            default_title_id=binding.default_title_id if binding else None, basis=basis,
            total=sum(t.transit.fee for t in trips), invoice_total=sum(t.invoice_count for t in trips),
            error=kwargs.get("error"), selected=kwargs.get("selected"),
        )
        return ctx

    def post(self, request):
        data = request.POST
        selected = data.getlist("transit_ids")
        whole = data.get("scope") == "month"
        try:
            title_id = int(data.get("title_id", ""))
        except ValueError:
            title_id = None
        try:
            app = services.application_submit_consumption(
                user=request.user, card_no=data.get("card", ""), month=data.get("month", ""), title_id=title_id,
                mode=data.get("mode") or Application.Mode.PER_TRIP, transit_ids=None if whole else selected,
                email=data.get("email", ""),
            )
        except ServiceError as exc:
            if not whole and not selected and exc.code == "nothing_to_invoice":
                exc = ServiceError("invalid", _("请至少选择一条通行记录，或选择“整月开票”。"))
            request.GET = request.GET.copy()
            request.GET["card"], request.GET["month"] = data.get("card", ""), data.get("month", "")
            return self.render_to_response(self.get_context_data(error=exc, selected=set(selected)))
        messages.success(request, _("开票申请已提交，正在开票。"))
        return redirect("invoices:application", pk=app.pk)


class ApplicationView(LoginRequiredMixin, TemplateView):
    template_name = "invoices/application.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        app = selectors.application_of(self.request.user, kwargs["pk"])
        invoices = selectors.application_invoices(app)
        ctx.update(app=app, invoices=invoices, pending=app.status in (Application.Status.SUBMITTED, Application.Status.ISSUING))
        return ctx


class ApplicationStatusView(LoginRequiredMixin, View):
    """What the progress page polls: the status, in one small query."""

    def get(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        return JsonResponse(
            {
                "id": app.pk,
                "status": app.status,
                "status_label": app.get_status_display(),
                "failure_reason": app.failure_reason,
                "invoice_count": app.invoice_count,
            }
        )


class InvoiceListView(CardMonthMixin, TemplateView):
    """我的发票: by application or by trip, filtered by card and month."""

    template_name = "invoices/invoices.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        bindings = list(bound_cards(self.request.user))
        card_no = self.request.GET.get("card", "")
        months = selectors.recent_months(12)
        month = self.request.GET.get("month", "")
        if month and month not in months:
            months.append(month)
        card_id = None
        if card_no:
            card_id = binding_for(self.request.user, card_no).card_id
        view = self.request.GET.get("view", "application")
        invoices = list(selectors.invoices_of(self.request.user, card_id=card_id, month=month or None)[:300])
        groups: OrderedDict = OrderedDict()
        if view == "trip":
            for inv in invoices:
                for line in inv.lines.all():
                    key = line.transit.transit_id if line.transit_id else (line.recharge.recharge_id if line.recharge_id else "")
                    label = (
                        f"{line.transit.entry_station} → {line.transit.exit_station} · {line.transit.exit_time:%Y-%m-%d}"
                        if line.transit_id else _("充值")
                    )
                    groups.setdefault(key, {"label": label, "invoices": []})
                    if inv not in groups[key]["invoices"]:
                        groups[key]["invoices"].append(inv)
        else:
            apps = {a.pk: a for a in selectors.applications_of(self.request.user).filter(id__in={i.application_id for i in invoices})}
            for inv in invoices:
                app = apps.get(inv.application_id)
                groups.setdefault(inv.application_id, {"app": app, "invoices": []})["invoices"].append(inv)
        recent = list(selectors.applications_of(self.request.user).exclude(status=Application.Status.ISSUED)[:5])
        ctx.update(bindings=bindings, card_no=card_no, month=month, months=months, view=view, groups=groups,
                   count=len(invoices), pending_apps=recent)
        return ctx


class InvoiceDetailView(LoginRequiredMixin, TemplateView):
    template_name = "invoices/invoice.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["invoice"] = selectors.invoice_of(self.request.user, kwargs["pk"])
        return ctx


class InvoiceReverseView(LoginRequiredMixin, TemplateView):
    """红冲 with a confirmation step."""

    template_name = "invoices/reverse.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["invoice"] = selectors.invoice_of(self.request.user, kwargs["pk"])
        return ctx

    def post(self, request, pk: int):
        invoice = selectors.invoice_of(request.user, pk)
        if request.POST.get("confirm") != "yes":
            return self.render_to_response(self.get_context_data(pk=pk, error=_("请勾选确认后再提交。")))
        try:
            app = services.invoice_reverse(user=request.user, invoice_id=invoice.pk, reason=request.POST.get("reason", ""))
        except ServiceError as exc:
            ctx = self.get_context_data(pk=pk)
            ctx["error"] = exc.message
            return self.render_to_response(ctx)
        messages.success(request, _("红冲申请已提交。"))
        return redirect("invoices:application", pk=app.pk)


class TitleChangeView(LoginRequiredMixin, TemplateView):
    """换票: every invoice of an application reversed and issued again under a new title."""

    template_name = "invoices/title_change.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        app = selectors.application_of(self.request.user, kwargs["pk"])
        ctx.update(app=app, invoices=selectors.application_invoices(app), titles=list(titles(self.request.user)))
        return ctx

    def post(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        try:
            title_id = int(request.POST.get("title_id", ""))
        except ValueError:
            title_id = None
        if request.POST.get("confirm") != "yes":
            ctx = self.get_context_data(pk=pk)
            ctx["error"] = _("请勾选确认：原发票将全部红冲作废。")
            return self.render_to_response(ctx)
        try:
            new = services.application_title_change(user=request.user, application_id=app.pk, title_id=title_id)
        except ServiceError as exc:
            ctx = self.get_context_data(pk=pk)
            ctx["error"] = exc.message
            return self.render_to_response(ctx)
        messages.success(request, _("换票申请已提交：原发票将红冲，并按新抬头重新开具。"))
        return redirect("invoices:application", pk=new.pk)
