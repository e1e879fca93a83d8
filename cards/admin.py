"""The contact centre's view of issuers, the card registry, bindings and binding attempts.

Lists show masked ID numbers and mobiles only; the encrypted columns are neither listed nor
loaded. A full mobile or ID number typed into a search finds its rows through the digests.
"""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from accounts.identity import is_mobile, normalize_mobile
from accounts.models import mobile_digest
from invoices.documents.mail import mask_email
from piaogen.errors import ServiceError
from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin
from piaogen.masking import mask_name, mask_text

from .identity import normalize_card_no, normalize_id_number
from .models import (
    AutoInvoiceRun,
    AutoInvoiceSetting,
    Binding,
    BindingAttempt,
    BindingCapLift,
    BulkBinding,
    Card,
    InvoiceTitle,
    Issuer,
    IssuerNetworkCode,
)
from .services.shared import id_number_digest
from .services.titles import TITLE_FIELDS, clean_title_fields
from .services.unbinding import binding_end_by_staff

SENSITIVE = ("id_number", "mobile")


def digest_search(search_term: str) -> dict | None:
    """A full mobile or an 18-character ID number / USCC is looked up by its digest."""
    term = normalize_mobile(search_term.strip())
    if is_mobile(term):
        return {"mobile": mobile_digest(term)}
    number = normalize_id_number(search_term)
    if len(number) == 18:
        return {"id_number": id_number_digest(number)}
    return None


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IssuerNetworkCodeInline(admin.TabularInline):
    model = IssuerNetworkCode
    extra = 0


@admin.display(description=_("卡片网络编号"))
def network_code_list(issuer: Issuer) -> str:
    return ", ".join(n.code for n in issuer.network_codes.all())


class IssuerInline(admin.TabularInline):
    """The issuers a partner account acts for, with their network codes, on the partner's page:
    an issuer owns its codes, and its account is chosen on the issuer's own page."""

    model = Issuer
    fk_name = "partner"
    extra = 0
    fields = ("province", "name", "brand", network_code_list)
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    verbose_name = _("代理的发行方")
    verbose_name_plural = _("代理的发行方（卡片网络编号）")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("network_codes")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Issuer)
