"""The contact centre's console: queues of tickets, the call log, the customer view and the
dashboard. Writes go through ``support.services``; refusals come back as messages."""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import MobileSearchRedirectMixin, search_by_mobile
from accounts.identity import normalize_mobile
from accounts.models import User, mobile_digest
from cards.selectors import binding_cap_status
from cards.services.cap_lift import PERM_LIFT_CAP, binding_cap_lift
from piaogen.errors import ServiceError
from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin
from piaogen.masking import mask_mobile, mask_name, mask_text

from . import audit, cti, search, selectors, services
from .forms import (
    CallAdminForm,
    CallbackForm,
    CapLiftForm,
    CustomerSearchForm,
    HandOffForm,
    ReasonForm,
    ResolveForm,
    RevealForm,
    TicketAddForm,
    TicketAdminForm,
    WrapUpForm,
)
from .models import (
    AgentExtension,
    Call,
    Callback,
    Customer,
    Dashboard,
    Faq,
    FaqCategory,
    Notification,
    Queue,
    Reveal,
    SlaPolicy,
    StaffAudit,
    SwitchToken,
    Ticket,
    TicketMessage,
)

CONSOLE_MEDIA = forms.Media(css={"all": ["support/console.css"]})


def _admin_url(name: str, *args) -> str:
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""


def _pk(value) -> int:
    if not 0 < int(value) < 2**62:
        raise Http404("out of range")
    return int(value)


def _masked_query(query: str) -> str:
    """What was searched, told back without any long number in full."""
    return re.sub(r"\d{7,}", lambda m: mask_mobile(m.group()), mask_text(query or ""))[:64]


# The staff member the page is being rendered for: read-only fields are rendered after the view
# returns, and their methods get no request. Set at the start of each console view that shows
# free text (``ViewerMixin``).
_viewer: ContextVar[User | None] = ContextVar("console_viewer", default=None)


def can_reveal(user: User | None = None) -> bool:
    user = user or _viewer.get()
    return bool(user is not None and user.is_staff and user.has_perm(services.PERM_REVEAL))


def masked_html(text: str, *, kind: str, pk: int | None, masked: str | None = None) -> str:
    """Free text as the console shows it: personal numbers masked, and for roles with the need a
    link to open the original (each opening is recorded)."""
    text = text or ""
    masked = mask_text(text) if masked is None else masked
    if masked == text or not pk or not can_reveal():
        return format_html('<span class="masked-text">{}</span>', masked)
    return format_html(
        '<span class="masked-text">{}</span> <a class="reveal-link" href="{}">{}</a>',
        masked,
        reverse("admin:support_reveal", args=[kind, pk]),
        _("查看原文"),
    )


class ViewerMixin:
    def changeform_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().changeform_view(request, *args, **kwargs)

    def history_form_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().history_form_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().changelist_view(request, *args, **kwargs)


def customer_link(user: User | None) -> str:
    if user is None:
        return "—"
    label = f"{user.name or _('用户')} {user.mobile_masked}"
    return format_html('<a href="{}">{}</a>', reverse("admin:support_customer_view", args=[user.pk]), label)


# --- FAQ and SLA ---------------------------------------------------------------------------


class ReasonAdminForm(forms.ModelForm):
    """A console edit that asks why: the reason goes into the history row with who and when."""

    change_reason = forms.CharField(
        label=gettext_lazy("修改原因"), max_length=100, help_text=gettext_lazy("记入审计记录。")
    )

    def save(self, commit=True):
        obj = super().save(commit=False)
        obj._change_reason = self.cleaned_data["change_reason"]
        if commit:
            obj.save()
        return obj


class ReasonAdminMixin:
    """Every save from the console names a reason: the form's, or, for the columns edited on
    the list page, what was done there."""

    form = ReasonAdminForm
    list_edit_reason = gettext_lazy("在列表中修改")

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", forms.ModelForm)  # the list page edits columns only
        return super().get_changelist_form(request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not getattr(obj, "_change_reason", ""):
            obj._change_reason = str(self.list_edit_reason)
        super().save_model(request, obj, form, change)


@admin.register(FaqCategory)
class FaqCategoryAdmin(ReasonAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "code", "ordering")
    ordering = ("ordering",)
    fields = ("code", "name", "description", "ordering", "change_reason")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Faq)
