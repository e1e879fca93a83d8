"""The help centre's questions and their categories, edited in the console with a reason."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin

from .. import search
from ..models import Faq, FaqCategory
from .base import ReasonAdminMixin


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
