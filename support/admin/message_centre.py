"""The message centre as the console reads it: what users were told, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import search_by_mobile
from accounts.models import User

from ..models import Notification
from .base import customer_link


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
