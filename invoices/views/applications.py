"""An application's pages: its progress (and what the page polls), 重新发送邮件, 重新申请 and 换票.
Forms validate; the same services as the App API decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.selectors import titles
from piaogen.errors import ServiceError
from piaogen.paging import KeysetMixin

from .. import selectors, services
from ..documents import services as documents
from ..forms import ReapplyForm, ResendForm, TitleChangeForm
from ..models import Application


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


class ApplicationResendView(LoginRequiredMixin, View):
    """重新发送邮件: an issued application's ZIP mailed to the address the user types."""

    def post(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        form = ResendForm(request.POST)
        if not form.is_valid():
            messages.error(request, form.first_error)
            return redirect("invoices:application", pk=app.pk)
        email = form.cleaned_data["email"]
        try:
            documents.application_mail_resend(user=request.user, application_id=app.pk, email=email)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("已提交：发票压缩包将发送至 %(email)s，请稍后查收（也请看看垃圾邮件）。") % {"email": email}
            )
        return redirect("invoices:application", pk=app.pk)


class ApplicationReapplyView(LoginRequiredMixin, View):
    """重新申请: a failed application's released trips applied for again in one step."""

    def post(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        form = ReapplyForm(request.POST)
        form.is_valid()  # never refuses: a title that is not a number is the failed application's own
        title_id = form.cleaned_data["title_id"]
        try:
            new = services.application_reapply(user=request.user, application_id=app.pk, title_id=title_id)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("invoices:application", pk=app.pk)
        messages.success(request, _("已重新提交开票申请，正在开票。"))
        return redirect("invoices:application", pk=new.pk)


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
        form = TitleChangeForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(pk=pk, error=form.first_error))
        try:
            new = services.application_title_change(
                user=request.user, application_id=app.pk, title_id=form.cleaned_data["title_id"]
            )
        except ServiceError as exc:
            return self.render_to_response(self.get_context_data(pk=pk, error=exc.message))
        messages.success(request, _("换票申请已提交：原发票将红冲，并按新抬头重新开具。"))
        return redirect("invoices:application", pk=new.pk)
