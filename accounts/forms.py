from django import forms
from django.utils.translation import gettext_lazy as _

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
    name = forms.CharField(label=_("姓名或单位名称"), max_length=100, required=False, help_text=_("单位账户必填"))
    tax_id = forms.CharField(
        label=_("统一社会信用代码"), max_length=32, required=False, help_text=_("单位账户必填，18位")
    )


class LoginForm(forms.Form):
    mobile = forms.CharField(label=_("手机号"), max_length=32, widget=MOBILE_WIDGET)
    password = forms.CharField(
        label=_("密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


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
