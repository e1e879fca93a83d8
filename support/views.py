"""The help centre's pages: FAQ with search, self-service diagnosis, the user's tickets; and the
message centre (消息中心) at /messages/."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from cards.models import Binding
from invoices.models import Application, Invoice, Transit
from invoices.selectors import newest_trips, page_months, transit_availability
from piaogen.errors import ServiceError
from piaogen.forms import add_service_error

from . import diagnosis, notifications, selectors, services
from .forms import DiagnoseDateForm, MessageForm, RateForm, ReopenForm, SearchForm, TicketForm
from .models import Category, Faq, Ticket


def render_answer(text: str) -> str:
    """The answer in the reader's language (locale/en holds the answers as shipped; an answer
    staff edited shows as stored), with the settings it mentions filled in; anything else in
    braces stays as written."""
    text = _(text) if text else ""
    # the natural day of the regime in force today (7 since 2020; TRANSIT_AVAILABLE_AFTER_DAYS before)
    return text.replace("{days}", str(transit_availability().days)).replace("{hotline}", str(settings.SUPPORT_HOTLINE))


def faq_entry(faq: Faq) -> dict:
    return {"faq": faq, "answer": render_answer(faq.answer), "link": selectors.faq_link(faq)}


class HelpView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "support/help.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(search_form=SearchForm(), categories=selectors.categories_with_faqs(), **kwargs)


class CategoryView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "support/category.html"

    def get_context_data(self, **kwargs):
        code = kwargs["code"]
        category = next((c for c in selectors.categories_with_faqs() if c.code == code), None)
        if category is None:
            raise Http404("no such category")
        return super().get_context_data(category=category, search_form=SearchForm(), **kwargs)


class FaqView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "support/faq.html"

    def get_context_data(self, **kwargs):
        faq = selectors.published_faqs().filter(pk=kwargs["pk"]).first()
        if faq is None:
            raise Http404("no such question")
        ctx = super().get_context_data(entry=faq_entry(faq), search_form=SearchForm(), **kwargs)
        if faq.extra == Faq.Extra.ISSUER_HOTLINES:
            ctx["issuers"] = selectors.issuer_hotlines()
            user = self.request.user
            if user.is_authenticated:
                ctx["my_failures"] = [f for f in diagnosis.binding_failures(user, limit=3) if f.call_issuer]
        elif faq.extra == Faq.Extra.TRANSIT_DATES:
            ctx["availability"] = transit_availability()
        ctx["related"] = list(
            selectors.published_faqs().filter(category=faq.category).exclude(pk=faq.pk).order_by("ordering", "id")[:5]
        )
        return ctx


class SearchView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "support/search.html"

    def get_context_data(self, **kwargs):
        form = SearchForm(self.request.GET or None)
        results = []
        query = ""
        if form.is_valid():
            query = form.cleaned_data["q"]
            results = [faq_entry(f) for f in selectors.faq_search(query)]
        return super().get_context_data(search_form=form, query=query, results=results, **kwargs)


class DiagnoseView(LoginRequiredMixin, TemplateView):
    """Answers from the user's own records; ids that are not theirs are 404."""

    template_name = "support/diagnose.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        params = self.request.GET
        ctx = super().get_context_data(**kwargs)
        ctx["failures"] = diagnosis.binding_failures(user)
        date_form = DiagnoseDateForm(params if params.get("date") else None)
        ctx["date_form"] = date_form
        if date_form.is_bound and date_form.is_valid():
            ctx["timing"] = diagnosis.trip_timing(date_form.cleaned_data["date"])
        if params.get("application"):
            ctx["application"] = diagnosis.application_status(user, params["application"])
        if params.get("transit"):
            ctx["trip"] = diagnosis.trip_invoices(user, params["transit"])
        if params.get("invoice"):
            ctx["invoice_tax"] = diagnosis.invoice_tax(user, params["invoice"])
        active = Binding.objects.filter(user=user, ended_at__isnull=True).values("card_id")
        ctx["my_transits"] = newest_trips(
            Transit.objects.filter(card_id__in=active).only(
                "transit_id", "exit_time", "entry_station", "exit_station", "fee"
            ),
            30,
        )
        ctx["my_applications"] = list(Application.objects.filter(user=user).order_by("-created_at", "-pk")[:20])
        ctx["my_invoices"] = list(
            Invoice.objects.filter(user=user, month__in=page_months(user, size=30))
            .only("code", "number", "seller_name", "total")
            .order_by("-issued_at", "-pk")[:30]
        )
        ctx["availability"] = transit_availability()
        return ctx


# --- tickets ---------------------------------------------------------------------------


class TicketListView(LoginRequiredMixin, TemplateView):
    template_name = "support/tickets.html"

    def get_context_data(self, **kwargs):
        tickets = list(selectors.tickets_of(self.request.user)[:100])
        unseen = set(selectors.unseen_replies(self.request.user))
        return super().get_context_data(tickets=tickets, unseen=unseen, **kwargs)


