"""Amounts as printed on an invoice: figures in yuan and 大写 (Chinese capitals).

Pure functions on integers in fen. The capitals come from cn2an's ``rmb`` mode (97.33 →
玖拾柒元叁角叁分, 100.00 → 壹佰元整, 100.05 → 壹佰元零伍分); a negative amount, as on a
red-letter invoice, is printed with the prefix （负数）.
"""

from __future__ import annotations

import cn2an

NEGATIVE = "（负数）"


def yuan(fen: int) -> str:
    """9733 → '97.33', -9733 → '-97.33', 5 → '0.05': no thousands separators, as invoices print."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def capitals(fen: int) -> str:
    """9733 → '玖拾柒元叁角叁分'; 10000 → '壹佰元整'; -9733 → '（负数）玖拾柒元叁角叁分'."""
    fen = int(fen)
    words = cn2an.an2cn(yuan(abs(fen)), "rmb")
    return f"{NEGATIVE}{words}" if fen < 0 else words
