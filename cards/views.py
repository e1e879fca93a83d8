"""Pages: 我的ETC卡, 绑定ETC卡 (two steps), 解绑, 发票抬头. They share the services of the App API."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from invoices.regimes import regime_on
from piaogen.errors import ServiceError
from piaogen.forms import add_service_error
from piaogen.limits import client_address

from . import autoinvoice, autoinvoice_pages, bulk_lists, selectors
from .forms import BindConfirmForm, BindForm, BulkBindForm, TitleForm
from .models import BindingAttempt, BulkBinding
from .paging import CardPageMixin
from .services.binding import binding_code_resend, binding_confirm, binding_start
from .services.bulk_binding import bulk_binding_code_resend, bulk_binding_confirm, bulk_binding_start, bulk_max_cards
from .services.titles import (
    TITLE_FIELDS,
    binding_set_default_title,
    invoice_title_create,
    invoice_title_delete,
    invoice_title_update,
)
from .services.unbinding import binding_end


class CardListView(LoginRequiredMixin, CardPageMixin, TemplateView):
    """我的ETC卡: the bound cards, newest first, ``CARDS_PAGE_SIZE`` (20) a page, and for an
    account with more than a page a search by plate or card number: a fleet's 500 cards are
    not one page of 700 KB."""

    template_name = "cards/list.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        bindings, paging = self.card_page(user)
        account, per_card = autoinvoice.settings_of(user)
        for b in bindings:  # 自动开票's state, shown on each card
            b.auto_state = autoinvoice_pages.state_label(autoinvoice.effective(b.pk, account, per_card).state)
        return super().get_context_data(
            bindings=bindings,
            **paging,
            titles=list(selectors.titles(user)),
            **kwargs,
        )


class BindView(LoginRequiredMixin, FormView):
    """Step 1: card number and the details reserved at the issuer."""

    template_name = "cards/bind.html"
    form_class = BindForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            per_account=settings.BINDING_MAX_FAILURES_PER_ACCOUNT,
            per_card=settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD,
            **kwargs,
        )

    def form_valid(self, form):
        try:
            attempt = binding_start(user=self.request.user, **form.cleaned_data, address=client_address(self.request))
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.render_to_response(
                self.get_context_data(form=form, refusal_code=exc.code, refusal_issuer=exc.extra.get("issuer"))
            )
        return redirect("cards:bind_confirm", binding_id=attempt.public_id)


class BindConfirmView(LoginRequiredMixin, FormView):
    """Step 2: the code sent to the reserved mobile."""

    template_name = "cards/bind_confirm.html"
    form_class = BindConfirmForm

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.attempt = selectors.pending_attempt(request.user, kwargs["binding_id"])
        if self.attempt is None:
            messages.info(request, _("该绑定申请已完成或已失效，请重新填写卡号和预留信息。"))
            return redirect("cards:bind")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(attempt=self.attempt, card=self.attempt.card, **kwargs)

    def post(self, request, *args, **kwargs):
        if "resend" in request.POST:
            form = self.form_class(data={})
            form.is_valid()  # an empty code is valid; errors of the resend are added below
            try:
                binding_code_resend(user=request.user, binding_id=self.attempt.public_id)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request, _("验证码已重新发送至 %(mobile)s。") % {"mobile": self.attempt.card.mobile_masked}
                )
            return self.render_to_response(self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            binding = binding_confirm(
                user=self.request.user, binding_id=self.attempt.public_id, code=form.cleaned_data["code"]
            )
        except ServiceError as exc:
            add_service_error(form, exc)
            still_pending = selectors.pending_attempt(self.request.user, self.attempt.public_id) is not None
            return self.render_to_response(
                self.get_context_data(form=form, finished=not still_pending, refusal_issuer=exc.extra.get("issuer"))
            )
        messages.success(
            self.request,
            _("绑定成功：%(plate)s（卡号尾号%(tail)s）。通行记录一般在通行后第%(days)s个自然日起可查。")
            % {
                "plate": binding.card.plate,
                "tail": binding.card.card_no[-4:],
                "days": regime_on(timezone.localdate()).available_after_days,
            },
        )
        return redirect("cards:list")


class BulkBindView(LoginRequiredMixin, FormView):
    """批量绑卡, step 1: an enterprise account's list of card numbers, pasted or uploaded."""

    template_name = "cards/bulk.html"
    form_class = BulkBindForm

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            is_enterprise=bool(user.is_enterprise and user.tax_id),
            max_cards=bulk_max_cards(),
            per_account=settings.BINDING_MAX_FAILURES_PER_ACCOUNT,
            **kwargs,
        )

    def form_valid(self, form):
        text = form.cleaned_data.get("card_nos") or ""
        upload = form.cleaned_data.get("file")
        try:
            if upload and text.strip():
                message = _("请在文本框填写卡号或上传文件，二选一。")
                raise ServiceError("invalid", message, errors={"file": [message]})
            if upload:
                entries = bulk_lists.parse_upload(upload.name, upload.read(bulk_lists.MAX_UPLOAD_BYTES + 1))
            else:
                entries = bulk_lists.parse_text(text)
            bulk = bulk_binding_start(user=self.request.user, card_nos=entries, address=client_address(self.request))
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.render_to_response(
                self.get_context_data(form=form, refused=exc.extra.get("refused"), refusal_code=exc.code)
            )
        return redirect("cards:bulk_confirm", bulk_id=bulk.public_id)


