"""Forms of the invoicing pages: they shape what a person sent; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Application

MAX_PICKED = 500  # ticks on one page (a page lists 50 trips); the services cap lists at 5000


class ApplyForm(forms.Form):
    """我要开票 and its confirmation step. The scope is the button pressed: 只开所选 (the ticked
    trips, and only those) or 整月开票 (every open trip of the month); nothing else decides it."""

    STEPS = ("preview", "confirm", "edit")

    card = forms.CharField(max_length=32)
    kind = forms.ChoiceField(
        choices=[(Application.Kind.CONSUMPTION, "consumption"), (Application.Kind.RECHARGE, "recharge")],
        required=False,
    )
    month = forms.CharField(max_length=7, required=False)
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("month", "month")], required=False)
    mode = forms.ChoiceField(choices=Application.Mode.choices, required=False)
    title_id = forms.IntegerField(
        min_value=1,
        max_value=2**62,
        error_messages={"required": _("请选择发票抬头。"), "invalid": _("请选择发票抬头。")},
    )
    email = forms.EmailField(required=False, max_length=254, error_messages={"invalid": _("邮箱地址格式不正确。")})
    plan_digest = forms.CharField(required=False, max_length=64)
    step = forms.ChoiceField(choices=[(s, s) for s in STEPS], required=False)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.transit_ids = [t[:64] for t in data.getlist("transit_ids")[:MAX_PICKED]]
        self.recharge_ids = [r[:64] for r in data.getlist("recharge_ids")[:MAX_PICKED]]

    @property
    def first_error(self) -> str:
        for errors in self.errors.values():
            return str(errors[0])
        return ""

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
