"""Forms of the invoicing pages: they shape what a person sent; the services decide."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cards.identity import normalize_card_no, normalize_plate
from cards.selectors import bound_cards_named

from . import verification
from .batches import MAX_CARDS
from .models import Application

MAX_PICKED = 500  # ticks on one page (a page lists 50 trips); the services cap lists at 5000


class PageForm(forms.Form):
    """A form of the pages, which show one message at a time: ``first_error``."""

    @property
    def first_error(self) -> str:
        for errors in [self.non_field_errors(), *self.errors.values()]:
            if errors:
                return str(errors[0])
        return ""


class ConfirmStepForm(PageForm):
    """What a form with a confirmation step takes besides its own fields: the title, the mail
    address, the digest of the plan shown (``plan_changed`` when it moved) and the step."""

    STEPS = ("preview", "confirm", "edit")

    title_id = forms.IntegerField(
        min_value=1,
        max_value=2**62,
        error_messages={"required": _("请选择发票抬头。"), "invalid": _("请选择发票抬头。")},
    )
    email = forms.EmailField(required=False, max_length=254, error_messages={"invalid": _("邮箱地址格式不正确。")})
    plan_digest = forms.CharField(required=False, max_length=64)
    step = forms.ChoiceField(choices=[(s, s) for s in STEPS], required=False)


class ApplyForm(ConfirmStepForm):
    """我要开票 and its confirmation step. The scope is the button pressed: 只开所选 (the ticked
    trips, and only those) or 整月开票 (every open trip of the month); nothing else decides it."""

    card = forms.CharField(max_length=32)
    kind = forms.ChoiceField(
        choices=[(Application.Kind.CONSUMPTION, "consumption"), (Application.Kind.RECHARGE, "recharge")],
        required=False,
    )
    month = forms.CharField(max_length=7, required=False)
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("month", "month")], required=False)
    mode = forms.ChoiceField(choices=Application.Mode.choices, required=False)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.transit_ids = [t[:64] for t in data.getlist("transit_ids")[:MAX_PICKED]]
        self.recharge_ids = [r[:64] for r in data.getlist("recharge_ids")[:MAX_PICKED]]

    def service_inputs(self) -> dict:
        """The keyword arguments of the preview and the submit (card, items, mode, title)."""
        d = self.cleaned_data
        if d["kind"] == Application.Kind.RECHARGE:
            return {"card_no": d["card"], "recharge_ids": self.recharge_ids, "title_id": d["title_id"]}
        return {
            "card_no": d["card"],
            "month": d["month"],
            "title_id": d["title_id"],
            "mode": d["mode"] or Application.Mode.PER_TRIP,
            "transit_ids": None if d["scope"] == "month" else self.transit_ids,
        }


# --- an application's and an invoice's pages: 换票, 红冲, 重新发送邮件, 重新申请 ---------------------

# The refusals these forms own are worded as the services word them (``services._title``,
# ``documents.application_mail_resend``): the page says the same whichever refused.
TITLE_REFUSED = _("请选择您自己的一个发票抬头。")
EMAIL_REFUSED = _("请填写正确的邮箱地址。")


def confirm_box(message) -> forms.ChoiceField:
    """The box ticked to confirm (``confirm=yes``); anything else is refused with ``message``."""
    return forms.ChoiceField(
        choices=[("yes", "yes")],
        error_messages={"required": message, "invalid_choice": message},
    )


class TitleChangeForm(PageForm):
    """换票: the box ticked (the original invoices are all reversed), then the new title."""

    confirm = confirm_box(_("请勾选确认：原发票将全部红冲作废。"))
    title_id = forms.IntegerField(
        min_value=1,
        max_value=2**62,
        error_messages={code: TITLE_REFUSED for code in ("required", "invalid", "min_value", "max_value")},
    )


class ReverseForm(PageForm):
    """红冲: the box ticked, and the reason if one is given (the service keeps its first 300
    characters, as typed)."""

    confirm = confirm_box(_("请勾选确认后再提交。"))
    reason = forms.CharField(required=False, strip=False)


class ResendForm(PageForm):
    """重新发送邮件: the address the application's ZIP is mailed to. No longer than the 254
    characters a mail address is stored with."""

    email = forms.EmailField(
        max_length=254,
        error_messages={code: EMAIL_REFUSED for code in ("required", "invalid", "max_length")},
    )


class OptionalIdField(forms.IntegerField):
    """An id a page may leave out: anything but a whole number is None, the service's default."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            return None


