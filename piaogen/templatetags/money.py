"""Rendering of amounts: fen (integers) become yuan only here, at the edge."""

from django import template

register = template.Library()


def fen_to_yuan(value) -> str:
    if value is None or value == "":
        return ""
    fen = int(value)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


@register.filter
def yuan(value) -> str:
    """12345 → '123.45'; -9733 → '-97.33'."""
    return fen_to_yuan(value)
