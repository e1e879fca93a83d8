from django.contrib import admin

from .models import SetAsideMessage


@admin.register(SetAsideMessage)
class SetAsideMessageAdmin(admin.ModelAdmin):
    """Read-only: what the worker could not decode, for an administrator to look at."""

    list_display = ("set_aside_at", "broker", "queue", "name", "reason", "size")
    list_filter = ("broker", "queue")
    readonly_fields = ("set_aside_at", "broker", "queue", "name", "reason", "size", "body")
    date_hierarchy = "set_aside_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
