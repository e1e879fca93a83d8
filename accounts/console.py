"""The staff console's admin site: login with a second factor (TOTP, django-otp) and the
login limits every other login has.

``STAFF_2FA_REQUIRED`` (on by default when ``DEBUG`` is off) makes a confirmed TOTP device
mandatory for every staff login; with it off, a staff member who enrolled a device still has
to give its code, and one who did not logs in with the password alone (``make run``'s demo
staff). Devices are enrolled with ``manage.py staff_totp_enrol --mobile …``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice

from piaogen import limits

from .identity import normalize_mobile
from .models import mobile_digest


def totp_devices(user) -> list[TOTPDevice]:
    if user is None or not getattr(user, "pk", None):
        return []
    return list(TOTPDevice.objects.devices_for_user(user, confirmed=True))


def second_factor_required(user) -> bool:
    return bool(settings.STAFF_2FA_REQUIRED or totp_devices(user))


class ConsoleLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=gettext_lazy("动态口令"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=gettext_lazy("身份验证器应用上显示的 6 位数字"),
    )
    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    otp_error_messages = dict(
        OTPAuthenticationFormMixin.otp_error_messages,
        token_required=gettext_lazy("请输入身份验证器上的 6 位动态口令。"),
        invalid_token=gettext_lazy("动态口令不正确，请输入身份验证器上当前显示的 6 位数字。"),
        device_required=gettext_lazy("请输入身份验证器上的 6 位动态口令。"),
    )

    retry_after: int | None = None

    def _chosen_device(self, user):
        # The user's own confirmed device; the form never offers anybody else's.
        devices = totp_devices(user)
        return devices[0] if devices else None

    def clean(self):
        mobile = normalize_mobile(self.data.get("username", ""))
        guard = limits.LoginLimits(
            account_key=mobile_digest(mobile) if mobile else "", address=limits.client_address(self.request)
        )
        refused = guard.blocked()
        if refused:
            self.retry_after = refused[1]
            raise ValidationError(
                _("登录失败次数过多，请 %(minutes)s 分钟后再试。") % {"minutes": max(1, -(-self.retry_after // 60))},
                code="too_many_logins",
            )
        try:
            self.cleaned_data = super().clean()
            user = self.get_user()
            if second_factor_required(user):
                if not totp_devices(user):
                    raise ValidationError(
                        _(
                            "控制台要求第二重验证，您的账户尚未登记身份验证器。"
                            "请联系管理员执行 manage.py staff_totp_enrol 为您登记。"
                        ),
                        code="no_device",
                    )
                self.clean_otp(user)
        except ValidationError:
            guard.failed()
            raise
        guard.succeeded()
        return self.cleaned_data


class ConsoleAdminSite(admin.AdminSite):
    site_header = gettext_lazy("票根客户联络中心 · 控制台")
    site_title = gettext_lazy("票根客服控制台")
    index_title = gettext_lazy("工作台")
    login_form = ConsoleLoginForm
    login_template = "admin/console_login.html"

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        if not second_factor_required(request.user):
            return True
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified and is_verified())

    def login(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "staff_2fa_required": settings.STAFF_2FA_REQUIRED}
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        wait = getattr(form, "retry_after", None)
        if wait:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response
