"""Tickets: the queues (filters by progress, assignee and deadline), one ticket's conversation
and buttons, bulk actions, the opening of a masked text's original, and the SLA policies
that set each category's deadline."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import search_by_mobile
from accounts.models import User
from piaogen.errors import ServiceError
from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin

from .. import selectors, services
from ..forms import HandOffForm, ReasonForm, ResolveForm, RevealForm, TicketAddForm, TicketAdminForm
from ..models import Reveal, SlaPolicy, Ticket, TicketMessage
from .base import CONSOLE_MEDIA, ReasonAdminMixin, ViewerMixin, _pk, _run, can_reveal, customer_link, masked_html


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


# The hours to resolve a ticket of each category: what sets a ticket's deadline (``due_at``).
@admin.register(SlaPolicy)
class SlaPolicyAdmin(ReasonAdminMixin, SimpleHistoryAdmin):
    list_display = ("category", "hours")
    fields = ("category", "hours", "change_reason")

    def has_delete_permission(self, request, obj=None):
        return False