class FaqAdmin(ReasonAdminMixin, SimpleHistoryAdmin):
    list_display = ("question", "category", "link_url_name", "ordering", "published", "updated_at")
    list_filter = ("published", "category")
    list_select_related = ("category",)
    list_editable = ("ordering", "published")
    search_fields = ("question", "keywords", "answer")
    fields = (
        "category",
        "question",
        "answer",
        "link_url_name",
        "link_label",
        "keywords",
        "extra",
        "ordering",
        "published",
        "change_reason",
    )
    actions = ("reindex",)
    list_edit_reason = gettext_lazy("在列表中修改排序或发布状态")

    @admin.action(description=gettext_lazy("重建所选问题的检索词"), permissions=["change"])
    def reindex(self, request, queryset):
        count = search.reindex(queryset)
        self.message_user(request, _("已重建 %(n)s 个问题的检索词。") % {"n": count})

    def get_search_results(self, request, queryset, search_term):
        if search_term.strip():
            ranked = search.rank(queryset, search_term, limit=50)
            if ranked:
                return queryset.filter(pk__in=[f.pk for f in ranked]), False
        return super().get_search_results(request, queryset, search_term)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ReasonAdminMixin, SimpleHistoryAdmin):
    list_display = ("category", "hours")
    fields = ("category", "hours", "change_reason")

    def has_delete_permission(self, request, obj=None):
        return False


