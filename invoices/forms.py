"""Forms of the invoicing pages: they shape what a person sent; the services decide."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cards.identity import normalize_card_no, normalize_plate
from cards.selectors import bound_cards_named

from .batches import MAX_CARDS
from .models import Application

MAX_PICKED = 500  # ticks on one page (a page lists 50 trips); the services cap lists at 5000


class ConfirmStepForm(forms.Form):
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

    @property
    def first_error(self) -> str:
        for errors in [self.non_field_errors(), *self.errors.values()]:
            if errors:
                return str(errors[0])
        return ""

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
