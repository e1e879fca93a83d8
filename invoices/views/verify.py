"""The public verification page (发票查验), for a company's accountant holding an invoice: the
same rules as ``GET /api/v1/verify`` (invoices/verification.py), no account needed.

The person chooses the kind of document (票据种类) or lets the number say it: a number of 8, 10
or 20 digits belongs to one kind only, so it decides the kind on the server (with or without
scripts), and ``verify.js`` switches the choice and the fields as soon as it is typed. Every
field is in the page; the script shows only the chosen kind's, with that kind's labels (票据代码
for a fiscal e-bill); without scripts a person sees them all, each hint naming its kinds."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from .. import verification
from ..regimes import DocumentKind

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


class VerifyPageView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "invoices/verify.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if "form" not in ctx:  # a link may carry the kind, code, number and date (YYYYMMDD) to fill in
            initial = {k: self.request.GET.get(k, "")[:24] for k in ("document_kind", "code", "number", "date")}
            day = initial["date"]
            if len(day) == 8 and day.isascii() and day.isdigit():
                initial["date"] = f"{day[:4]}-{day[4:6]}-{day[6:]}"  # what a date input shows
            if initial["document_kind"] not in DocumentKind.values:
                initial["document_kind"] = verification.KIND_OF_NUMBER_LENGTH.get(len(initial["number"]), VAT)
            ctx["form"] = VerifyForm(initial=initial)
        ctx["max_checks"] = verification.max_per_client()
        ctx["max_total"] = verification.max_per_invoice()
        return ctx

    def post(self, request):
        form = VerifyForm(request.POST)
        if not form.is_valid():  # only a value longer than any real one
            return self.render_to_response(self.get_context_data(form=form))
        params = form.params()
        if form.data.get("document_kind") != params["document_kind"]:
            # the number said the kind: the form shows it chosen (and its fields) with the answer
            form.data = form.data.copy()
            form.data["document_kind"] = params["document_kind"]
        outcome = verification.check_request(request, self, params, user=request.user)
        if outcome.client_wait is not None:
            response = self.render_to_response(
                self.get_context_data(form=form, outcome=outcome, client_limited=True), status=429
            )
            response["Retry-After"] = str(outcome.client_wait)
            return response
        for name, messages in outcome.errors.items():
            for message in messages:
                form.add_error(name, DATE_ERROR if name == "date" else message)  # the page takes both forms
        status = {verification.MALFORMED: 400, verification.TOO_MANY: 429}.get(outcome.result, 200)
        return self.render_to_response(self.get_context_data(form=form, outcome=outcome), status=status)