# --- tickets -------------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = gettext_lazy("处理人")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("me", _("指派给我")), ("none", _("未指派"))]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("超时")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("已超时未解决")), ("soon", _("4小时内到期"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        active = queryset.filter(status__in=Ticket.ACTIVE)
        if self.value() == "yes":
            return active.filter(due_at__lt=now)
        if self.value() == "soon":
            return active.filter(due_at__gte=now, due_at__lt=now + timedelta(hours=4))
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    title = gettext_lazy("进度")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("待处理（未解决）")), ("done", _("已解决或关闭"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(status__in=Ticket.ACTIVE)
        if self.value() == "done":
            return queryset.filter(status__in=Ticket.DONE)
        return queryset


def thread_html(ticket: Ticket) -> str:
    """The whole conversation, oldest first; internal notes stand out and say that the customer
    cannot see them. Every message is shown masked."""
    rows = (
        TicketMessage.objects.filter(ticket=ticket)
        .select_related("author")
        .defer("author__mobile")
        .order_by("created_at", "id")
    )
    parts = [
        format_html(
            '<div class="msg msg-{}"><span class="msg-kind">{} · {} · {}</span>{}</div>',
            m.kind,
            m.get_kind_display() + (_(" · 用户不可见") if m.kind == TicketMessage.Kind.INTERNAL_NOTE else ""),
            m.author.name or m.author.mobile_masked,
            timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M"),
            masked_html(m.body, kind=Reveal.Text.TICKET_MESSAGE, pk=m.pk),
        )
        for m in rows
    ]
    if not parts:
        return format_html('<p class="cv-empty">{}</p>', _("暂无消息"))
    return format_html('<div class="thread">{}</div>', format_html("".join(["{}"] * len(parts)), *parts))


def _run(request, admin_obj, items, action) -> int:
    """Runs ``action`` on each item; refusals become warnings. Returns the successes."""
    done = 0
    for item in items:
        try:
            action(item)
        except ServiceError as exc:
            admin_obj.message_user(request, f"{item}: {exc.message}", level=messages.WARNING)
        else:
            done += 1
    return done


@admin.register(Ticket)
class TicketAdmin(ViewerMixin, SimpleHistoryAdmin):
    list_display = (
        "ref_link",
        "subject_masked",
        "customer",
        "category",
        "status",
        "priority",
        "group",
        "assignee_label",
        "due_at",
        "sla",
        "updated_at",
    )
    list_display_links = None
    list_filter = (ActiveFilter, "status", "group", AssigneeFilter, OverdueFilter, "category", "priority", "channel")
    list_select_related = ("user", "assignee")
    search_fields = ("subject_masked", "handoff_reference", "user__name")
    search_help_text = gettext_lazy("主题、对方受理编号、用户姓名；也可输入完整手机号或工单号（如 T00000012）")
    date_hierarchy = "created_at"
    ordering = ("due_at",)
    raw_id_fields = ("user",)
    save_on_top = True
    actions = ("assign_to_me", "resolve_selected", "hand_off_selected")
    change_form_template = "admin/support/ticket/change_form.html"
    readonly_fields = (
        "thread",
        "ref",
        "customer",
        "channel",
        "subject_display",
        "status",
        "assignee",
        "due_at",
        "card",
        "transit",
        "invoice",
        "application",
        "handoff_to",
        "handoff_reference",
        "handed_off_at",
        "rating",
        "rating_comment",
        "reopened_count",
        "created_at",
        "updated_at",
        "resolved_at",
        "closed_at",
    )

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_queryset(self, request):
        # The subject is decrypted only where it is shown in full: lists use the masked copy.
        return super().get_queryset(request).defer("subject", "user__mobile", "assignee__mobile")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs.update(
                form=TicketAddForm, fields=["user", "channel", "category", "priority", "subject", "description"]
            )
        else:
            kwargs.update(form=TicketAdminForm, fields=["category", "priority", "group", "reply_kind", "reply_body"])
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("user", "channel", "category", "priority", "subject", "description")})]
        # The conversation and the reply box first: that is the work; the ticket's fields below.
        reply = (
            [(_("回复或备注"), {"fields": ("reply_kind", "reply_body")})]
            if self.has_change_permission(request, obj)
            else []
        )
        return [
            (_("沟通记录（内部备注用户不可见）"), {"fields": ("thread",), "classes": ("thread-box",)}),
            *reply,
            (None, {"fields": ("ref", "customer", "channel", "subject_display", "status", "assignee", "due_at")}),
            (_("归类"), {"fields": ("category", "priority", "group")}),
            (_("相关业务"), {"fields": ("card", "transit", "invoice", "application")}),
            (_("转交"), {"fields": ("handoff_to", "handoff_reference", "handed_off_at")}),
            (
                _("评价与时间"),
                {"fields": ("rating", "rating_comment", "reopened_count", "created_at", "resolved_at", "closed_at")},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    @admin.display(description=gettext_lazy("工单号"))
    def ref(self, obj):
        return obj.ref

    # -- free text, masked
    @admin.display(description=gettext_lazy("沟通记录"))
    def thread(self, obj):
        return thread_html(obj)

    @admin.display(description=gettext_lazy("主题"))
    def subject_display(self, obj):
        return masked_html(obj.subject, kind=Reveal.Text.TICKET_SUBJECT, pk=obj.pk, masked=obj.subject_masked)

    # -- list columns
    @admin.display(description=gettext_lazy("工单号"), ordering="pk")
    def ref_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:support_ticket_change", args=[obj.pk]), obj.ref)

    @admin.display(description=gettext_lazy("用户"))
    def customer(self, obj):
        return customer_link(obj.user)

    @admin.display(description=gettext_lazy("处理人"), ordering="assignee__name")
    def assignee_label(self, obj):
        if obj.assignee is None:
            return "—"
        return obj.assignee.name or obj.assignee.mobile_masked

    @admin.display(description=gettext_lazy("时限"))
    def sla(self, obj):
        if obj.is_overdue:
            return format_html('<span class="sla-breach">{}</span>', _("超时"))
        return _("正常")

    # -- search: full mobile by digest, ticket reference, then text
    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        users, exact = search_by_mobile(User.objects.all(), term)
        if exact:
            return queryset.filter(user__in=users), False
        match = selectors.TICKET_REF_RE.match(term)
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        return super().get_search_results(request, queryset, search_term)

    # -- saving through the services
    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                ticket = services.ticket_open(
                    user=data["user"],
                    channel=data["channel"],
                    category=data["category"],
                    priority=data["priority"],
                    subject=data["subject"],
                    description=data["description"],
                    by=request.user,
                )
                obj.pk = ticket.pk
                obj._state.adding = False
                return
            services.ticket_update(
                ticket=obj, by=request.user, category=data["category"], priority=data["priority"], group=data["group"]
            )
            body = (data.get("reply_body") or "").strip()
            if body:
                if data.get("reply_kind") == "public_reply":
                    services.ticket_reply(ticket=obj, by=request.user, body=body)
                    self.message_user(request, _("已回复用户，并短信通知。"))
                else:
                    services.ticket_note(ticket=obj, by=request.user, body=body)
        except ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False

    # -- bulk actions
    @admin.action(description=gettext_lazy("指派给我"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        n = _run(
            request, self, queryset, lambda t: services.ticket_assign(ticket=t, assignee=request.user, by=request.user)
        )
        if n:
            self.message_user(request, _("已指派给您 %(n)s 个工单。") % {"n": n})

    @admin.action(description=gettext_lazy("标记为已解决"), permissions=["change"])
    def resolve_selected(self, request, queryset):
        n = _run(request, self, queryset, lambda t: services.ticket_resolve(ticket=t, by=request.user))
        if n:
            self.message_user(request, _("已解决 %(n)s 个工单。") % {"n": n})

    @admin.action(description=gettext_lazy("转交发行方或经营单位…"), permissions=["change"])
    def hand_off_selected(self, request, queryset):
        form = HandOffForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            d = form.cleaned_data
            n = _run(
                request,
                self,
                queryset,
                lambda t: services.ticket_hand_off(
                    ticket=t,
                    by=request.user,
                    issuer=d["issuer"],
                    operator=d["operator"],
                    reference=d["reference"],
                    note=d["note"],
                ),
            )
            if n:
                self.message_user(request, _("已转交 %(n)s 个工单。") % {"n": n})
            return None
        return TemplateResponse(
            request,
            "admin/support/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": _("转交工单"),
                "form": form,
                "tickets": queryset,
                "action": "hand_off_selected",
                "opts": self.model._meta,
            },
        )

    # -- one ticket's buttons
    def get_urls(self):
        urls = super().get_urls()
        extra = [
            path(
                "<int:object_id>/do/<slug:action>/",
                self.admin_site.admin_view(self.ticket_action_view),
                name="support_ticket_do",
            ),
            path(
                "reveal/<slug:text>/<int:object_id>/",
                self.admin_site.admin_view(self.reveal_view),
                name="support_reveal",
            ),
        ]
        return extra + urls

    def reveal_view(self, request, text, object_id):
        """The original of a masked text, for roles with ``support.reveal``: a reason first
        (GET shows only the form), then the text, recorded as a ``Reveal`` row."""
        if text not in Reveal.Text.values:
            raise Http404("unknown text")
        if not can_reveal(request.user):
            raise PermissionDenied
        object_id = _pk(object_id)
        form = RevealForm(request.POST if request.method == "POST" else None)
        original = reveal = None
        if form.is_bound and form.is_valid():
            try:
                original, reveal = services.text_reveal(
                    by=request.user, text=text, object_id=object_id, reason=form.cleaned_data["reason"]
                )
            except ServiceError as exc:
                if exc.status == 404:
                    raise Http404("no such text") from None
                form.add_error(None, exc.message)
        back = ""
        if text == Reveal.Text.CALL_SUMMARY:
            back = reverse("admin:support_call_change", args=[object_id])
        elif text == Reveal.Text.TICKET_SUBJECT:
            back = reverse("admin:support_ticket_change", args=[object_id])
        else:
            ticket_id = TicketMessage.objects.filter(pk=object_id).values_list("ticket_id", flat=True).first()
            if ticket_id is None:
                raise Http404("no such message")
            back = reverse("admin:support_ticket_change", args=[ticket_id])
        response = TemplateResponse(
            request,
            "admin/support/reveal.html",
            {
                **self.admin_site.each_context(request),
                "title": _("查看原文：%(what)s") % {"what": Reveal.Text(text).label},
                "form": form,
                "original": original,
                "reveal": reveal,
                "back_url": back,
                "opts": self.model._meta,
                "media": self.media,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    ACTIONS = {
        "assign_me": (gettext_lazy("指派给我"), None),
        "assign": (gettext_lazy("指派给其他客服"), "assign"),
        "resolve": (gettext_lazy("标记为已解决"), "resolve"),
        "hand_off": (gettext_lazy("转交发行方或经营单位"), "hand_off"),
        "reopen": (gettext_lazy("重开工单"), "reason"),
        "close": (gettext_lazy("关闭工单"), None),
    }

    def ticket_action_view(self, request, object_id, action):
        if action not in self.ACTIONS:
            raise Http404("unknown action")
        ticket = get_object_or_404(Ticket.objects.select_related("user").defer("user__mobile"), pk=_pk(object_id))
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        title, form_kind = self.ACTIONS[action]
        form_class = {
            "assign": AssignForm,
            "resolve": ResolveForm,
            "hand_off": HandOffForm,
            "reason": ReasonForm,
            None: forms.Form,
        }[form_kind]
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            d, by = form.cleaned_data, request.user
            try:
                if action == "assign_me":
                    services.ticket_assign(ticket=ticket, assignee=by, by=by)
                elif action == "assign":
                    services.ticket_assign(ticket=ticket, assignee=d["assignee"], by=by)
                elif action == "resolve":
                    services.ticket_resolve(ticket=ticket, by=by, reply=d["reply"])
                elif action == "hand_off":
                    services.ticket_hand_off(
                        ticket=ticket,
                        by=by,
                        issuer=d["issuer"],
                        operator=d["operator"],
                        reference=d["reference"],
                        note=d["note"],
                    )
                elif action == "reopen":
                    services.ticket_reopen(ticket=ticket, by=by, reason=d["reason"])
                elif action == "close":
                    services.ticket_close(ticket=ticket, by=by)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _("%(ref)s：%(done)s。") % {"ref": ticket.ref, "done": title})
                return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[ticket.pk]))
        return TemplateResponse(
            request,
            "admin/support/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{ticket.ref} · {title}",
                "form": form,
                "ticket": ticket,
                "opts": self.model._meta,
                "cancel_url": reverse("admin:support_ticket_change", args=[ticket.pk]),
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["ticket_actions"] = [
                (key, label) for key, (label, _kind) in self.ACTIONS.items() if self._action_visible(request, obj, key)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _action_visible(request, ticket: Ticket, key: str) -> bool:
        user = request.user
        if key == "reopen":
            return ticket.status in Ticket.DONE and user.has_perm(services.PERM_REOPEN)
        if key == "close":
            return ticket.status == Ticket.Status.RESOLVED
        if key == "assign":
            return ticket.is_active and user.has_perm(services.PERM_ASSIGN)
        if key == "assign_me":
            return ticket.is_active and ticket.assignee_id != user.pk
        return ticket.is_active


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=gettext_lazy("处理人"),
        queryset=User.objects.filter(is_staff=True, is_active=True, groups__name__in=["agent", "supervisor"])
        .distinct()
        .defer("mobile")
        .order_by("name"),
    )


# --- calls ---------------------------------------------------------------------------------


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
        return (
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

    READ_ONLY = (
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
        "summary_display",
        "callback_of",
        "called_back_at",
    )

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


# --- the telephone switch: agents' extensions and the switch's tokens ----------------------------


@admin.register(AgentExtension)
class AgentExtensionAdmin(SimpleHistoryAdmin):
    list_display = ("extension", "staff_label")
    search_fields = ("extension", "staff__name")
    raw_id_fields = ("staff",)

    @admin.display(description=gettext_lazy("坐席"))
    def staff_label(self, obj):
        return obj.staff.name or obj.staff.mobile_masked


@admin.register(SwitchToken)
class SwitchTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with ``manage.py cti_token issue`` (shown once); here they are listed
    and revoked."""

    list_display = ("name", "prefix_label", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "prefix_label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description=gettext_lazy("令牌前缀"))
    def prefix_label(self, obj):
        return f"{obj.prefix}…"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("吊销所选令牌"), permissions=["change"])
    def revoke(self, request, queryset):
        n = sum(cti.switch_token_revoke(token=t) for t in queryset)
        self.message_user(request, _("已吊销 %(n)s 个令牌。") % {"n": n})


# --- who opened which original ---------------------------------------------------------------


@admin.register(Reveal)
class RevealAdmin(admin.ModelAdmin):
    """Every opening of a masked text's original: read-only, for supervisors and admins."""

    list_display = ("created_at", "staff_label", "text", "about", "reason")
    list_filter = ("text",)
    list_select_related = ("staff", "ticket", "call")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    search_fields = ("staff__name", "reason")
    fields = ("created_at", "staff_label", "text", "about", "reason")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("staff__mobile", "ticket__subject", "call__summary", "call__caller_number")
        )

    @admin.display(description=gettext_lazy("查看人"), ordering="staff__name")
    def staff_label(self, obj):
        return obj.staff.name or obj.staff.mobile_masked

    @admin.display(description=gettext_lazy("所属"))
    def about(self, obj):
        if obj.ticket_id:
            return format_html(
                '<a href="{}">{}</a>', reverse("admin:support_ticket_change", args=[obj.ticket_id]), obj.ticket.ref
            )
        if obj.call_id:
            return format_html(
                '<a href="{}">{}</a>', reverse("admin:support_call_change", args=[obj.call_id]), str(obj.call)
            )
        return "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the message centre ----------------------------------------------------------------------------


class ReadFilter(admin.SimpleListFilter):
    title = gettext_lazy("已读")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", _("未读")), ("yes", _("已读"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What users were told in their message centre: read-only, for answering "what did you
    send me?" on the phone."""

    list_display = ("created_at", "customer", "kind", "title", "read_at")
    list_display_links = ("title",)
    list_filter = ("kind", ReadFilter)
    list_select_related = ("user",)
    search_fields = ("title", "user__name")
    search_help_text = gettext_lazy("标题或用户姓名；也可输入完整手机号")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = ("customer", "kind", "title", "body", "link", "application", "ticket", "created_at", "read_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile")

    @admin.display(description=gettext_lazy("用户"))
    def customer(self, obj):
        return customer_link(obj.user)

    def get_search_results(self, request, queryset, search_term):
        users, exact = search_by_mobile(User.objects.all(), search_term.strip())
        if exact:
            return queryset.filter(user__in=users), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the customer view ----------------------------------------------------------------------


class PageOnlyAdmin(admin.ModelAdmin):
    """A console page registered through a proxy model, so that it lives at
    /admin/support/<model>/ and shows on the console's index for those allowed."""

    permission = ""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and request.user.has_perm(self.permission)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _guard(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}


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


# --- the callback list ---------------------------------------------------------------------------


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


# --- 我的操作记录 -------------------------------------------------------------------------------


@admin.register(StaffAudit)
class StaffAuditAdmin(PageOnlyAdmin):
    """Every staff member's own audit entries, newest first; supervisors' team's too, with a
    filter by staff member (``support.audit``)."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.audit_view), name="support_staffaudit_changelist")]

    def audit_view(self, request):
        self._guard(request)
        team = audit.team_of(request.user)
        ids = [member.pk for member in team]
        chosen = None
        raw = request.GET.get("staff", "")
        if raw:
            if not raw.isdigit():
                raise Http404("no such staff member")
            chosen = int(raw)
            if chosen not in ids:
                raise PermissionDenied  # someone else's entries: only a supervisor's team
            ids = [chosen]
        page, entries = audit.entries_page(viewer=request.user, staff_ids=ids, page_number=request.GET.get("page"))
        return TemplateResponse(
            request,
            "admin/support/staff_audit.html",
            self._context(
                request,
                title=_("我的操作记录"),
                team=team if len(team) > 1 else [],
                chosen=chosen,
                page=page,
                entries=entries,
                media=self.media,
            ),
        )


# --- the dashboard -------------------------------------------------------------------------------


@admin.register(Dashboard)
class DashboardAdmin(PageOnlyAdmin):
    permission = "support.view_report"

    @property
    def media(self):
        return super().media + CONSOLE_MEDIA

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.dashboard_view), name="support_dashboard_changelist")]

    def dashboard_view(self, request):
        self._guard(request)
        return TemplateResponse(
            request,
            "admin/support/dashboard.html",
            self._context(request, title=_("数据看板"), data=selectors.dashboard(), media=self.media),
        )
