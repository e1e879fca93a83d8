from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin
from piaogen.history import ReadOnlyPageMixin
from piaogen.templatetags.money import fen_to_yuan

from .admin_months import InvoiceMonthFilter, TransitMonthFilter
from .models import Operator, Recharge, RoadSection, Transit, TransitChange, TransitKey, TransitSegment


class ReadOnlyAdmin(ReadOnlyPageMixin, admin.ModelAdmin):
    """Pushed by partners: staff read these; corrections go through audited actions."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class SectionInline(admin.TabularInline):
    model = RoadSection
    extra = 0
    fields = ("code", "name", "grade", "property", "construction_start", "simplified_method")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Operator)
class OperatorAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "tax_id", "province_code", "machine_no", "updated_at")
    search_fields = ("code", "name", "tax_id")
    list_filter = ("province_code",)
    inlines = [SectionInline]
    readonly_fields = ("pushed_by", "created_at", "updated_at")
    exclude = ("fingerprint",)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoadSection)
class RoadSectionAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "operator", "grade", "property", "construction_start", "simplified_method")
    list_filter = ("grade", "property", "simplified_method")
    search_fields = ("code", "name", "operator__name")
    list_select_related = ("operator",)
    exclude = ("fingerprint",)
    readonly_fields = ("created_at", "updated_at")

    def has_delete_permission(self, request, obj=None):
        return False


class SegmentInline(admin.TabularInline):
    model = TransitSegment
    extra = 0
    fields = ("seq", "section", "operator", "fee_yuan")
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("金额（元）"))
    def fee_yuan(self, obj):
        return fen_to_yuan(obj.fee)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("section", "operator")


@admin.register(Transit)
class TransitAdmin(ReadOnlyAdmin):
    list_display = ("transit_id", "card", "plate", "entry_station", "exit_station", "exit_time", "fee_yuan", "state")
    list_filter = (TransitMonthFilter, "state", "vehicle_class")
    search_fields = ("=card__card_no", "plate")
    search_help_text = _("输入通行记录编号（查全部月份）、卡号或车牌号（查所选月份，默认近12个月）。")
    list_select_related = ("card",)
    date_hierarchy = "exit_time"
    inlines = [SegmentInline]
    show_full_result_count = False
    read_only_note = _(
        "通行记录以清分中心推送的为准，不能在控制台修改；有误时请清分中心重新推送更正后的记录，更正会记入通行记录变更。"
    )

    def get_search_results(self, request, queryset, search_term):
        # A national trip id is found through its key, in its month's partition alone.
        from .selectors import by_transit_ids

        term = search_term.strip()
        if term and TransitKey.objects.filter(transit_id=term[:64]).exists():
            return queryset.filter(by_transit_ids([term])), False
        if term and not TransitMonthFilter.parse(request.GET.get(TransitMonthFilter.parameter_name)):
            queryset = queryset.filter(month__in=TransitMonthFilter.recent_months())
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("通行费（元）"), ordering="fee")
    def fee_yuan(self, obj):
        return fen_to_yuan(obj.fee)


@admin.register(TransitChange)
class TransitChangeAdmin(ReadOnlyAdmin):
    list_display = ("transit", "kind", "partner", "at")
    list_filter = ("kind",)
    list_select_related = ("transit", "partner")
    search_help_text = _("输入通行记录编号。")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        keys = TransitKey.objects.filter(transit_id=term[:64]).values_list("trip_id", flat=True)
        return queryset.filter(transit_id__in=list(keys)), False

    def get_search_fields(self, request):
        return ("transit",)  # shows the search box; the search itself is get_search_results


@admin.register(Recharge)
class RechargeAdmin(ReadOnlyAdmin):
    list_display = ("recharge_id", "card", "amount_yuan", "recharged_at", "state")
    list_filter = ("state", "month")
    search_fields = ("=recharge_id", "=card__card_no")
    list_select_related = ("card",)

    @admin.display(description=_("金额（元）"), ordering="amount")
    def amount_yuan(self, obj):
        return fen_to_yuan(obj.amount)


# --- applications and invoices: read-only, changed only through audited actions -----------------

from django import forms  # noqa: E402
from django.contrib import messages  # noqa: E402
from django.http import Http404  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.utils.html import format_html_join  # noqa: E402

from piaogen.errors import ServiceError  # noqa: E402

from . import datafix, selectors, services  # noqa: E402
from .documents import services as documents_services  # noqa: E402
from .documents import storage as documents_storage  # noqa: E402
from .models import Application, ApplicationEvent, Invoice, InvoiceLine, RedLetterConfirmation  # noqa: E402


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("操作原因（将记入审计）"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )


class TitlePickForm(forms.Form):
    """The user's own titles to choose from, the current one marked; a reason for the audit."""

    title = forms.ModelChoiceField(label=_("新抬头"), queryset=None, empty_label=None)
    reason = forms.CharField(
        label=_("操作原因（将记入审计）"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, application, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from cards.models import InvoiceTitle

        current = application.title_id
        field = self.fields["title"]
        field.queryset = InvoiceTitle.objects.filter(user_id=application.user_id, deleted_at__isnull=True).order_by(
            "pk"
        )
        field.label_from_instance = lambda t: (
            f"{t.name}{(' · ' + t.tax_id) if t.tax_id else ''}" + (str(_("（当前抬头）")) if t.pk == current else "")
        )


def ask_reason(modeladmin, request, queryset, *, title: str, action: str, apply):
    """An admin action that asks for a reason before it calls a service for each row."""
    if "reason" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            done, refused = 0, []
            for obj in queryset:
                try:
                    apply(obj, request.user, form.cleaned_data["reason"])
                    done += 1
                except ServiceError as exc:
                    refused.append(f"#{obj.pk}: {exc.message}")
            if done:
                modeladmin.message_user(request, _("已处理 %(n)s 条。") % {"n": done}, messages.SUCCESS)
            for line in refused:
                modeladmin.message_user(request, line, messages.ERROR)
            return None
    else:
        form = ReasonForm()
    return render(
        request,
        "admin/invoices/ask_reason.html",
        {
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": action,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


class EventInline(admin.TabularInline):
    model = ApplicationEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor", "reason", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class InvoiceInline(admin.TabularInline):
    model = Invoice
    extra = 0
    can_delete = False
    fields = ("document_kind", "code", "number", "seller_name", "kind", "red", "status", "total_yuan", "render_status")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("价税合计（元）"))
    def total_yuan(self, obj):
        return fen_to_yuan(obj.total)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "user",
        "card",
        "month",
        "mode",
        "invoice_count",
        "total_yuan",
        "created_at",
    )
    list_filter = ("status", "kind", "mode")
    search_fields = ("=id", "=summary_no", "=card__card_no", "user__mobile_masked")
    list_select_related = ("user", "card")
    date_hierarchy = "created_at"
    inlines = [InvoiceInline, EventInline]
    actions = ["retry_failed", "resend_email", "correct_title"]
    show_full_result_count = False

    @admin.display(description=_("价税合计（元）"), ordering="total")
    def total_yuan(self, obj):
        return fen_to_yuan(obj.total)

    @admin.action(description=_("重发发票邮件（需填写原因）"), permissions=["change"])
    def resend_email(self, request, queryset):
        return ask_reason(
            self,
            request,
            queryset,
            title=_("重发发票邮件"),
            action="resend_email",
            apply=lambda app, user, reason: datafix.application_resend(
                application_id=app.pk, actor=user, reason=reason
            ),
        )

    @admin.action(description=_("开票前更正抬头为用户的另一个抬头（需填写原因）"), permissions=["change"])
    def correct_title(self, request, queryset):
        """One application at a time: the new title is picked from its user's own titles."""
        apps = list(queryset.select_related("title")[:2])
        if len(apps) != 1:
            self.message_user(request, _("更正抬头请一次只选择一个开票申请。"), messages.ERROR)
            return None
        app = apps[0]
        form = TitlePickForm(app, request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            new = form.cleaned_data["title"]
            old_name = app.title.name if app.title_id else "—"
            try:
                datafix.application_correct_title(
                    application_id=app.pk, title_id=new.pk, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ServiceError as exc:
                form.add_error("title", exc.message)
            else:
                self.message_user(
                    request,
                    _("已将开票申请 #%(id)s 的抬头由“%(old)s”更正为“%(new)s”，已记入审计。")
                    % {"id": app.pk, "old": old_name, "new": new.name},
                    messages.SUCCESS,
                )
                return None
        return render(
            request,
            "admin/invoices/ask_reason.html",
            {
                "title": _("更正抬头"),
                "form": form,
                "queryset": [app],
                "action": "correct_title",
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("重试开票失败的申请（需填写原因）"), permissions=["change"])
    def retry_failed(self, request, queryset):
        return ask_reason(
            self,
            request,
            queryset,
            title=_("重试开票"),
            action="retry_failed",
            apply=lambda app, user, reason: services.application_retry(
                application_id=app.pk, actor=user, reason=reason
            ),
        )

    def has_change_permission(self, request, obj=None):
        # The change page stays read-only; the permission only gates the audited actions.
        if obj is not None:
            return False
        return super().has_change_permission(request)


class LineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ("seq", "item", "plate", "date_from", "date_to", "net", "rate", "tax", "transit")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transit")


class RenderStatusFilter(admin.SimpleListFilter):
    """版式文件: rendered, waiting, retrying after a failed attempt, or failed for good."""

    title = _("版式文件")
    parameter_name = "render"

    def lookups(self, request, model_admin):
        return [
            ("rendered", _("已生成")),
            ("pending", _("待生成")),
            ("retrying", _("生成出错，重试中")),
            ("failed", _("生成失败")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "retrying":
            return queryset.filter(render_status=Invoice.RenderStatus.PENDING).exclude(render_error="")
        if value in ("rendered", "pending", "failed"):
            return queryset.filter(render_status=value)
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "reference_shown",
        "document_kind",
        "issued_on",
        "seller_name",
        "buyer_name",
        "kind",
        "red",
        "status",
        "total_yuan",
        "render_status",
        "render_attempts",
        "render_error_short",
    )
    list_filter = (InvoiceMonthFilter, "document_kind", RenderStatusFilter, "kind", "red", "status", "issued_on")
    search_fields = ("=number", "=code", "=buyer_tax_id", "=card__card_no", "plate")
    search_help_text = _(
        "按发票号码、代码+号码、购买方纳税人识别号或ETC卡号查找时查全部月份；按车牌号查找时查所选月份（默认近12个月）。"
    )
    list_select_related = ("card",)
    inlines = [LineInline]
    actions = ["rerender"]
    show_full_result_count = False

    def get_object(self, request, object_id, from_field=None):
        # An invoice is read in its month's partition, found through its key.
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        month = selectors.invoice_month(object_id)
        return self.get_queryset(request).filter(pk=object_id, month=month).first() if month else None

    @admin.display(description=_("价税合计（元）"), ordering="total")
    def total_yuan(self, obj):
        return fen_to_yuan(obj.total)

    @admin.display(description=_("代码/号码"), ordering="number")
    def reference_shown(self, obj):
        """Code and number of a VAT invoice or a fiscal e-bill; the 20-digit number alone of a 数电 invoice."""
        return obj.reference

    @admin.display(description=_("生成错误"))
    def render_error_short(self, obj):
        return (obj.render_error[:60] + "…") if len(obj.render_error) > 60 else obj.render_error

    @admin.display(description=_("版式文件下载"))
    def documents(self, obj):
        if obj is None or obj.pk is None or obj.render_status != Invoice.RenderStatus.RENDERED:
            return (
                _("尚未生成")
                if obj is None or obj.render_status != Invoice.RenderStatus.FAILED
                else _("生成失败，可用“重新生成”操作重试")
            )
        links = [
            (reverse("admin:invoices_invoice_document", args=[obj.pk, kind]), label)
            for kind, label in (("pdf", "PDF"), ("xml", "XML"))
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "documents"]

    def has_change_permission(self, request, obj=None):
        # The change page stays read-only; the permission only gates the audited actions.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    @admin.action(description=_("重新生成版式文件（PDF/XML，需填写原因）"), permissions=["change"])
    def rerender(self, request, queryset):
        return ask_reason(
            self,
            request,
            queryset,
            title=_("重新生成版式文件"),
            action="rerender",
            apply=lambda inv, user, reason: documents_services.invoice_rerender(
                invoice_id=inv.pk, actor=user, reason=reason
            ),
        )

    def get_urls(self):
        extra = [
            path(
                "<int:pk>/document/<str:kind>/",
                self.admin_site.admin_view(self.document_view),
                name="invoices_invoice_document",
            )
        ]
        return extra + super().get_urls()

    def document_view(self, request, pk: int, kind: str):
        """Staff download of a stored PDF or XML (view permission), never a render."""
        if kind not in ("pdf", "xml") or not self.has_view_permission(request):
            raise Http404
        month = selectors.invoice_month(pk)
        inv = Invoice.objects.filter(pk=pk, month=month).first() if month else None
        if inv is None:
            raise Http404
        path_ = inv.pdf_path if kind == "pdf" else inv.xml_path
        if inv.render_status != Invoice.RenderStatus.RENDERED or not documents_storage.exists(path_):
            raise Http404
        return documents_storage.download_response(
            path_,
            filename=documents_storage.document_name(inv, kind),
            content_type="application/pdf" if kind == "pdf" else "application/xml",
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.replace(" ", "").strip()
        if term and not InvoiceMonthFilter.parse(request.GET.get(InvoiceMonthFilter.parameter_name)):
            # no month chosen: the months the term can be found in, from the keys and summaries
            queryset = queryset.filter(
                month__in=selectors.console_search_months(term, InvoiceMonthFilter.recent_months())
            )
        if len(term) == 20 and term.isdigit():
            # a VAT invoice's code and number typed together, a 数电 invoice's number, or a card number
            return (
                queryset.filter(Q(code=term[:12], number=term[12:]) | Q(code="", number=term) | Q(card__card_no=term)),
                False,
            )
        if len(term) == 18 and term.isdigit():  # a fiscal e-bill's code (8) and number (10)
            return queryset.filter(code=term[:8], number=term[8:]), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(RedLetterConfirmation)
class RedLetterConfirmationAdmin(ReadOnlyAdmin):
    """红字确认单: how a 数电 invoice was reversed. Written by the reversal, never edited."""

    list_display = (
        "number",
        "original_shown",
        "red_invoice_shown",
        "total_net_yuan",
        "total_tax_yuan",
        "reason",
        "confirmed_at",
    )
    search_fields = ("=number", "=original__number", "=red_invoice__number")
    list_select_related = ("original", "red_invoice")
    date_hierarchy = "confirmed_at"
    show_full_result_count = False
    read_only_note = _("红字确认单由红冲数电发票时生成，与红字发票一同开具，不能在控制台修改。")

    @admin.display(description=_("蓝字发票"), ordering="original__number")
    def original_shown(self, obj):
        return obj.original.reference

    @admin.display(description=_("红字发票"))
    def red_invoice_shown(self, obj):
        return obj.red_invoice.reference if obj.red_invoice_id else "—"

    @admin.display(description=_("冲红金额（元）"), ordering="total_net")
    def total_net_yuan(self, obj):
        return fen_to_yuan(obj.total_net)

    @admin.display(description=_("冲红税额（元）"), ordering="total_tax")
    def total_tax_yuan(self, obj):
        return fen_to_yuan(obj.total_tax)
