from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from cards.admin import IssuerInline
from piaogen.history import ConsoleHistoryAdmin as SimpleHistoryAdmin

from . import services
from .identity import is_mobile, normalize_mobile, validate_mobile
from .models import (
    AppToken,
    CrossPartnerRefusal,
    Partner,
    PartnerToken,
    SmsCode,
    User,
    mobile_digest,
)


class MobileSearchRedirectMixin:
    """A full mobile typed into the console's list search becomes its keyed digest in the URL
    (a redirect), so the number is not kept in the page, its links or the browser's history.
    The search box posts, so the number is not in any URL at all."""

    change_list_template = "admin/accounts/change_list_post_search.html"
    digest_param = "mobile_digest"  # the model's field holding the number's keyed digest

    def search_digest(self, raw: str) -> str | None:
        """The keyed digest a typed term stands for, or None when it is no full number."""
        term = normalize_mobile(raw)
        return mobile_digest(term) if is_mobile(term) else None

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and "q" in request.POST and "action" not in request.POST:
            # The list's search box posts (admin/accounts/search_form.html): a full number never
            # travels in a URL, so it reaches neither the access log nor the browser's history.
            params = request.GET.copy()
            for stale in ("q", self.digest_param, "p"):
                params.pop(stale, None)
            digest = self.search_digest(request.POST["q"])
            if digest:
                params[self.digest_param] = digest
            elif request.POST["q"].strip():
                params["q"] = request.POST["q"].strip()
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        digest = self.search_digest(request.GET.get("q", ""))
        if digest:
            params = request.GET.copy()
            del params["q"]
            params[self.digest_param] = digest
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        return super().changelist_view(request, extra_context)


def search_by_mobile(queryset, search_term: str):
    """A full mobile typed into a console search finds its account through the digest."""
    term = normalize_mobile(search_term)
    if is_mobile(term):
        return queryset.filter(mobile_digest=mobile_digest(term)), True
    return None, False


class StaffUserCreationForm(forms.ModelForm):
    mobile_input = forms.CharField(label=_("手机号"), max_length=11)
    password1 = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ("name", "account_type", "is_staff")

    def clean_mobile_input(self):
        value = normalize_mobile(self.cleaned_data["mobile_input"])
        validate_mobile(value)
        if User.objects.filter(mobile_digest=mobile_digest(value)).exists():
            raise ValidationError(_("该手机号已注册。"))
        return value

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_mobile(self.cleaned_data["mobile_input"])
        user.set_password(self.cleaned_data["password1"])
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(MobileSearchRedirectMixin, SimpleHistoryAdmin, BaseUserAdmin):
    add_form = StaffUserCreationForm
    # An account's history (every change of name, mobile, status…) is for supervisors and admins
    # (docs/staff-roles.md): it takes the history model's own view permission, which agents lack.
    enforce_history_permissions = True
    change_password_form = AdminPasswordChangeForm
    list_display = ("id", "mobile_masked", "name", "account_type", "is_staff", "is_active", "date_joined")
    list_filter = ("account_type", "is_staff", "is_active", "groups")
    search_fields = ("mobile_masked", "name", "tax_id")
    ordering = ("-id",)
    readonly_fields = ("mobile_masked", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("mobile_masked", "password")}),
        (_("账户"), {"fields": ("account_type", "name", "tax_id")}),
        (_("权限"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"fields": ("mobile_input", "password1", "name", "account_type", "is_staff")}),)
    filter_horizontal = ("groups",)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # Read-only viewers get no password row: its 重置密码 link leads where they may not go.
        return tuple(
            (name, {**opts, "fields": tuple(f for f in opts["fields"] if f != "password")}) for name, opts in fieldsets
        )

    def get_search_results(self, request, queryset, search_term):
        found, exact = search_by_mobile(queryset, search_term)
        if exact:
            return found, False
        return super().get_search_results(request, queryset, search_term)


class PartnerTokenInline(admin.TabularInline):
    """Each token's prefix, creation and last use; the token itself is never stored."""

    model = PartnerToken
    extra = 0
    fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    can_delete = False
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ("id", "name", "kind", "tax_id", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "tax_id", "issuers__network_codes__code")
    inlines = [IssuerInline, PartnerTokenInline]
    actions = ["issue_token"]

    @admin.action(description=_("签发新令牌（原令牌仍有效，需另行吊销）"), permissions=["change"])
    def issue_token(self, request, queryset):
        """Issues one new token for each selected partner and shows them on this page only: the
        answer is not cached, the token goes into no message, session or log."""
        issued = []
        for partner in queryset.order_by("pk"):
            token = services.partner_token_issue(partner=partner)
            self.log_change(request, partner, f"issued API token {token[:8]}…")
            issued.append((partner, token))
        response = TemplateResponse(
            request,
            "admin/accounts/partner/tokens_issued.html",
            {**self.admin_site.each_context(request), "issued": issued, "opts": self.model._meta, "title": _("新令牌")},
        )
        response["Cache-Control"] = "no-store"
        return response


@admin.register(PartnerToken)
class PartnerTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "partner", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "partner__name")
    list_select_related = ("partner",)
    readonly_fields = ("partner", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are issued by `manage.py partner_token` or the partner's action, shown once

    @admin.action(description=_("吊销所选令牌"), permissions=["change"])
    def revoke(self, request, queryset):
        done = 0
        for token in queryset.select_related("partner"):
            if services.partner_token_revoke(token=token):
                self.log_change(request, token, "revoked")
                done += 1
        self.message_user(request, _("已吊销 %(n)s 个令牌。") % {"n": done})


@admin.register(CrossPartnerRefusal)
class CrossPartnerRefusalAdmin(admin.ModelAdmin):
    """Bulk-write items refused because they named another partner's rows (``not_owner``)."""

    list_display = ("at", "partner", "kind", "item_id", "owner")
    list_filter = ("kind", "partner")
    search_fields = ("item_id",)
    list_select_related = ("partner", "owner")
    date_hierarchy = "at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AppToken)
class AppTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")
    exclude = ("digest",)

    def has_add_permission(self, request):
        return False


@admin.register(SmsCode)
class SmsCodeAdmin(MobileSearchRedirectMixin, admin.ModelAdmin):
    """Agents see whether and when a code went out (\"I never got the SMS\"), never the code."""

    list_display = ("mobile_masked", "purpose", "created_at", "expires_at", "tries", "consumed_at")
    list_filter = ("purpose",)
    search_fields = ("mobile_masked",)
    exclude = ("code_digest", "mobile_digest")
    readonly_fields = ("mobile_masked", "purpose", "scope", "created_at", "expires_at", "tries", "consumed_at")

    def get_search_results(self, request, queryset, search_term):
        term = normalize_mobile(search_term)
        if is_mobile(term):
            return queryset.filter(mobile_digest=mobile_digest(term)), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
