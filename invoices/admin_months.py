"""The console's month filters: a list of trips or invoices reads the partitions of the months
it shows (docs/scaling.md). Each offers a default that reads little, a month of the last year,
and every month only when chosen on purpose (全部月份); a search chooses its own months."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .ledger import MONTH_RE
from .models import InvoiceKey


class MonthScopeFilter(admin.SimpleListFilter):
    RECENT_MONTHS = 12
    parameter_name = "month"
    default_value = "default"
    # query parameters whose own filter reads every month cheaply (a small partial index)
    every_month_with: tuple[str, ...] = ()

    def default_label(self):
        raise NotImplementedError

    def default_queryset(self, queryset):
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [
            (self.default_value, self.default_label()),
            *[(m, m) for m in self.recent_months()],
            ("all", _("全部月份（较慢）")),
        ]

    @classmethod
    def recent_months(cls, n: int | None = None) -> list[str]:
        """This month and the ones before it, newest first (``RECENT_MONTHS`` in all)."""
        today = timezone.localdate()
        index = today.year * 12 + today.month - 1
        return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, index - (n or cls.RECENT_MONTHS), -1)]

    @staticmethod
    def parse(value) -> str:
        """ "all", a month, or "" for the default."""
        return value if value == "all" or (value and MONTH_RE.fullmatch(value)) else ""

    def chosen(self) -> str:
        return self.parse(self.value())

    def choices(self, changelist):
        chosen = self.chosen() or self.default_value
        for value, label in self.lookup_choices:
            yield {
                "selected": value == chosen,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value} if value != self.default_value else {}, [self.parameter_name]
                ),
                "display": label,
            }

    def queryset(self, request, queryset):
        chosen = self.chosen()
        if chosen == "all":
            return queryset
        if chosen:
            return queryset.filter(month=chosen)
        if request.GET.get(SEARCH_VAR, "").strip():
            return queryset  # the search chooses the months (the admin's get_search_results)
        if any(request.GET.get(name) for name in self.every_month_with):
            return queryset
        return self.default_queryset(queryset)


class InvoiceMonthFilter(MonthScopeFilter):
    """所属月份 of the invoice list: by default the newest ``NEWEST`` invoices issued (their months
    and ids read from the keys, newest first). A search by an invoice's number or code, a buyer's
    taxpayer id or a card number reads the months those hold (keys and summaries) unless a month
    is chosen; other searches (a plate) read the last year's months. A render-status filter reads
    every month (its index holds only documents not yet made)."""

    NEWEST = 1000
    title = _("所属月份")
    default_value = "newest"
    every_month_with = ("render",)

    def default_label(self):
        return _("最新开具的 %(n)s 张") % {"n": self.NEWEST}

    def default_queryset(self, queryset):
        keys = list(InvoiceKey.objects.order_by("-invoice_id").values_list("invoice_id", "month")[: self.NEWEST])
        if not keys:
            return queryset.none()
        return queryset.filter(month__in={month for _id, month in keys}, id__gte=keys[-1][0])


class TransitMonthFilter(MonthScopeFilter):
    """通行月份 of the trip list: by default this month and the last (trips are pushed days after
    travel, so the newest are there). A trip id is found through its key in any month; a card
    number or a plate is searched in the chosen months (the last year's by default)."""

    title = _("通行月份")
    default_value = "recent"

    def default_label(self):
        return _("本月和上月")

    def default_queryset(self, queryset):
        return queryset.filter(month__in=self.recent_months(2))