class BulkConfirmView(LoginRequiredMixin, FormView):
    """批量绑卡, step 2: the cards that will be bound, those that will not and why, and the one
    code sent to the contact mobile."""

    template_name = "cards/bulk_confirm.html"
    form_class = BindConfirmForm

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.bulk = selectors.bulk_for(request.user, kwargs["bulk_id"])
        if self.bulk is None:
            messages.info(request, _("该批量绑卡申请不存在或已失效，请重新提交卡号列表。"))
            return redirect("cards:bulk")
        if self.bulk.status == BulkBinding.Status.BOUND:
            return redirect("cards:list")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        bulk = self.bulk
        kwargs.setdefault("refused", bulk.refused)
        kwargs.setdefault("finished", bulk.status != BulkBinding.Status.PENDING)
        return super().get_context_data(
            bulk=bulk,
            eligible=list(selectors.bulk_attempts(bulk, outcome=BindingAttempt.Outcome.PENDING)),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if self.bulk.status != BulkBinding.Status.PENDING:
            return redirect("cards:bulk_confirm", bulk_id=self.bulk.public_id)
        if "resend" in request.POST:
            form = self.form_class(data={})
            form.is_valid()
            try:
                bulk_binding_code_resend(user=request.user, bulk_id=self.bulk.public_id)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, _("验证码已重新发送至 %(mobile)s。") % {"mobile": request.user.mobile_masked})
            return self.render_to_response(self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            bindings = bulk_binding_confirm(
                user=self.request.user, bulk_id=self.bulk.public_id, code=form.cleaned_data["code"]
            )
        except ServiceError as exc:
            add_service_error(form, exc)
            self.bulk.refresh_from_db()
            finished = self.bulk.status != BulkBinding.Status.PENDING
            context = {"form": form, "finished": finished}
            if exc.extra.get("refused"):
                context["refused"] = exc.extra["refused"]
            return self.render_to_response(self.get_context_data(**context))
        messages.success(
            self.request,
            _("批量绑定成功：已绑定 %(n)s 张卡（%(plates)s）。通行记录一般在通行后第%(days)s个自然日起可查。")
            % {
                "n": len(bindings),
                "plates": "、".join(b.card.plate for b in bindings[:10]) + ("…" if len(bindings) > 10 else ""),
                "days": regime_on(timezone.localdate()).available_after_days,
            },
        )
        return redirect("cards:list")


class UnbindView(LoginRequiredMixin, TemplateView):
    """Unbinding asks first; the card can be bound again at any time."""

    template_name = "cards/unbind.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(binding=selectors.binding_for(self.request.user, kwargs["card_no"]), **kwargs)

    def post(self, request, card_no):
        binding = selectors.binding_for(request.user, card_no)
        try:
            binding_end(user=request.user, card_no=card_no)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("已解绑 %(plate)s。已开具的发票仍可在“我的发票”查看；需要时可重新绑定。")
                % {"plate": binding.card.plate},
            )
        return redirect("cards:list")


class DefaultTitleView(LoginRequiredMixin, View):
    def post(self, request, card_no):
        try:
            binding = binding_set_default_title(
                user=request.user, card_no=card_no, title_id=request.POST.get("title_id") or None
            )
        except ServiceError as exc:
            if exc.status == 404:
                selectors.binding_for(request.user, card_no)  # the 404 page
            messages.error(request, exc.message)
        else:
            if binding.default_title:
                messages.success(
                    request,
                    _("%(plate)s 的默认发票抬头已设为“%(title)s”。")
                    % {"plate": binding.card.plate, "title": binding.default_title.name},
                )
            else:
                messages.success(request, _("%(plate)s 已取消默认发票抬头。") % {"plate": binding.card.plate})
        return redirect("cards:list")


# --- Invoice titles ------------------------------------------------------------------------


class TitleListView(LoginRequiredMixin, TemplateView):
    template_name = "cards/titles.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(titles=list(selectors.titles(self.request.user)), **kwargs)


class TitleCreateView(LoginRequiredMixin, FormView):
    template_name = "cards/title_form.html"
    form_class = TitleForm

    def form_valid(self, form):
        try:
            title = invoice_title_create(user=self.request.user, **form.cleaned_data)
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已保存发票抬头“%(name)s”。") % {"name": title.name})
        return redirect("cards:titles")


class TitleEditView(LoginRequiredMixin, FormView):
    template_name = "cards/title_form.html"
    form_class = TitleForm

    def get_title(self):
        return selectors.title_for(self.request.user, self.kwargs["pk"])

    def get_initial(self):
        title = self.get_title()
        return {name: getattr(title, name) for name in TITLE_FIELDS}

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=self.get_title(), **kwargs)

    def form_valid(self, form):
        try:
            title = invoice_title_update(user=self.request.user, title_id=self.kwargs["pk"], **form.cleaned_data)
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已修改发票抬头“%(name)s”。") % {"name": title.name})
        return redirect("cards:titles")


class TitleDeleteView(LoginRequiredMixin, TemplateView):
    template_name = "cards/title_delete.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=selectors.title_for(self.request.user, kwargs["pk"]), **kwargs)

    def post(self, request, pk):
        title = selectors.title_for(request.user, pk)
        invoice_title_delete(user=request.user, title_id=title.pk)
        messages.success(request, _("已删除发票抬头“%(name)s”。已开具的发票不受影响。") % {"name": title.name})
        return redirect("cards:titles")
