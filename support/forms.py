from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import Issuer
from invoices.models import Operator
from piaogen.templatetags.money import fen_to_yuan

from . import selectors
from .models import Call, Category, Ticket
from .services import BODY_MAX, SUBJECT_MAX


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("搜索常见问题"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("例如：绑卡 手机号不一致")}),
    )


# --- choosing one of the user's own things ------------------------------------------------


def card_label(card) -> str:
    return f"{card.card_no} · {card.plate}"


def transit_label(t) -> str:
    when = timezone.localtime(t.exit_time).strftime("%Y-%m-%d %H:%M")
    return f"{when} {t.entry_station}→{t.exit_station} ¥{fen_to_yuan(t.fee)}"


def application_label(a) -> str:
    return f"#{a.pk} {a.get_kind_display()} {a.month} · {a.get_status_display()}"


def invoice_label(i) -> str:
    return f"{i.reference} · {i.seller_name} ¥{fen_to_yuan(i.total)}"


class OwnChoiceField(forms.ChoiceField):
    """A choice among the user's own objects: only what the list offered validates, and the
    cleaned value is the object itself."""

    def __init__(self, *, rows, label_from, **kwargs):
        self.objects = {str(row.pk): row for row in rows}
        choices = [("", _("（不附上）"))] + [(pk, label_from(row)) for pk, row in self.objects.items()]
        super().__init__(choices=choices, required=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return self.objects.get(value) if value else None


class TicketForm(forms.Form):
    category = forms.ChoiceField(label=_("问题分类"), choices=[("", _("请选择"))] + list(Category.choices))
    subject = forms.CharField(
        label=_("主题"), max_length=SUBJECT_MAX, help_text=_("一句话说明问题，例如“绑卡提示预留手机号不一致”")
    )
    description = forms.CharField(
        label=_("问题描述"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("请写明发生了什么、您做了哪些操作。不要填写证件号码或银行卡密码。"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        own = selectors.attachable(user)
        self.fields["card"] = OwnChoiceField(rows=own["cards"], label_from=card_label, label=_("相关ETC卡"))
        self.fields["transit"] = OwnChoiceField(rows=own["transits"], label_from=transit_label, label=_("相关通行记录"))
        self.fields["application"] = OwnChoiceField(
            rows=own["applications"], label_from=application_label, label=_("相关开票申请")
        )
        self.fields["invoice"] = OwnChoiceField(rows=own["invoices"], label_from=invoice_label, label=_("相关发票"))
        for name in ("card", "transit", "application", "invoice"):
            if len(self.fields[name].choices) == 1:
                del self.fields[name]  # nothing of that kind to attach


class MessageForm(forms.Form):
    body = forms.CharField(label=_("补充说明"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 3}))


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("问题为什么没有解决"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("评分"),
        coerce=int,
        choices=[(5, _("5 非常满意")), (4, _("4 满意")), (3, _("3 一般")), (2, _("2 不满意")), (1, _("1 非常不满意"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("评价（选填）"), max_length=300, required=False)


class DiagnoseDateForm(forms.Form):
    date = forms.DateField(label=_("通行日期"), widget=forms.DateInput(attrs={"type": "date"}))


# --- console forms -------------------------------------------------------------------------


class HandOffForm(forms.Form):
    issuer = forms.ModelChoiceField(
        label=_("转交发行方"), queryset=Issuer.objects.order_by("province_code", "code"), required=False
    )
    operator = forms.ModelChoiceField(
        label=_("或转交路段经营单位"), queryset=Operator.objects.order_by("name"), required=False
    )
    reference = forms.CharField(label=_("对方受理编号"), max_length=64)
    note = forms.CharField(
        label=_("备注（内部）"), max_length=BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    reply = forms.CharField(
        label=_("给用户的答复（选填）"), max_length=BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("查看原因"),
        max_length=100,
        help_text=_("如：核对用户提供的证件号码。查看记录会留存，包括您的姓名、时间和原因。"),
        widget=forms.TextInput(attrs={"size": 40, "autocomplete": "off"}),
    )


class CapLiftForm(forms.Form):
    """A supervisor lifts today's binding cap of an account (no card) or of one card number."""

    card_no = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("解除原因"),
        max_length=200,
        help_text=_("如：已来电核实为本人，预留信息已由发行方更正。原因记入审计记录，不发给用户。"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
    )


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("手机号 / 卡号 / 车牌 / 发票号码 / 工单号 / 姓名"),
        max_length=64,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "size": 40}),
    )


class TicketAdminForm(forms.ModelForm):
    """Re-filing fields plus a reply box; saving goes through the services."""

    reply_kind = forms.ChoiceField(
        label=_("新增消息"),
        choices=[("internal_note", _("内部备注（用户不可见）")), ("public_reply", _("回复用户（短信通知）"))],
        required=False,
        initial="internal_note",
    )
    reply_body = forms.CharField(
        label=_("内容"), max_length=BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    class Meta:
        model = Ticket
        fields = ("category", "priority", "group")


class TicketAddForm(forms.ModelForm):
    """Staff open a ticket for a caller: the subject is shown to the customer, the description
    is staff's internal note of the case."""

    description = forms.CharField(
        label=_("情况说明（内部备注，用户不可见）"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )

    class Meta:
        model = Ticket
        fields = ("user", "channel", "category", "priority", "subject")
        help_texts = {"subject": _("用户可见：请勿写入手机号、证件号等个人信息。")}


class CallAdminForm(forms.ModelForm):
    caller_input = forms.CharField(
        label=_("来电号码"),
        max_length=24,
        required=False,
        help_text=_("选定了关联账户时可留空：即该账户的注册手机号。"),
    )

    class Meta:
        model = Call
        fields = ("started_at", "ended_at", "category", "summary", "user", "ticket")
        help_texts = {"summary": _("内部记录，用户不可见；由来电创建工单时作为内部备注。")}

    def clean(self):
        data = super().clean()
        if not data.get("caller_input") and not data.get("user"):
            self.add_error("caller_input", _("请填写来电号码，或选择关联账户。"))
        return data


# --- the hotline: the agent's wrap-up and callbacks ------------------------------------------


class WrapUpForm(forms.Form):
    """The wrap-up of a call, on the console's call notice: the account (one of those the
    caller's number points to, or found from what the caller says), the category, the internal
    summary and the ticket (none, a new one, or one of the account's open tickets)."""

    account = forms.ChoiceField(label=_("来电人账户"), required=False)
    find = forms.CharField(
        label=_("来电人账户（手机号 / 卡号 / 车牌 / 工单号）"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("未识别的来电：填写来电人告诉您的信息，找到唯一账户时关联它；可留空。"),
    )
    category = forms.ChoiceField(label=_("分类"), choices=[("", _("请选择"))] + list(Category.choices))
    summary = forms.CharField(
        label=_("通话摘要（内部，用户不可见）"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    ticket = forms.ChoiceField(label=_("工单"), required=False)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {str(a.user.pk): a for a in accounts}
        self.tickets = {str(t.pk): t for a in accounts for t in a.open_tickets}
        self.fields["account"].choices = [
            (pk, f"{a.user.name or _('（未填姓名）')} {a.user.mobile_masked}") for pk, a in self.accounts.items()
        ]
        if len(self.accounts) <= 1:
            self.fields["account"].widget = forms.HiddenInput()
            self.fields["account"].initial = next(iter(self.accounts), "")
        if self.accounts:
            del self.fields["find"]
        ticket_choices = [("", _("不关联工单")), ("new", _("由来电新建工单"))]
        ticket_choices += [(pk, f"{t.ref} {t.subject_masked}") for pk, t in self.tickets.items()]
        self.fields["ticket"].choices = ticket_choices

    def clean_account(self):
        value = self.cleaned_data.get("account") or ""
        return self.accounts[value].user if value in self.accounts else None

    def clean(self):
        data = super().clean()
        user = data.get("account")
        if user is None and data.get("find"):
            found = selectors.find_customers(data["find"])
            if len(found.users) != 1:
                self.add_error(
                    "find", _("没有找到唯一的账户（找到 %(n)s 个），请换一种信息查找。") % {"n": len(found.users)}
                )
            else:
                data["account"] = user = found.users[0]
        choice = data.get("ticket") or ""
        data["open_ticket"] = choice == "new"
        if choice and choice != "new":
            ticket = self.tickets.get(choice)
            if ticket is None or user is None or ticket.user_id != user.pk:
                self.add_error("ticket", _("请选择该账户的工单。"))
            data["ticket"] = ticket
        else:
            data["ticket"] = None
        if data["open_ticket"] and user is None:
            self.add_error("ticket", _("这通来电没有关联账户，请先关联来电人的票根账户。"))
        return data


class CallbackForm(forms.Form):
    reached = forms.TypedChoiceField(
        label=_("回拨结果"),
        choices=[("1", _("已接通")), ("0", _("无人接听"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    category = forms.ChoiceField(label=_("分类"), choices=[("", _("请选择"))] + list(Category.choices), required=False)
    summary = forms.CharField(
        label=_("通话摘要（内部，用户不可见）"),
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("接通时必填。"),
    )
