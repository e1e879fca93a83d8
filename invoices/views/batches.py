"""Pages of 批量开票: a month across many cards — form, confirmation, progress (its ZIP and the
finance ledger of a period are in ``downloads``). Forms shape what a person sent; the services
in ``invoices.batches`` decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.identity import normalize_card_no
from cards.paging import CardPageMixin
from cards.selectors import bound_cards, titles
from piaogen.errors import ServiceError
from piaogen.paging import KeysetMixin

from .. import batches, selectors
from ..forms import BatchForm, list_entries
from ..models import Application


def _default_month() -> str:
    """Last month: the newest whose trips are all in (trips appear from the N-th day after)."""
    return selectors.recent_months(2)[1]


class BatchApplyView(LoginRequiredMixin, CardPageMixin, TemplateView):
    """批量开票: a month across every bound card (counted, not listed), or the chosen ones — the
    ticked boxes of a page of cards (``CARDS_PAGE_SIZE``, newest bound first, with a search by
    plate or card number) and a pasted list of numbers or plates; then the confirmation —
    documents, sellers and total, each card's share, the cards left out and why — and only
    确认开票 submits."""

    template_name = "invoices/batch_apply.html"
    confirm_template_name = "invoices/batch_confirm.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = kwargs.get("form")
        values = form.cleaned_data if form is not None and hasattr(form, "cleaned_data") else {}
        data = form.data if form is not None else {}
        months = selectors.recent_months(12)
        month = data.get("month") or self.request.GET.get("month") or _default_month()
        if month not in months:
            month = _default_month()
        user = self.request.user
        bindings, paging = self.card_page(user)
        user_titles = list(titles(user))
        default_title = values.get("title_id")
        if default_title is None:
            # the newest bound card's default title: on the first page, or read when none there has one
            first_page = not paging["query"] and not paging["links"].get("prev")
            defaults = [b.default_title_id for b in bindings if b.default_title_id] if first_page else []
            if not defaults and paging["total"] > len(bindings):
                defaults = list(
                    bound_cards(user).filter(default_title__isnull=False).values_list("default_title_id", flat=True)[:1]
                )
            default_title = defaults[0] if defaults else (user_titles[0].pk if user_titles else None)
        picked = set(form.card_nos) if form is not None else set()
        card_list = data.get("card_list", "") if form is not None else ""
        # chosen cards this page does not show (coming back from the confirmation): in the list,
        # where they can be seen and removed, never dropped unseen
        shown = {b.card.card_no for b in bindings}
        pasted = {normalize_card_no(entry) for _line, entry in list_entries(card_list)}
        unseen = [n for n in (form.ticked if form is not None else []) if n not in shown and n not in pasted]
        if unseen:
            card_list = "\n".join([*filter(None, [card_list.rstrip()]), *unseen])
        ctx.update(
            bindings=bindings,
            **paging,
            months=months,
            month=month,
            titles=user_titles,
            default_title_id=default_title,
            mode=values.get("mode") or Application.Mode.PER_TRIP,
            email=values.get("email", ""),
            scope=(data.get("scope") or "all") if form is not None else "all",
            picked=picked,
            card_list=card_list,
            list_errors=form.list_errors if form is not None else [],
            error=kwargs.get("error"),
            max_cards=batches.MAX_CARDS,
            recent=batches.recent_batches(user),
        )
        return ctx

    def _form_again(self, form, error: str):
        return self.render_to_response(self.get_context_data(form=form, error=error))

    def _confirmation(self, form, plan: batches.BatchPlan, error: str = ""):
        return TemplateResponse(
            self.request,
            self.confirm_template_name,
            {
                "plan": plan,
                "form": form,
                "email": form.cleaned_data.get("email") or plan.title.email,
                "card_nos": form.card_nos if form.cleaned_data["scope"] == "selected" else [],
                "error": error,
            },
        )

    def post(self, request):
        form = BatchForm(request.POST, user=request.user)
        if not form.is_valid():
            return self._form_again(form, form.first_error)
        step = form.cleaned_data["step"] or "preview"
        if step == "edit":
            return self._form_again(form, "")
        if form.cleaned_data["scope"] == "selected" and not form.card_nos:
            return self._form_again(form, _("请勾选要开票的ETC卡（或粘贴卡号、车牌），或选择“全部已绑定的ETC卡”。"))
        try:
            if step == "preview":
                return self._confirmation(form, batches.batch_preview(user=request.user, **form.service_inputs()))
            batch = batches.batch_submit(
                user=request.user,
                email=form.cleaned_data["email"],
                plan_digest=form.cleaned_data["plan_digest"] or "-",  # the confirmation always carries one
                **form.service_inputs(),
            )
        except ServiceError as exc:
            if exc.code == "plan_changed":
                try:
                    plan = batches.batch_preview(user=request.user, **form.service_inputs())
                    return self._confirmation(form, plan, error=exc.message)
                except ServiceError as again:
                    exc = again
            return self._form_again(form, exc.message)
        messages.success(request, _("批量开票已提交，正在开票。"))
        return redirect("invoices:batch", pk=batch.pk)


class BatchView(LoginRequiredMixin, KeysetMixin, TemplateView):
    """A batch's progress (the page polls while any application is issuing), its per-card
    applications with their ZIPs (``batches.PAGE_SIZE`` card-months a page, by card number),
    the cards left out, and the batch's ZIP once done."""

    template_name = "invoices/batch.html"
    cursor_kinds = (int,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        batch = batches.batch_of(self.request.user, kwargs["pk"])
        progress = batches.batch_progress(batch)
        page = batches.batch_application_page(batch, **self.cursors())
        ctx.update(
            batch=batch,
            progress=progress,
            applications=page.rows,
            links=self.page_links(page),
            pending=progress.pending,
            mode_label=Application.Mode(batch.mode).label,
        )
        return ctx


class BatchStatusView(LoginRequiredMixin, View):
    """What the batch page polls: its status and how many card-months are done."""

    def get(self, request, pk: int):
        batch = batches.batch_of(request.user, pk)
        p = batches.batch_progress(batch)
        return JsonResponse(
            {
                "id": batch.pk,
                "status": p.status,
                # the page shows this line while it waits; it reloads when the status changes
                "status_label": _("%(status)s：已完成 %(done)s / %(n)s 张卡")
                % {"status": p.status_label, "done": p.done, "n": p.applications},
                "done": p.done,
                "applications": p.applications,
                "invoice_count": p.invoice_count,
            }
        )
