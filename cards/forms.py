"""Forms of the cards pages. They collect; the services validate and decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import IdType, InvoiceTitle


class UnechoedTextInput(forms.TextInput):
    """A text box that never renders a value back: a holder name, an ID number or a mobile
    typed into a refused form is not echoed into the page."""

    def format_value(self, value):
        return None


class BindForm(forms.Form):
    card_no = forms.CharField(
        label=_("ETC卡号"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("20位数字")}),
        help_text=_("印在ETC卡正面的20位数字。"),
    )
    holder_name = forms.CharField(
        label=_("开户人名称"),
        max_length=100,
        error_messages={"required": _("请填写开户人名称：个人卡填写持卡人姓名，单位卡填写单位全称。")},
        widget=UnechoedTextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "办卡时在发行方登记的开户人名称：个人卡填写持卡人姓名，单位卡填写单位全称（与营业执照一致）。"
            "括号、空格用全角或半角均可。"
        ),
    )
    id_type = forms.ChoiceField(label=_("证件类型"), choices=IdType.choices, initial=IdType.RESIDENT_ID)
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=64,
        widget=UnechoedTextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("办卡时在发行方登记的证件号码；单位卡填写统一社会信用代码。"),
    )
    mobile = forms.CharField(
        label=_("预留手机号"),
        max_length=32,
        widget=UnechoedTextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "maxlength": 11}),
        help_text=_("办卡时在发行方预留的手机号，验证码将发送到这个号码。"),
    )


class BindConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("短信验证码"),
        max_length=16,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6}),
    )


class BulkBindForm(forms.Form):
    """批量绑卡: card numbers pasted one a line, or a CSV / Excel file of them (first column)."""

    card_nos = forms.CharField(
        label=_("卡号列表"),
        required=False,
        max_length=64 * 600,
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "inputmode": "numeric",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": _("每行一个20位卡号"),
            }
        ),
        help_text=_("每行一个卡号，可直接从表格中复制一列粘贴。"),
    )
    file = forms.FileField(
        label=_("或上传文件"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
        help_text=_(
            "CSV 或 Excel（.xlsx）文件，第一列为卡号，第一行可以是表头。Excel 中请把卡号列设为“文本”格式，"
            "否则20位卡号会被截断。"
        ),
    )


class TitleForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("抬头类型"),
        choices=InvoiceTitle.Kind.choices,
        initial=InvoiceTitle.Kind.PERSONAL,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(label=_("名称"), max_length=100, help_text=_("个人填写姓名，单位填写全称。"))
    tax_id = forms.CharField(
        label=_("纳税人识别号"), max_length=32, required=False, help_text=_("单位必填：18位统一社会信用代码。")
    )
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    phone = forms.CharField(label=_("电话"), max_length=32, required=False)
    bank = forms.CharField(label=_("开户行"), max_length=100, required=False)
    bank_account = forms.CharField(label=_("账号"), max_length=40, required=False)
    email = forms.CharField(
        label=_("收票邮箱"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("选填，开票后可将发票发送到这个邮箱。"),
    )
