"""How the pages name a kind of document and its fields (``{% load document_kinds %}``)."""

from django import template

from invoices import selectors

register = template.Library()


@register.filter
def kind_short(kind: str) -> str:
    """The short name of a kind of document: 增值税电子普通发票 / 通行费财政电子票据 / 数电发票."""
    return selectors.document_kind_short(kind)


@register.filter
def check_code_groups(code: str) -> str:
    """A 20-digit check code in four groups of five, as printed; other codes as they are."""
    if len(code) == 20 and code.isdigit():
        return " ".join(code[i : i + 5] for i in range(0, 20, 5))
    return code
