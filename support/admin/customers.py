"""The customer view: the search by mobile, name or number, one customer's case on a page, and
a supervisor's lifting of today's binding cap."""

from __future__ import annotations

import re

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _

from accounts.models import User
from cards.selectors import binding_cap_status
from cards.services.cap_lift import PERM_LIFT_CAP, binding_cap_lift
from piaogen.errors import ServiceError
from piaogen.masking import mask_mobile, mask_name, mask_text

from .. import selectors
from ..forms import CapLiftForm, CustomerSearchForm
from ..models import Customer
from .base import CONSOLE_MEDIA, PageOnlyAdmin, _pk


def _admin_url(name: str, *args) -> str:
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""


def _masked_query(query: str) -> str:
    """What was searched, told back without any long number in full."""
    return re.sub(r"\d{7,}", lambda m: mask_mobile(m.group()), mask_text(query or ""))[:64]


@admin.register(Customer)
class CustomerAdmin(PageOnlyAdmin):
    permission = "accounts.view_user"

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.search_view), name="support_customer_changelist"),
            path("<int:user_id>/", self.admin_site.admin_view(self.customer_view), name="support_customer_view"),
            path(
                "<int:user_id>/lift-cap/",
                self.admin_site.admin_view(self.lift_cap_view),
                name="support_customer_lift_cap",
            ),
        ]

    def search_view(self, request):
        """POST keeps the full mobile out of URLs and access logs."""
        self._guard(request)
        form = CustomerSearchForm(request.POST if request.method == "POST" else None)
        result = None
        if form.is_bound and form.is_valid():
            result = selectors.find_customers(form.cleaned_data["q"])
            if len(result.users) == 1:
                return HttpResponseRedirect(reverse("admin:support_customer_view", args=[result.users[0].pk]))
            form = CustomerSearchForm()  # the typed value is not echoed back
        return TemplateResponse(
            request,
            "admin/support/customer_search.html",
            self._context(
                request,
                title=_("客户视图"),
                form=form,
                result=result,
                searched=_masked_query(request.POST.get("q", "")) if result is not None else "",
                media=self.media,
            ),
        )

    def customer_view(self, request, user_id):
        self._guard(request)
        view = selectors.customer_view(user_id)
        return TemplateResponse(
            request,
            "admin/support/customer.html",
            self._context(
                request,
                title=_("客户视图：%(who)s") % {"who": view.user.name or view.user.mobile_masked},
                view=view,
                form=CustomerSearchForm(),
                holder=mask_name,
                links={
                    "ticket_add": _admin_url("support_ticket_add"),
                    "call_add": _admin_url("support_call_add"),
                    "user_history": _admin_url("accounts_user_history", view.user.pk)
                    if request.user.has_perm("accounts.view_historicaluser")
                    else "",
                },
                can_add_ticket=request.user.has_perm("support.add_ticket"),
                can_lift_cap=request.user.has_perm(PERM_LIFT_CAP),
                can_add_call=request.user.has_perm("support.add_call"),
                media=self.media,
                # The case on the whole width, without the admin's navigation of every app and
                # model (the header and breadcrumbs stay): rendering it cost more than the data.
                is_nav_sidebar_enabled=False,
            ),
        )

    def lift_cap_view(self, request, user_id):
        """Supervisors lift today's binding cap of the account or of one of its cards. The
        customer view's button posts the card number (never in a URL); this page asks for the
        reason, and the confirmation (``confirm``) lifts it through the service."""
        self._guard(request)
        if not request.user.has_perm(PERM_LIFT_CAP):
            raise PermissionDenied
        customer = User.objects.filter(pk=_pk(user_id), is_staff=False).defer("mobile").first()
        if customer is None:
            raise Http404("no such account")
        back = reverse("admin:support_customer_view", args=[customer.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        confirming = "confirm" in request.POST
        form = CapLiftForm(request.POST if confirming else None, initial={"card_no": request.POST.get("card_no", "")})
        if confirming and form.is_valid():
            try:
                lift = binding_cap_lift(
                    staff=request.user,
                    user=customer,
                    reason=form.cleaned_data["reason"],
                    card_no=form.cleaned_data["card_no"],
                )
            except ServiceError as exc:
                if exc.status == 403:
                    raise PermissionDenied from None
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _("已解除%(what)s，此前计入的 %(n)s 次失败不再计入；已短信和站内消息通知用户。")
                    % {"what": str(lift), "n": lift.failures},
                )
                return HttpResponseRedirect(back + "#binding-cap")
        card_no = request.POST.get("card_no", "").strip()
        return TemplateResponse(
            request,
            "admin/support/cap_lift.html",
            self._context(
                request,
                title=_("解除绑卡失败上限：%(who)s") % {"who": customer.name or customer.mobile_masked},
                customer=customer,
                card_no=card_no,
                cap=binding_cap_status(customer),
                form=form,
                back_url=back,
                media=self.media,
            ),
        )
