"""The console's history pages (django-simple-history), written for people: field names as their
labels, choices by name, times in Asia/Shanghai to the minute, nothing for an empty link instead
of "Deleted 用户 (pk=None)", and free text through ``mask_text``."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from .masking import mask_text

EMPTY = "—"


def readable_value(field, value) -> str:
    if value is None or value == "" or (isinstance(value, DeletedObject) and value.pk is None):
        return EMPTY
    if isinstance(value, DeletedObject):
        return str(value)
    choices = getattr(field, "flatchoices", None)
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return mask_text(str(value))


class ConsoleHistoryHelper(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if isinstance(field, models.ManyToManyField):
            return super().prepare_delta_change_value(change, value)
        return readable_value(field, value)


class ReadOnlyPageMixin:
    """A change page with nothing to change shows no 保存 buttons, and may say why
    (``read_only_note``: where the data comes from and how it gets corrected)."""

    read_only_note = ""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and not _editable(context):
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
            if self.read_only_note and request.method == "GET":
                from django.contrib import messages

                messages.info(request, self.read_only_note)
        return super().render_change_form(request, context, add, change, form_url, obj)


def _editable(context) -> bool:
    adminform = context.get("adminform")
    if adminform is not None and any(not field.is_hidden for field in adminform.form):
        return True
    for inline in context.get("inline_admin_formsets", ()):
        for form in inline.formset.forms:
            if any(not field.is_hidden and field.name != "DELETE" for field in form):
                return True
        if inline.formset.extra or inline.has_add_permission:
            return True
    return False


class ConsoleHistoryAdmin(ReadOnlyPageMixin, SimpleHistoryAdmin):
    """``SimpleHistoryAdmin`` with the readable history list, and no 保存 on a page with nothing
    to change."""

    object_history_list_template = "simple_history/console_history_list.html"

    def get_historical_record_context_helper(self, request, historical_record):
        return ConsoleHistoryHelper(self.model, historical_record)