class ReapplyForm(PageForm):
    """重新申请: the title chosen; none (or anything but a number) means the failed application's
    own, and the service refuses a title that is not the user's."""

    title_id = OptionalIdField(required=False)


# 批量开票's pasted list: entries one a line; a row copied from a spreadsheet (plate, then card
# number) is split at its tabs and commas too. Not at spaces: card numbers are printed in groups.
LIST_SEPARATORS = re.compile(r"[\t,，;；、]+")
MAX_LIST_CHARS = MAX_CARDS * 48  # a card number and a plate a line, with room for blanks


class CardNumbersField(forms.Field):
    """The ticked cards' numbers (``card_nos``, many values): each normalized, the same once."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        out: list[str] = []
        for raw in value[: MAX_CARDS + 1]:
            number = normalize_card_no(str(raw)[:40])
            if number and number not in out:
                out.append(number)
        return out


class BatchForm(ConfirmStepForm):
    """批量开票 and its confirmation step: the month, mode, title and e-mail, and the cards —
    every bound card (``scope=all``) or the chosen ones (``scope=selected``): the ticked boxes
    (``card_nos``, a page of them at a time) together with a pasted list of card numbers or
    plates (``card_list``, one a line), which is resolved against the user's bound cards. An
    entry that is none of them is refused with its line, and nothing is submitted."""

    month = forms.CharField(max_length=7)
    mode = forms.ChoiceField(choices=Application.Mode.choices, required=False)
    scope = forms.ChoiceField(choices=[("all", "all"), ("selected", "selected")], required=False)
    card_nos = CardNumbersField(required=False)
    card_list = forms.CharField(
        required=False,
        max_length=MAX_LIST_CHARS,
        widget=forms.Textarea,
        error_messages={"max_length": _("粘贴的内容太长，请分批开票。")},
    )

    def __init__(self, data, *args, user: User, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.user = user
        self.ticked: list[str] = CardNumbersField().to_python(data.getlist("card_nos"))
        # the cards chosen: what was ticked, and once the form is cleaned, what was pasted too
        self.card_nos: list[str] = list(self.ticked)
        self.list_errors: list[str] = []

    def clean(self):
        d = super().clean()
        entries = list_entries(d.get("card_list") or "")
        if not entries:
            return d
        if d.get("scope") != "selected":
            raise forms.ValidationError(
                _("您粘贴了卡号或车牌：请选择“只开下面勾选的卡”，或清空粘贴的内容后按全部已绑定的卡开票。")
            )
        if len(entries) > MAX_CARDS:
            raise forms.ValidationError(_("一次批量开票最多 %(n)s 张卡，请分批粘贴。") % {"n": MAX_CARDS})
        found, self.list_errors = resolve_entries(self.user, entries)
        if self.list_errors:
            self.add_error("card_list", list(self.list_errors))
            n = len(self.list_errors)
            raise forms.ValidationError(
                ngettext(
                    "粘贴的内容中有 %(n)s 项没有对应本账户已绑定的ETC卡，批量开票没有提交。请修改下面标出的行后再试。",
                    "粘贴的内容中有 %(n)s 项没有对应本账户已绑定的ETC卡，批量开票没有提交。请修改下面标出的行后再试。",
                    n,
                )
                % {"n": n}
            )
        self.card_nos = [*d.get("card_nos", []), *(n for n in found if n not in d.get("card_nos", []))]
        return d

    def service_inputs(self) -> dict:
        d = self.cleaned_data
        return {
            "month": d["month"],
            "mode": d["mode"] or Application.Mode.PER_TRIP,
            "title_id": d["title_id"],
            "card_nos": self.card_nos if d["scope"] == "selected" else None,
        }


def list_entries(text: str) -> list[tuple[int, str]]:
    """(line number, entry) of a pasted list, blank lines and blank cells left out."""
    out = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        for cell in LIST_SEPARATORS.split(line):
            if cell.strip():
                out.append((line_no, cell.strip()))
    return out


def resolve_entries(user: User, entries: list[tuple[int, str]]) -> tuple[list[str], list[str]]:
    """The card numbers of the user's bound cards that a pasted list names (by number or by
    plate), in the list's order, once each; and a message for each entry that names none of
    them, or a plate that several of them carry. One query."""
    numbers, plates = [], []
    for _line, entry in entries:
        number = normalize_card_no(entry)
        if number.isdigit():
            numbers.append(number)
        else:
            plates.append(normalize_plate(entry))
    by_number: dict[str, str] = {}
    by_plate: dict[str, list[str]] = {}
    for card_no, plate in bound_cards_named(user, card_nos=numbers, plates=plates):
        by_number[card_no] = plate
        by_plate.setdefault(plate, []).append(card_no)
    found: list[str] = []
    errors: list[str] = []
    for line, entry in entries:
        number = normalize_card_no(entry)
        if number.isdigit():
            if number in by_number:
                hits = [number]
            elif len(number) != 20:
                errors.append(
                    gettext("第 %(line)s 行：“%(entry)s”不是完整的卡号（卡号为20位数字）。")
                    % {"line": line, "entry": entry}
                )
                continue
            else:
                hits = []
        else:
            hits = by_plate.get(normalize_plate(entry), [])
        if not hits:
            errors.append(
                gettext("第 %(line)s 行：“%(entry)s”不是本账户已绑定的ETC卡。") % {"line": line, "entry": entry}
            )
        elif len(hits) > 1:
            errors.append(
                ngettext(
                    "第 %(line)s 行：车牌“%(entry)s”对应本账户的 %(n)s 张ETC卡，请改填卡号。",
                    "第 %(line)s 行：车牌“%(entry)s”对应本账户的 %(n)s 张ETC卡，请改填卡号。",
                    len(hits),
                )
                % {"line": line, "entry": entry, "n": len(hits)}
            )
        elif hits[0] not in found:
            found.append(hits[0])
    return found, errors


# --- 发票查验, the public verification page ---------------------------------------------------

VAT, FISCAL, DIGITAL = verification.VAT, verification.FISCAL, verification.DIGITAL


def _kind_attrs(kinds: tuple[str, ...], **by_kind) -> dict:
    """The data attributes verify.js reads: which kinds use the field, and per kind its label
    and placeholder (``label_fiscal_e_bill=…``)."""
    attrs = {"data-kinds": " ".join(kinds)}
    for key, value in by_kind.items():
        what, kind = key.split("_", 1)
        attrs[f"data-{what}-{kind}"] = value
    return attrs


class VerifyForm(forms.Form):
    # Formats are checked by verification.parse, once for the page and the API alike.
    document_kind = forms.ChoiceField(
        label=_("票据种类"),
        required=False,
        choices=[
            (VAT, _("增值税电子普通发票（通行费）")),
            (FISCAL, _("通行费财政电子票据")),
            (DIGITAL, _("电子发票（普通发票，数电）")),
        ],
        initial=VAT,
        widget=forms.RadioSelect(attrs={"data-verify-kind": "1"}),
        help_text=_("输入号码后会按位数自动识别：8 位为增值税电子普通发票，10 位为财政电子票据，20 位为数电发票。"),
    )
    number = forms.CharField(
        label=_("发票号码"),
        required=False,
        max_length=24,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "placeholder": _("8 位"),
                "data-verify-number": "1",
                **_kind_attrs(
                    (VAT, FISCAL, DIGITAL),
                    label_vat_e_invoice=_("发票号码"),
                    label_fiscal_e_bill=_("票据号码"),
                    label_digital_e_invoice=_("发票号码"),
                    placeholder_vat_e_invoice=_("8 位"),
                    placeholder_fiscal_e_bill=_("10 位"),
                    placeholder_digital_e_invoice=_("20 位"),
                ),
            }
        ),
    )
    code = forms.CharField(
        label=_("发票代码"),
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "placeholder": _("12 位"),
                **_kind_attrs(
                    (VAT, FISCAL),
                    label_vat_e_invoice=_("发票代码"),
                    label_fiscal_e_bill=_("票据代码"),
                    placeholder_vat_e_invoice=_("12 位"),
                    placeholder_fiscal_e_bill=_("8 位"),
                ),
            }
        ),
        help_text=_("数电发票没有发票代码，不用填。"),
    )
    # A text field, not a date picker: the accountant types the date printed on the invoice, and
    # a browser's date input would not take the 8 digits the hint offers.
    date = forms.CharField(
        label=_("开票日期"),
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("例如 20261105")}
        ),
        help_text=_("YYYYMMDD 或 YYYY-MM-DD，例如 20261105 或 2026-11-05"),
    )
    check = forms.CharField(
        label=_("校验码后 6 位"),
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "none",
                "placeholder": _("6 位"),
                **_kind_attrs(
                    (VAT, FISCAL),
                    label_vat_e_invoice=_("校验码后 6 位"),
                    label_fiscal_e_bill=_("校验码"),
                ),
            }
        ),
        help_text=_(
            "增值税电子普通发票：校验码的后 6 位数字；财政电子票据：6 位校验码（数字和字母）。数电发票不用填。"
        ),
    )
    total = forms.CharField(
        label=_("价税合计（元）"),
        required=False,
        max_length=24,
        widget=forms.TextInput(
            attrs={
                "inputmode": "decimal",
                "autocomplete": "off",
                "placeholder": _("例如 97.33"),
                **_kind_attrs((DIGITAL,)),
            }
        ),
        help_text=_("数电发票：按票面的价税合计填写，例如 97.33；红字发票为负数，例如 -97.33。"),
    )

    def params(self) -> dict[str, str]:
        names = ("document_kind", "code", "number", "date", "check", "total")
        data = {name: (self.cleaned_data.get(name) or "").strip() for name in names}
        data["date"] = compact_date(data["date"])
        data["total"] = plain_amount(data["total"])
        # A number of 8, 10 or 20 digits is of one kind only: it decides over the choice left as
        # it was (the page opens on the VAT e-invoice).
        by_length = verification.KIND_OF_NUMBER_LENGTH.get(len(data["number"]))
        if by_length and data["number"].isascii() and data["number"].isdigit():
            data["document_kind"] = by_length
        kind = data["document_kind"] or verification.kind_of(data)
        data["document_kind"] = kind
        # Only the chosen kind's fields: a value left in a field the kind does not use is not read.
        unused = {VAT: ("total",), FISCAL: ("total",), DIGITAL: ("code", "check")}.get(kind, ())
        for name in unused:
            data[name] = ""
        return data


# 2026-11-05, 2026/11/05, 2026.11.05, 2026年11月5日: the ways a person writes the printed date.
SEPARATED_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
DATE_ERROR = _("请按 YYYYMMDD 或 YYYY-MM-DD 填写开票日期，例如 20261105 或 2026-11-05。")
# ¥97.33, ￥ 1,097.33, －97.33: the ways a printed total is copied.
AMOUNT_NOISE = re.compile(r"[\s¥￥,，]")
MINUS_SIGNS = str.maketrans({"－": "-", "−": "-", "﹣": "-", "．": "."})


def plain_amount(value: str) -> str:
    """The yuan amount verification takes (``-97.33``), from the ways a person copies it: with a
    currency sign, thousands separators, a full-width minus or point."""
    return AMOUNT_NOISE.sub("", value.translate(MINUS_SIGNS))


def compact_date(value: str) -> str:
    """The YYYYMMDD that verification takes, from any of the ways the page accepts; anything
    else unchanged, for verification to refuse."""
    found = SEPARATED_DATE.fullmatch(value)
    if found:
        year, month, day = found.groups()
        return f"{year}{int(month):02d}{int(day):02d}"
    return value
