"""Calls: the call log, the live call notice of the console and its wrap-up, and the list of
missed and abandoned calls to call back."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import MobileSearchRedirectMixin
from accounts.identity import normalize_mobile
from accounts.models import mobile_digest
from piaogen.errors import ServiceError
from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin

from .. import cti, selectors, services
from ..forms import CallAdminForm, CallbackForm, CustomerSearchForm, WrapUpForm
from ..models import Call, Callback, Queue, Reveal
from .base import CONSOLE_MEDIA, PageOnlyAdmin, ViewerMixin, _pk, _run, customer_link, masked_html


class MyCallsFilter(admin.SimpleListFilter):
    title = gettext_lazy("坐席")
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", _("我接听的"))]

    def queryset(self, request, queryset):
        return queryset.filter(agent=request.user) if self.value() == "yes" else queryset


@admin.register(Call)
class CallAdmin(MobileSearchRedirectMixin, ViewerMixin, SimpleHistoryAdmin):
    form = CallAdminForm
    # A full caller number typed into the search posts and comes back as its digest: never in a URL.
    digest_param = "caller_digest"

    def search_digest(self, raw: str) -> str | None:
        term = normalize_mobile(raw.strip())
        return mobile_digest(term) if term.isdigit() and len(term) >= 7 else None

    list_display = (
        "started_at",
        "caller",
        "outcome",
        "agent_label",
        "queue",
        "category",
        "customer",
        "ticket_link",
        "wait",
        "duration",
    )
    list_filter = (MyCallsFilter, "outcome", "source", "direction", "category")
    list_select_related = ("agent", "user", "ticket")
    search_fields = ("caller_masked", "summary_masked", "user__name")
    search_help_text = gettext_lazy("完整来电号码、脱敏号码、摘要或用户姓名")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    raw_id_fields = ("user", "ticket")
    actions = ("create_ticket",)
    change_form_template = "admin/support/call/change_form.html"

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("caller_number", "summary", "agent__mobile", "user__mobile", "ticket__subject")
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("caller_input", "started_at", "ended_at", "category", "summary", "user", "ticket")
        return self.FIELDS

    # A call's record as staff see it once made; what the agent still sets is the category, the
    # customer and the ticket, the rest is the switch's or the system's.
    FIELDS = (
        "caller",
        "source",
        "direction",
        "outcome",
        "queue",
        "extension",
        "agent",
        "started_at",
        "answered_at",
        "ended_at",
        "wait",
        "duration",
        "hangup_cause",
        "category",
        "summary_display",
        "user",
        "ticket",
        "callback_of",
        "called_back_at",
    )
    READ_ONLY = tuple(f for f in FIELDS if f not in ("category", "user", "ticket"))

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.READ_ONLY

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            now = timezone.localtime().replace(second=0, microsecond=0)
            form.base_fields["started_at"].initial = now
            form.base_fields["ended_at"].initial = now
        return form

    def get_changeform_initial_data(self, request):
        """Opened from the customer view (``?user=<id>``): the call is the customer's, and their
        registered mobile is the caller's number unless another one is typed."""
        initial = super().get_changeform_initial_data(request)
        initial.pop("caller_input", None)  # never a number in a URL
        return initial

    @admin.display(description=gettext_lazy("通话摘要"))
    def summary_display(self, obj):
        return masked_html(obj.summary, kind=Reveal.Text.CALL_SUMMARY, pk=obj.pk, masked=obj.summary_masked)

    @admin.display(description=gettext_lazy("坐席"))
    def agent_label(self, obj):
        if obj.agent is None:
            return obj.extension or "—"
        return obj.agent.name or obj.agent.mobile_masked

    @admin.display(description=gettext_lazy("来电号码"), ordering="caller_masked")
    def caller(self, obj):
        return obj.caller_label

    @admin.display(description=gettext_lazy("等待"))
    def wait(self, obj):
        return selectors.mmss(obj.wait_seconds)

    @admin.display(description=gettext_lazy("关联账户"))
    def customer(self, obj):
        return customer_link(obj.user)

    @admin.display(description=gettext_lazy("关联工单"))
    def ticket_link(self, obj):
        if obj.ticket is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:support_ticket_change", args=[obj.ticket_id]), obj.ticket.ref
        )

    @admin.display(description=gettext_lazy("通话时长"))
    def duration(self, obj):
        if obj.ended_at is None or obj.answered_at is None:
            return "—"
        return selectors.mmss(obj.duration_seconds)

    def get_search_results(self, request, queryset, search_term):
        term = normalize_mobile(search_term.strip())
        if term.isdigit() and len(term) >= 5:
            return queryset.filter(caller_digest=mobile_digest(term)), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        try:
            if not change:
                call = services.call_log(
                    agent=request.user,
                    caller_number=d["caller_input"] or (d["user"].mobile if d.get("user") else ""),
                    started_at=d["started_at"],
                    ended_at=d["ended_at"],
                    category=d["category"],
                    summary=d["summary"],
                    user=d.get("user"),
                    ticket=d.get("ticket"),
                )
                obj.pk = call.pk
                obj._state.adding = False
            else:
                services.call_update(
                    call=obj,
                    by=request.user,
                    category=d["category"],
                    user=d.get("user"),
                    ticket=d.get("ticket"),
                )
        except ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(reverse("admin:support_call_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("由来电创建工单"), permissions=["change"])
    def create_ticket(self, request, queryset):
        created = []

        def make(call):
            created.append(services.call_to_ticket(call=call, by=request.user))

        _run(request, self, queryset.select_related("ticket"), make)
        if len(created) == 1:
            self.message_user(request, _("已创建工单 %(ref)s。") % {"ref": created[0].ref})
            return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[created[0].pk]))
        if created:
            self.message_user(request, _("已创建 %(n)s 个工单。") % {"n": len(created)})
        return None

    def get_urls(self):
        extra = [
            path(
                "<int:object_id>/to-ticket/",
                self.admin_site.admin_view(self.to_ticket_view),
                name="support_call_to_ticket",
            ),
            path("live/", self.admin_site.admin_view(self.live_view), name="support_call_live"),
            path(
                "<int:object_id>/wrap-up/",
                self.admin_site.admin_view(self.wrap_up_view),
                name="support_call_wrap_up",
            ),
        ]
        return extra + super().get_urls()

    # -- the call notice of the console (support/static/support/call-notice.js)

    @staticmethod
    def _notice_state(call: Call) -> dict:
        label = call.get_outcome_display()
        if call.outcome == Call.Outcome.ANSWERED:
            label = _("已挂断，通话 %(t)s，请填写小结") % {"t": selectors.mmss(call.handle_seconds)}
        return {"state": call.outcome, "state_label": str(label)}

    def live_view(self, request):
        """The agent's calls not yet wrapped up, for the console's call notice. ``v`` is the
        version the page has seen (unchanged: no database read); ``have`` lists the cards the
        page shows (``id.key``): only new or changed ones are rendered."""
        if not request.user.has_perm("support.change_call"):
            return JsonResponse({"code": "forbidden"}, status=403)
        version = cti.notice_version(request.user.pk)
        if version is not None and request.GET.get("v") == version:
            return JsonResponse({"v": version, "same": True}, headers={"Cache-Control": "no-store"})
        have = {}
        for item in request.GET.get("have", "").split(",")[:20]:
            pk, _sep, key = item.partition(".")
            if pk.isdigit():
                have[int(pk)] = key
        out = []
        for call in selectors.open_calls(request.user):
            key = f"{call.user_id or 0}-{call.caller_digest[:6] or 'x'}-{call.ticket_id or 0}"
            item = {"id": call.pk, "key": key, **self._notice_state(call)}
            if have.get(call.pk) != key:
                item["html"] = self._notice_html(request, call)
            out.append(item)
        return JsonResponse({"v": version or "", "calls": out}, headers={"Cache-Control": "no-store"})

    def _notice_html(self, request, call: Call, form: WrapUpForm | None = None) -> str:
        accounts = selectors.caller_accounts(call)
        if form is None:
            form = WrapUpForm(accounts=accounts, prefix=f"call{call.pk}")
        return render_to_string(
            "admin/support/_call_notice.html",
            {
                "call": call,
                "accounts": accounts,
                "form": form,
                "queue_label": dict(Queue.choices).get(call.queue, call.queue),
                "search_label": CustomerSearchForm.base_fields["q"].label,
                "state": self._notice_state(call),
            },
            request=request,
        )

    def wrap_up_view(self, request, object_id):
        call = get_object_or_404(Call.objects.defer("caller_number"), pk=_pk(object_id))
        if request.method != "POST" or not self.has_change_permission(request, call):
            raise PermissionDenied
        back = request.POST.get("next", "")
        if not (back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
            back = reverse("admin:index")
        form = WrapUpForm(request.POST, accounts=selectors.caller_accounts(call), prefix=f"call{call.pk}")
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[name].label}：{e}" if name in form.fields else str(e)
                for name, errors in form.errors.items()
                for e in errors
            )
            self.message_user(request, _("来电小结未保存：%(e)s") % {"e": errors}, level=messages.ERROR)
            return HttpResponseRedirect(back)
        d = form.cleaned_data
        try:
            call = services.call_wrap_up(
                call=call,
                by=request.user,
                category=d["category"],
                summary=d["summary"],
                user=d.get("account"),
                ticket=d.get("ticket"),
                open_ticket=d.get("open_ticket", False),
            )
        except ServiceError as exc:
            if exc.status == 403:
                raise PermissionDenied from None
            self.message_user(request, _("来电小结未保存：%(e)s") % {"e": exc.message}, level=messages.ERROR)
            return HttpResponseRedirect(back)
        if d.get("open_ticket") and call.ticket_id:
            self.message_user(request, _("来电小结已保存，已创建工单 %(ref)s。") % {"ref": call.ticket.ref})
            return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[call.ticket_id]))
        if call.ticket_id:
            self.message_user(request, _("来电小结已保存，已关联工单 %(ref)s。") % {"ref": call.ticket.ref})
        else:
            self.message_user(request, _("来电小结已保存。"))
        return HttpResponseRedirect(back)

    def to_ticket_view(self, request, object_id):
        call = get_object_or_404(Call.objects.defer("caller_number"), pk=_pk(object_id))
        if request.method != "POST" or not self.has_change_permission(request, call):
            raise PermissionDenied
        try:
            ticket = services.call_to_ticket(call=call, by=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:support_call_change", args=[call.pk]))
        self.message_user(request, _("已创建工单 %(ref)s。") % {"ref": ticket.ref})
        return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[ticket.pk]))


