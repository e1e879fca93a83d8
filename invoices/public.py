"""The public verification page (发票查验), for a company's accountant holding an invoice: the
same rules as ``GET /api/v1/verify`` (invoices/verification.py), no account needed."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from . import verification


class VerifyForm(forms.Form):
    # Formats are checked by verification.parse, once for the page and the API alike.
    code = forms.CharField(
        label=_("发票代码"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("12 位")}),
    )
    number = forms.CharField(
        label=_("发票号码"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("8 位")}),
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
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("6 位")}),
    )

    def params(self) -> dict[str, str]:
        data = {name: (self.cleaned_data.get(name) or "").strip() for name in ("code", "number", "date", "check")}
        data["date"] = compact_date(data["date"])
        return data


# 2026-11-05, 2026/11/05, 2026.11.05, 2026年11月5日: the ways a person writes the printed date.
SEPARATED_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
DATE_ERROR = _("请按 YYYYMMDD 或 YYYY-MM-DD 填写开票日期，例如 20261105 或 2026-11-05。")


def compact_date(value: str) -> str:
    """The YYYYMMDD that verification takes, from any of the ways the page accepts; anything
    else unchanged, for verification to refuse."""
    found = SEPARATED_DATE.fullmatch(value)
    if found:
        year, month, day = found.groups()
        return f"{year}{int(month):02d}{int(day):02d}"
    return value


class VerifyPageView(TemplateView):
    template_name = "invoices/verify.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if "form" not in ctx:  # a link may carry code, number and date (YYYYMMDD) to fill in
            initial = {k: self.request.GET.get(k, "")[:20] for k in ("code", "number", "date")}
            day = initial["date"]
            if len(day) == 8 and day.isascii() and day.isdigit():
                initial["date"] = f"{day[:4]}-{day[4:6]}-{day[6:]}"  # what a date input shows
            ctx["form"] = VerifyForm(initial=initial)
        ctx["max_checks"] = verification.max_per_client()
        ctx["max_total"] = verification.max_per_invoice()
        return ctx

    def post(self, request):
        form = VerifyForm(request.POST)
        if not form.is_valid():  # only a value longer than any real one
            return self.render_to_response(self.get_context_data(form=form))
        outcome = verification.check_request(request, self, form.params(), user=request.user)
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