class TicketCreateView(LoginRequiredMixin, TemplateView):
    """Two steps: the first POST shows FAQ answers matching the question; only the second
    (the「仍要提交」button) opens the ticket."""

    template_name = "support/ticket_new.html"

    def initial(self) -> dict:
        params = self.request.GET
        initial = {k: params[k] for k in ("card", "transit", "application", "invoice") if params.get(k)}
        if params.get("category") in Category.values:
            initial["category"] = params["category"]
        faq_id = params.get("faq", "")
        if faq_id.isdigit():
            faq = selectors.published_faqs().filter(pk=int(faq_id)).first()
            if faq:
                initial.update(category=faq.category.code, subject=faq.question[:120])
        return initial

    def get(self, request, *args, **kwargs):
        form = TicketForm(user=request.user, initial=self.initial())
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        form = TicketForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        data = form.cleaned_data
        if "confirm" not in request.POST:
            suggestions = [
                faq_entry(f) for f in selectors.faq_search(f"{data['subject']} {data['description']}", limit=5)
            ]
            return self.render_to_response(self.get_context_data(form=form, preview=True, suggestions=suggestions))
        try:
            ticket = services.ticket_open(
                user=request.user,
                channel=Ticket.Channel.WEB,
                category=data["category"],
                subject=data["subject"],
                description=data["description"],
                card=data.get("card"),
                transit=data.get("transit"),
                application=data.get("application"),
                invoice=data.get("invoice"),
            )
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, _("工单 %(ref)s 已提交，客服回复后会短信通知您。") % {"ref": ticket.ref})
        return redirect("support:ticket", pk=ticket.pk)


class TicketDetailView(LoginRequiredMixin, TemplateView):
    template_name = "support/ticket.html"

    def get_context_data(self, **kwargs):
        ticket = kwargs.get("ticket") or selectors.ticket_of(self.request.user, self.kwargs["pk"])
        thread = list(selectors.public_messages(ticket))
        services.ticket_mark_seen(ticket=ticket, user=self.request.user)
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            ticket=ticket,
            thread=thread,
            message_form=kwargs.get("message_form") or MessageForm(),
            reopen_form=kwargs.get("reopen_form") or ReopenForm(),
            rate_form=kwargs.get("rate_form") or RateForm(),
            can_write=ticket.is_active,
            can_reopen=ticket.status == Ticket.Status.RESOLVED,
            can_rate=ticket.status in Ticket.DONE and ticket.rating is None,
            reopen_days=services.REOPEN_DAYS,
        )
        return ctx


class TicketActionView(LoginRequiredMixin, View):
    """POST-only actions of the customer on their ticket: add a message, reopen, rate."""

    action = ""
    http_method_names = ["post"]

    def post(self, request, pk):
        ticket = selectors.ticket_of(request.user, pk)
        form_class, key = {
            "message": (MessageForm, "message_form"),
            "reopen": (ReopenForm, "reopen_form"),
            "rate": (RateForm, "rate_form"),
        }[self.action]
        form = form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(ticket, form.cleaned_data)
            except ServiceError as exc:
                # Shown at the top of the page: the form it came from may no longer be offered.
                messages.error(request, exc.message)
            else:
                return redirect(reverse("support:ticket", kwargs={"pk": ticket.pk}))
        view = TicketDetailView()
        view.setup(request, pk=pk)
        return view.render_to_response(view.get_context_data(ticket=ticket, **{key: form}), status=400)

    def perform(self, ticket: Ticket, data: dict) -> None:
        user = self.request.user
        if self.action == "message":
            services.ticket_customer_message(ticket=ticket, user=user, body=data["body"])
            messages.success(self.request, _("已补充说明。"))
        elif self.action == "reopen":
            services.ticket_reopen(ticket=ticket, by=user, reason=data["reason"])
            messages.success(self.request, _("工单已重新打开，客服会继续跟进。"))
        else:
            services.ticket_rate(ticket=ticket, user=user, rating=data["rating"], comment=data["comment"])
            messages.success(self.request, _("感谢您的评价！"))


# --- the message centre ------------------------------------------------------------------

NOTIFICATIONS_PER_PAGE = 20


class NotificationListView(LoginRequiredMixin, TemplateView):
    """The user's messages, newest first, unread ones marked; ``?unread=1`` keeps those."""

    template_name = "support/notifications.html"

    def get_context_data(self, **kwargs):
        unread_only = self.request.GET.get("unread") == "1"
        found = selectors.notifications_of(self.request.user, unread=unread_only)
        page = Paginator(found, NOTIFICATIONS_PER_PAGE).get_page(self.request.GET.get("page"))
        return super().get_context_data(page=page, unread_only=unread_only, **kwargs)


class NotificationOpenView(LoginRequiredMixin, View):
    """Opening a message marks it read and goes where it points (a page of this site)."""

    def get(self, request, pk):
        try:
            notification = notifications.notification_mark_read(user=request.user, notification_id=pk)
        except ServiceError:
            raise Http404("no such message") from None
        link = notification.link
        if not (
            link.startswith("/")
            and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}, require_https=False)
        ):
            link = reverse("notifications:list")
        return redirect(link)


class NotificationReadAllView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request):
        count = notifications.notification_mark_all_read(user=request.user)
        if count:
            messages.success(request, _("已将 %(n)s 条消息标为已读。") % {"n": count})
        return redirect("notifications:list")
