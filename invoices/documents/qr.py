"""The QR code printed on an invoice, as inline SVG (so the renderer fetches nothing).

Its text follows the layout of the QR codes on real VAT e-invoices, comma-separated:
``01,14,<code>,<number>,<amount>,<issue date YYYYMMDD>,<check code>,<checksum>,`` where
``01`` is the layout version, ``14`` the invoice type (增值税电子普通发票（通行费）, the toll
e-invoice: every invoice this platform issues, taxable or 不征税, is one; ``10`` would be the
ordinary VAT e-invoice), the amount is the total before tax in yuan, and the checksum four hex
digits of a CRC-32 of what precedes it, so that a scanner can tell a damaged reading from a
real one.

Documents rendered before the type was corrected carry ``10``; they are stored once and never
rendered again on their own, so ``parse`` still reads them, and says which type it read.
"""

from __future__ import annotations

import zlib
from datetime import date

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from .capitals import yuan

VERSION = "01"
KIND_TOLL_E_ORDINARY = "14"  # 增值税电子普通发票（通行费）
KIND_E_ORDINARY = "10"  # 增值税电子普通发票: what documents rendered before carried
KINDS = (KIND_TOLL_E_ORDINARY, KIND_E_ORDINARY)


def payload(*, code: str, number: str, total_net: int, issued_on: date, check_code: str) -> str:
    head = ",".join(
        [VERSION, KIND_TOLL_E_ORDINARY, code, number, yuan(total_net), issued_on.strftime("%Y%m%d"), check_code]
    )
    checksum = f"{zlib.crc32(head.encode()) & 0xFFFF:04X}"
    return f"{head},{checksum},"


def parse(text: str) -> dict | None:
    """The fields of a scanned payload, or None when it is not one of ours or is damaged."""
    parts = text.split(",")
    if len(parts) != 9 or parts[0] != VERSION or parts[1] not in KINDS or parts[8] != "":
        return None
    head = ",".join(parts[:7])
    if f"{zlib.crc32(head.encode()) & 0xFFFF:04X}" != parts[7]:
        return None
    return {
        "kind": parts[1],
        "code": parts[2],
        "number": parts[3],
        "amount": parts[4],
        "date": parts[5],
        "check_code": parts[6],
    }


def svg(text: str, *, size_mm: float = 20) -> str:
    """A QR code as an ``<svg>`` element: one path, one rectangle run per row of dark modules."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm}mm" height="{size_mm}mm" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><path fill="#000" d="{"".join(runs)}"/></svg>'
    )
