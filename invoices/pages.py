"""Pages of invoicing: 我要开票, an application's progress, 我的发票, an invoice, title change
and reversal. Forms validate and call the same services as the App API."""

from __future__ import annotations

from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.models import CardType
from cards.picker import pick_card
from cards.selectors import titles
from piaogen.errors import ServiceError

from . import selectors, services
from .documents import services as documents
from .forms import MAX_PICKED, ApplyForm
from .models import Application, CardInvoiceBasis, InvoiceState
from .views import CardMonthMixin, KeysetMixin


class ApplyView(KeysetMixin, CardMonthMixin, TemplateView):
    """我要开票: card and month; the open trips a page at a time (tick some and press 只开所选, or
    press 整月开票), mode, title, e-mail; or, for a stored-value card that takes recharge
    invoices, its open recharges. Pressing a button shows the confirmation step — what
    will be issued, planned by the function that issues — and only 确认开票 submits."""

    template_name = "invoices/apply.html"
    confirm_template_name = "invoices/apply_confirm.html"
    cursor_kinds = selectors.TRIP_CURSOR

    def track(self, binding, basis) -> str | None:
        """What the page offers: travel or recharge invoicing; None while a stored-value card
        has not chosen (the page asks)."""
        if binding is None or binding.card.card_type != CardType.STORED_VALUE:
            return Application.Kind.CONSUMPTION
        if basis is not None:
            return basis.basis
        wanted = self.request.GET.get("basis") or self.request.POST.get("kind")
        return wanted if wanted in CardInvoiceBasis.Basis.values else None

    def default_month(self, binding) -> str | None:
        basis = CardInvoiceBasis.objects.filter(card_id=binding.card_id).first()
        if self.track(binding, basis) == Application.Kind.RECHARGE:
            return selectors.newest_recharge_month(binding.card_id, open_only=True) or selectors.newest_recharge_month(
                binding.card_id
            )
        return selectors.newest_trip_month(binding.card_id, open_only=True) or selectors.newest_trip_month(
            binding.card_id
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        picker, binding, month, months = self.card_and_month()
        basis = CardInvoiceBasis.objects.filter(card_id=binding.card_id).first() if binding else None
        track = self.track(binding, basis)
        page, count, total, recharges = selectors.Page([]), 0, 0, []
        if binding and track == Application.Kind.CONSUMPTION:
            count, total = selectors.card_month_totals(binding.card_id, month, open_only=True)
            page = selectors.trip_page(binding.card_id, month, open_only=True, **self.cursors())
        elif binding and track == Application.Kind.RECHARGE:
            recharges = list(
                selectors.recharges_for_card(binding.card_id, month).filter(state=InvoiceState.OPEN)[:MAX_PICKED]
            )
            total = sum(r.amount for r in recharges)
        form = kwargs.get("form")
        values = form.cleaned_data if form is not None and hasattr(form, "cleaned_data") else {}
        ctx.update(
            picker=picker,
            binding=binding,
            month=month,
            months=months,
            stored_value=binding is not None and binding.card.card_type == CardType.STORED_VALUE,
            basis=basis,
            track=track,
            trips=page.rows,
            page=page,
            links=self.page_links(page, card=binding.card.card_no, month=month) if binding else {},
            count=count,
            total=total,
            recharges=recharges,
            availability=selectors.transit_availability(),
            titles=list(titles(self.request.user)),
            default_title_id=values.get("title_id") or (binding.default_title_id if binding else None),
            mode=values.get("mode") or Application.Mode.PER_TRIP,
            email=values.get("email", ""),
            error=kwargs.get("error"),
            selected=set(form.transit_ids) | set(form.recharge_ids) if form is not None else set(),
        )
        return ctx

    def _form_again(self, form, error: str):
        """The form as the person left it, with the message saying what to do."""
        self.request.GET = self.request.GET.copy()
        self.request.GET["card"] = form.data.get("card", "")
        month = form.data.get("month", "")
        if month:
            self.request.GET["month"] = month
        if form.data.get("kind") in CardInvoiceBasis.Basis.values:
            self.request.GET["basis"] = form.data["kind"]
        return self.render_to_response(self.get_context_data(form=form, error=error))

    def _preview(self, form) -> services.ApplicationPlan:
        if form.cleaned_data["kind"] == Application.Kind.RECHARGE:
            return services.application_preview_recharge(user=self.request.user, **form.service_inputs())
        return services.application_preview_consumption(user=self.request.user, **form.service_inputs())

    def _confirmation(self, form, plan, error: str = ""):
        d = form.cleaned_data
        trips = []
        if plan.kind == Application.Kind.CONSUMPTION and not plan.whole_month:
            trips = selectors.trip_rows(
                selectors.card_month_trips(plan.card.pk, plan.month)
                .filter(id__in=plan.item_ids)
                .order_by(*selectors.TRIP_ORDER)
            )
        recharges = []
        if plan.kind == Application.Kind.RECHARGE:
            recharges = list(selectors.recharges_for_card(plan.card.pk).filter(id__in=plan.item_ids))
        ignored = len(form.transit_ids) if plan.whole_month else 0
        return TemplateResponse(
            self.request,
            self.confirm_template_name,
            {
                "plan": plan,
                "form": form,
                "email": d.get("email") or plan.title.email,
                "trips": trips,
                "recharges": recharges,
                "ignored_ticks": ignored,
                "transit_ids": [] if plan.whole_month else form.transit_ids,
                "recharge_ids": form.recharge_ids,
                "error": error,
            },
        )

    def post(self, request):
        form = ApplyForm(request.POST)
        if not form.is_valid():
            return self._form_again(form, form.first_error)
        step = form.cleaned_data["step"] or "preview"
        if step == "edit":
            return self._form_again(form, "")
        if form.cleaned_data["kind"] != Application.Kind.RECHARGE and form.cleaned_data["scope"] != "month":
            if not form.transit_ids:
                return self._form_again(
                    form, _("请先勾选要开票的通行记录，再点“只开所选的通行记录”；或者点“整月开票”。")
                )
        try:
            if step == "preview":
                return self._confirmation(form, self._preview(form))
            inputs = form.service_inputs()
            digest = form.cleaned_data["plan_digest"] or "-"  # the confirmation always carries one
            email = form.cleaned_data["email"]
            if form.cleaned_data["kind"] == Application.Kind.RECHARGE:
                app = services.application_submit_recharge(user=request.user, email=email, plan_digest=digest, **inputs)
            else:
                app = services.application_submit_consumption(
                    user=request.user, email=email, plan_digest=digest, **inputs
                )
        except ServiceError as exc:
            if exc.code == "plan_changed":
                try:
                    return self._confirmation(form, self._preview(form), error=exc.message)
                except ServiceError as again:
                    exc = again
            return self._form_again(form, exc.message)
        messages.success(request, _("开票申请已提交，正在开票。"))
        return redirect("invoices:application", pk=app.pk)


class ApplicationView(KeysetMixin, LoginRequiredMixin, TemplateView):
    """An application's progress, its invoices by seller (aggregates) and its invoices a page at
    a time."""

    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)

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
            document_kinds=selectors.application_document_kinds(sellers),
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
                request,
                _("已提交：发票压缩包将发送至 %(email)s，请稍后查收（也请看看垃圾邮件）。") % {"email": email.strip()},
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

    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)

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
        split = selectors.title_change_split(app)
        ctx.update(
            app=app,
            sellers=selectors.application_sellers(app),
            titles=targets,
            current_buyer=current,
            # fiscal e-bills are not re-issued: the count is of the invoices that are
            live_count=split["changeable"],
            fiscal_count=split["fiscal"],
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
