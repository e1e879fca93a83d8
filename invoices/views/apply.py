"""我要开票: a card-month's open trips (or a stored-value card's open recharges), the
confirmation step, the submit. The form validates; the same services as the App API decide."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from cards.models import CardType
from cards.selectors import titles
from piaogen.errors import ServiceError
from piaogen.paging import KeysetMixin

from .. import selectors, services
from ..forms import MAX_PICKED, ApplyForm
from ..models import Application, CardInvoiceBasis, InvoiceState
from .mixins import CardMonthMixin


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
        wanted = self.request.GET.get("basis")  # a form shown again carries its kind here (_form_again)
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
        kind = form.cleaned_data.get("kind")
        if kind in CardInvoiceBasis.Basis.values:
            self.request.GET["basis"] = kind
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
