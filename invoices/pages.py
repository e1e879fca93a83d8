"""Pages of invoicing: 我要开票, an application's progress, 我的发票, an invoice, title change
and reversal. Forms validate and call the same services as the App API."""

from __future__ import annotations

from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.identity import normalize_card_no
from cards.selectors import binding_for, bound_cards, titles
from piaogen.errors import ServiceError

from . import selectors, services
from .documents import services as documents
from .models import Application, CardInvoiceBasis, InvoiceState
from .views import CardMonthMixin, KeysetMixin


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
            bindings=bindings,
            binding=binding,
            month=month,
            months=months,
            trips=trips,
            titles=user_titles,
            default_title_id=binding.default_title_id if binding else None,
            basis=basis,
            total=sum(t.fee_to_invoice for t in trips),
            invoice_total=sum(t.invoice_count for t in trips),
            error=kwargs.get("error"),
            selected=kwargs.get("selected"),
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
                user=request.user,
                card_no=data.get("card", ""),
                month=data.get("month", ""),
                title_id=title_id,
                mode=data.get("mode") or Application.Mode.PER_TRIP,
                transit_ids=None if whole else selected,
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


class ApplicationView(KeysetMixin, LoginRequiredMixin, TemplateView):
    """An application's progress, its invoices by seller (aggregates) and its invoices a page at
    a time."""

    template_name = "invoices/application.html"
    cursor_kinds = (int,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        app = selectors.application_of(self.request.user, kwargs["pk"])
        sellers = selectors.application_sellers(app)
        page = selectors.application_invoice_page(app, **self.cursors())
        ctx.update(
            app=app,
            sellers=sellers,
            invoices=page.rows,
            page=page,
            links=self.page_links(page),
            pending=app.status in (Application.Status.SUBMITTED, Application.Status.ISSUING),
            outcome=selectors.application_outcome(app),
            resends=selectors.recent_resends(app) if app.status == Application.Status.ISSUED else [],
        )
        if app.status == Application.Status.FAILED and app.kind == Application.Kind.CONSUMPTION:
            ctx["reapply"] = selectors.reapply_trips(app)
            ctx["titles"] = list(titles(self.request.user))
        return ctx


class ApplicationResendView(LoginRequiredMixin, View):
    """重新发送邮件: an issued application's ZIP mailed to the address the user types."""

    def post(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        email = request.POST.get("email", "")
        try:
            documents.application_mail_resend(user=request.user, application_id=app.pk, email=email)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("已提交：发票压缩包将发送至 %(email)s，请稍后查收（也请看看垃圾邮件）。") % {"email": email.strip()}
            )
        return redirect("invoices:application", pk=app.pk)


class ApplicationReapplyView(LoginRequiredMixin, View):
    """重新申请: a failed application's released trips applied for again in one step."""

    def post(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        try:
            title_id = int(request.POST.get("title_id", ""))
        except ValueError:
            title_id = None
        try:
            new = services.application_reapply(user=request.user, application_id=app.pk, title_id=title_id)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("invoices:application", pk=app.pk)
        messages.success(request, _("已重新提交开票申请，正在开票。"))
        return redirect("invoices:application", pk=new.pk)


class ApplicationStatusView(LoginRequiredMixin, View):
    """What the progress page polls: the status, in one small query."""

    def get(self, request, pk: int):
        row = selectors.application_status(request.user, pk)
        return JsonResponse(
            {
                "id": row["id"],
                "status": row["status"],
                "status_label": Application.Status(row["status"]).label,
                "failure_reason": row["failure_reason"],
                "invoice_count": row["invoice_count"],
            }
        )


class InvoiceListView(KeysetMixin, CardMonthMixin, TemplateView):
    """我的发票: by application or by trip, filtered by card and month, newest first, a page of
    invoices at a time."""

    template_name = "invoices/invoices.html"
    cursor_kinds = selectors.INVOICE_CURSOR

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
            wanted = normalize_card_no(card_no)
            binding = next((b for b in bindings if b.card.card_no == wanted), None)
            card_id = (binding or binding_for(self.request.user, card_no)).card_id  # 404 if not theirs
        view = self.request.GET.get("view", "application")
        page = selectors.invoice_list_page(self.request.user, card_id=card_id, month=month or None, **self.cursors())
        invoices = page.rows
        groups: OrderedDict = OrderedDict()
        if view == "trip":
            by_id = {inv.pk: inv for inv in invoices}
            for invoice_id, transit_id, entry, exit_, exit_time, recharge_id in selectors.invoice_line_trips(
                list(by_id)
            ):
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
        ctx.update(
            bindings=bindings,
            card_no=card_no,
            month=month,
            months=months,
            view=view,
            groups=groups,
            count=len(invoices),
            page=page,
            links=self.page_links(page),
            pending_apps=recent,
        )
        return ctx


class InvoiceDetailView(LoginRequiredMixin, TemplateView):
    template_name = "invoices/invoice.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoice = ctx["invoice"] = selectors.invoice_of(self.request.user, kwargs["pk"])
        if invoice.status == invoice.Status.REVERSED:
            ctx["red_letter"] = selectors.red_letter_of(invoice)
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
        if request.POST.get("confirm") != "yes":
            return self.render_to_response(self.get_context_data(pk=pk, error=_("请勾选确认后再提交。")))
        try:
            app = services.invoice_reverse(
                user=request.user, invoice_id=invoice.pk, reason=request.POST.get("reason", "")
            )
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
        current, targets = services.title_change_choices(user=self.request.user, app=app)
        ctx.update(
            app=app,
            sellers=selectors.application_sellers(app),
            titles=targets,
            current_buyer=current,
            live_count=app.invoices.filter(red=False, status="normal").count(),
        )
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
