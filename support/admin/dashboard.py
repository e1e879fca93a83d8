"""The dashboard (数据看板) for those allowed to see the reports."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _

from .. import selectors
from ..models import Dashboard
from .base import CONSOLE_MEDIA, PageOnlyAdmin


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