@admin.register(Callback)
class CallbackAdmin(PageOnlyAdmin):
    """Missed and abandoned calls to call back. The list shows numbers masked; 回拨 (a POST,
    so the number is never in a URL) shows the full number to dial, recorded as a ``Reveal``,
    and the form to log how the callback went."""

    permission = services.PERM_CALLBACK

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.list_view), name="support_callback_changelist"),
            path("<int:call_id>/", self.admin_site.admin_view(self.callback_view), name="support_callback_call"),
        ]

    def list_view(self, request):
        self._guard(request)
        now = timezone.now()
        rows = selectors.callbacks()
        queues = dict(Queue.choices)
        for call in rows:
            call.queue_label = queues.get(call.queue, call.queue)
            call.waited = selectors.mmss(call.wait_seconds)
            call.since = selectors.mmss((now - call.started_at).total_seconds())
        return TemplateResponse(
            request,
            "admin/support/callbacks.html",
            self._context(
                request,
                title=_("待回拨来电"),
                rows=rows,
                days=selectors.CALLBACK_DAYS,
                media=self.media,
            ),
        )

    def callback_view(self, request, call_id):
        self._guard(request)
        call = Call.objects.select_related("user").filter(pk=_pk(call_id)).first()
        if call is None:
            raise Http404("no such call")
        back = reverse("admin:support_callback_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = CallbackForm(request.POST if "record" in request.POST else None)
        if form.is_bound and form.is_valid():
            d = form.cleaned_data
            try:
                services.call_callback(
                    call=call, by=request.user, reached=d["reached"], category=d["category"], summary=d["summary"]
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                if d["reached"]:
                    self.message_user(request, _("已记录回拨：已接通，该来电已移出待回拨列表。"))
                else:
                    self.message_user(request, _("已记录回拨：无人接听，该来电仍在待回拨列表中。"))
                return HttpResponseRedirect(back)
        try:
            number = services.caller_number_for_callback(call=call, by=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(back)
        return TemplateResponse(
            request,
            "admin/support/callback.html",
            self._context(
                request,
                title=_("回拨 %(who)s") % {"who": call.caller_label},
                call=call,
                number=number,
                waited=selectors.mmss(call.wait_seconds),
                attempts=call.callbacks.count(),
                form=form,
                back_url=back,
                media=self.media,
            ),
        )
