from django import forms
from django.utils.translation import gettext_lazy as _

from piaogen.errors import ServiceError

from .models import User

MOBILE_WIDGET = forms.TextInput(
    attrs={"inputmode": "numeric", "autocomplete": "tel", "maxlength": 11, "placeholder": "13800000000"}
)
CODE_WIDGET = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class SendCodeMixin(forms.Form):
    mobile = forms.CharField(label=_("手机号"), max_length=32, widget=MOBILE_WIDGET)


class RegisterForm(SendCodeMixin):
    code = forms.CharField(label=_("短信验证码"), max_length=16, required=False, widget=CODE_WIDGET)
    password = forms.CharField(
        label=_("密码"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少8位，须同时包含字母和数字。"),
    )
    account_type = forms.ChoiceField(
        label=_("账户类型"),
        choices=User.AccountType.choices,
        initial=User.AccountType.PERSONAL,
        widget=forms.RadioSelect,
    )
    # A personal account's name and an enterprise's company fields are separate fields: the page
    # shows only those of the chosen type (site.css, no script needed), and the service checks
    # the company fields of an enterprise account whatever the browser showed.
    name = forms.CharField(label=_("姓名（选填）"), max_length=100, required=False)
    company_name = forms.CharField(label=_("单位名称"), max_length=100, required=False, help_text=_("单位账户必填"))
    tax_id = forms.CharField(
        label=_("统一社会信用代码"), max_length=32, required=False, help_text=_("单位账户必填，18位")
    )

    COMPANY_FIELDS = ("company_name", "tax_id")

    @property
    def enterprise(self) -> bool:
        return self.cleaned_data.get("account_type") == User.AccountType.ENTERPRISE

    def register_arguments(self) -> dict:
        """What ``services.user_register`` takes: the name is the company's for an enterprise."""
        data = self.cleaned_data
        return {
            "mobile": data["mobile"],
            "code": data.get("code", ""),
            "password": data.get("password", ""),
            "account_type": data["account_type"],
            "name": data.get("company_name", "") if self.enterprise else data.get("name", ""),
            "tax_id": data.get("tax_id", "") if self.enterprise else "",
        }

    def as_shown(self, exc: ServiceError) -> ServiceError:
        """The service's refusal with its field errors on the fields this page shows."""
        if not self.enterprise or "name" not in exc.errors:
            return exc
        errors = {("company_name" if field == "name" else field): messages for field, messages in exc.errors.items()}
        return ServiceError(exc.code, exc.message, errors=errors, status=exc.status, retry_after=exc.retry_after)


class LoginForm(SendCodeMixin):
    """A password, or instead an SMS login code sent to the mobile (the way in when password
    logins of the account are paused by others' failures)."""

    password = forms.CharField(
        label=_("密码"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("短信验证码"),
        max_length=16,
        required=False,
        widget=CODE_WIDGET,
        help_text=_("不填密码时，可点“获取验证码”，用发送至该手机号的验证码登录。"),
    )

    def clean(self):
        data = super().clean()
        if not data.get("password") and not (data.get("code") or "").strip():
            raise forms.ValidationError(_("请填写密码，或获取并填写短信验证码。"))
        return data


class ResetForm(SendCodeMixin):
    code = forms.CharField(label=_("短信验证码"), max_length=16, required=False, widget=CODE_WIDGET)
    password = forms.CharField(
        label=_("新密码"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少8位，须同时包含字母和数字。"),
    )


class ChangePasswordForm(forms.Form):
    old_password = forms.CharField(
        label=_("原密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("新密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
