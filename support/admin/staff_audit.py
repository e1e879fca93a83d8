"""What staff did: every opening of a masked text's original, and each staff member's own audit
entries (我的操作记录), a supervisor's team's too."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import audit
from ..models import Reveal, StaffAudit
from .base import CONSOLE_MEDIA, PageOnlyAdmin


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
