"""The telephone switch: agents' extensions and the switch's tokens."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin

from .. import cti
from ..models import AgentExtension, SwitchToken


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