class IssuerAdmin(SimpleHistoryAdmin):
    list_display = ("province", "name", "brand", network_code_list, "hotline", "is_demo", "partner")
    list_display_links = ("province", "name")
    list_filter = ("is_demo",)
    list_select_related = ("partner",)
    search_fields = ("name", "brand", "province", "code", "network_codes__code", "hotline")
    inlines = [IssuerNetworkCodeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("network_codes")


class CardBindingInline(admin.TabularInline):
    model = Binding
    extra = 0
    can_delete = False
    fields = ("user", "bound_at", "ended_at", "end_kind", "end_reason")
    readonly_fields = fields
    ordering = ("-bound_at",)
    verbose_name_plural = _("绑定历史")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").defer("user__mobile")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Card)
class CardAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """The issuers' registry: read-only here, it changes only through the issuers' pushes."""

    list_display = (
        "card_no",
        "plate",
        "plate_color",
        "card_type",
        "issuer",
        "holder_masked",
        "id_type",
        "id_number_masked",
        "mobile_masked",
        "status",
        "updated_at",
    )
    list_filter = ("status", "card_type", "id_type", "issuer")
    list_select_related = ("issuer",)
    search_fields = ("card_no", "plate", "mobile_masked", "id_number_masked")
    fields = (
        "card_no",
        "issuer",
        "card_type",
        "plate",
        "plate_color",
        "vehicle_class",
        "holder_masked",  # masked on the card's page as in the list
        "id_type",
        "id_number_masked",
        "mobile_masked",
        "status",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [CardBindingInline]
    ordering = ("-updated_at", "-pk")

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*SENSITIVE)

    @admin.display(description=_("持卡人"))
    def holder_masked(self, obj):
        return mask_name(obj.holder_name)

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            return queryset.filter(mobile_digest=found["mobile"]), False
        if found:
            return queryset.filter(id_number_digest=found["id_number"]), False
        term = normalize_card_no(search_term)
        if term.isdigit() and len(term) == 20:
            return queryset.filter(card_no=term), False
        return super().get_search_results(request, queryset, search_term)


class BindingStateFilter(admin.SimpleListFilter):
    title = _("状态")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", _("绑定中")), ("ended", _("已解绑")))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


class StaffUnbindForm(forms.Form):
    reason = forms.CharField(
        label=_("解绑原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("用户下次访问时会看到这段原因。"),
    )


@admin.register(Binding)
class BindingAdmin(SimpleHistoryAdmin):
    list_display = ("card_no", "plate", "issuer", "user", "bound_at", "ended_at", "end_kind", "end_reason")
    list_filter = (BindingStateFilter, "end_kind", "card__issuer")
    list_select_related = ("card", "card__issuer", "user")
    search_fields = ("card__card_no", "card__plate", "user__mobile_masked", "card__mobile_masked")
    readonly_fields = (
        "user",
        "card",
        "default_title",
        "bound_at",
        "ended_at",
        "end_kind",
        "end_reason",
    )
    actions = ["end_by_staff"]
    ordering = ("-bound_at", "-pk")
    date_hierarchy = "bound_at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile", "card__id_number", "card__mobile")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("卡号"), ordering="card__card_no")
    def card_no(self, obj):
        return obj.card.card_no

    @admin.display(description=_("车牌号"), ordering="card__plate")
    def plate(self, obj):
        return obj.card.plate

    @admin.display(description=_("发行方"))
    def issuer(self, obj):
        return obj.card.issuer

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            digest = found["mobile"]
            return queryset.filter(user__mobile_digest=digest) | queryset.filter(card__mobile_digest=digest), False
        if found:
            return queryset.filter(card__id_number_digest=found["id_number"]), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description=_("客服解绑所选绑定（需填写原因）"), permissions=["change"])
    def end_by_staff(self, request, queryset):
        form = StaffUnbindForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for binding in queryset.filter(ended_at__isnull=True):
                try:
                    binding_end_by_staff(staff=request.user, binding=binding, reason=form.cleaned_data["reason"])
                    done += 1
                except ServiceError as exc:
                    self.message_user(request, exc.message, messages.WARNING)
            self.message_user(request, _("已解绑 %(n)s 个绑定。") % {"n": done}, messages.SUCCESS)
            return redirect(request.get_full_path())
        return TemplateResponse(
            request,
            "admin/cards/binding/end_by_staff.html",
            {
                **self.admin_site.each_context(request),
                "title": _("客服解绑"),
                "form": form,
                "bindings": queryset.filter(ended_at__isnull=True),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(BindingAttempt)
class BindingAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every binding attempt with its outcome: what the caller saw, and why."""

    list_display = ("created_at", "card_no", "user", "id_type", "outcome", "message", "confirmed_at")
    list_filter = ("outcome", "id_type")
    list_select_related = ("user",)
    search_fields = ("card_no", "user__mobile_masked")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "public_id",
        "user",
        "card_no",
        "card",
        "id_type",
        "outcome",
        "message",
        "bulk",
        "created_at",
        "confirmed_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile")

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            return queryset.filter(user__mobile_digest=found["mobile"]), False
        term = normalize_card_no(search_term)
        if term.isdigit() and len(term) == 20:
            return queryset.filter(card_no=term), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(BulkBinding)
class BulkBindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every bulk binding (批量绑卡) of an enterprise account: how many numbers, how many eligible,
    its status; each card's attempt is under 绑卡尝试 (filter by the batch)."""

    list_display = ("created_at", "user", "status", "lines", "eligible", "message", "finished_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("user__mobile_masked",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = ("public_id", "user", "status", "lines", "eligible", "refused", "message", "created_at", "finished_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile")


@admin.register(BindingCapLift)
class BindingCapLiftAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every lift of a binding cap (who, when, which cap, how many failures it held, why):
    read-only, for supervisors and admins. Lifts are made from the customer view."""

    list_display = ("created_at", "staff", "user", "scope", "card_no", "failures", "reason_masked")
    list_filter = ("scope",)
    list_select_related = ("staff", "user")
    search_fields = ("card_no", "staff__name", "user__name")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = ("created_at", "staff", "user", "scope", "card_no", "failures", "reason_masked")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("staff__mobile", "user__mobile")

    @admin.display(description=_("解除原因"))
    def reason_masked(self, obj):
        return mask_text(obj.reason)


class InvoiceTitleAdminForm(forms.ModelForm):
    """Data-fix corrections: the same checks as the user's own edits, and a written reason."""

    change_reason = forms.CharField(label=_("修改原因"), max_length=100, help_text=_("记入审计记录。"))

    class Meta:
        model = InvoiceTitle
        fields = ("kind", "name", "tax_id", "address", "phone", "bank", "bank_account", "email")

    def clean(self):
        data = super().clean()
        try:
            clean_title_fields({name: data.get(name) or "" for name in TITLE_FIELDS})
        except ServiceError as exc:
            for name, errors in exc.errors.items():
                for error in errors:
                    self.add_error(name if name in self.fields else None, error)
        return data

    def save(self, commit=True):
        title = super().save(commit=False)
        cleaned = clean_title_fields({name: getattr(title, name) for name in TITLE_FIELDS})
        for name, value in cleaned.items():
            setattr(title, name, value)
        title._change_reason = self.cleaned_data["change_reason"]
        if commit:
            title.save()
        return title


@admin.register(InvoiceTitle)
class InvoiceTitleAdmin(SimpleHistoryAdmin):
    form = InvoiceTitleAdminForm
    list_display = ("name", "kind", "tax_id", "user", "created_at", "deleted_at")
    list_filter = ("kind",)
    list_select_related = ("user",)
    search_fields = ("name", "tax_id", "user__mobile_masked")
    readonly_fields = ("user", "created_at", "deleted_at")
    fields = ("user", *TITLE_FIELDS, "change_reason", "created_at", "deleted_at")
    ordering = ("-created_at", "-pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").defer("user__mobile")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            return queryset.filter(user__mobile_digest=found["mobile"]), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(AutoInvoiceSetting)
class AutoInvoiceSettingAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """自动开票 as the customer set it (account-wide, or a card's own): read-only; the customer
    changes it on the site or in the App. The history shows each change and when."""

    list_display = ("user", "scope", "enabled", "paused_at", "mode", "email_masked", "updated_at")
    list_filter = ("enabled", "mode")
    list_select_related = ("user", "binding__card")
    search_fields = ("user__mobile_masked", "binding__card__card_no", "binding__card__plate")
    ordering = ("-updated_at", "-pk")
    fields = ("user", "scope", "enabled", "paused_at", "mode", "email_masked", "created_at", "updated_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile", "binding__card__id_number", "binding__card__mobile")

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            return queryset.filter(user__mobile_digest=found["mobile"]), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("范围"))
    def scope(self, obj):
        if obj.binding_id is None:
            return _("账户下全部卡")
        return f"{obj.binding.card.plate} · {obj.binding.card.card_no}"

    @admin.display(description=_("收票邮箱"))
    def email_masked(self, obj):
        return mask_email(obj.email) if obj.email else _("（默认抬头的收票邮箱）")


@admin.register(AutoInvoiceRun)
class AutoInvoiceRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What automatic invoicing did for each card-month: the application it submitted, or why
    it did not (无需开票 / 未能申请, told to the customer by message and SMS)."""

    list_display = ("month", "card", "user", "status", "code", "application", "told_at", "updated_at")
    list_filter = ("status", "code")
    list_select_related = ("user", "card", "application")
    search_fields = ("card__card_no", "card__plate", "user__mobile_masked", "month")
    ordering = ("-month", "-pk")
    fields = (
        "user",
        "card",
        "month",
        "status",
        "code",
        "message",
        "mode",
        "application",
        "created_at",
        "updated_at",
        "told_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("user__mobile", "card__id_number", "card__mobile")

    def get_search_results(self, request, queryset, search_term):
        found = digest_search(search_term)
        if found and "mobile" in found:
            return queryset.filter(user__mobile_digest=found["mobile"]), False
        return super().get_search_results(request, queryset, search_term)
