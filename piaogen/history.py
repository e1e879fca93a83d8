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


class ConsoleHistoryAdmin(SimpleHistoryAdmin):
    """``SimpleHistoryAdmin`` with the readable history list."""

    object_history_list_template = "simple_history/console_history_list.html"

    def get_historical_record_context_helper(self, request, historical_record):
        return ConsoleHistoryHelper(self.model, historical_record)
