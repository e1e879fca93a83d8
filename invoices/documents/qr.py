"""The QR code printed on a document, as inline SVG (so the renderer fetches nothing), and its
text, which differs by kind of document (docs/regimes.md, Documents per kind).

- **VAT e-invoice** (增值税电子普通发票（通行费）), as on real VAT e-invoices, comma-separated:
  ``01,14,<code>,<number>,<amount>,<issue date YYYYMMDD>,<check code>,<checksum>,`` where ``01``
  is the layout version, ``14`` the invoice type (the toll e-invoice: every VAT invoice this
  platform issues, taxable or 不征税, is one; ``10`` would be the ordinary VAT e-invoice), the
  amount is the total before tax in yuan. Documents rendered before the type was corrected carry
  ``10``; they are stored once and never rendered again on their own, so ``parse`` still reads
  them, and says which type it read.
- **数电 invoice** (电子发票（普通发票）), in the shape the QR codes of 数电 invoices have:
  ``01,32,,<number>,<amount>,<issue date YYYYMMDD>,,<checksum>``: type ``32``, the code and
  check code fields left empty (a 数电 invoice has neither), no trailing comma. The amount is
  the 价税合计, the figure a 数电 invoice is verified by together with its number and date.
- **Fiscal e-bill** (通行费财政电子票据): a payload of the platform's own design, in the same
  shape as the VAT one so that one parser reads both: ``01,CZ,<code>,<number>,<amount>,
  <issue date YYYYMMDD>,<check code>,<checksum>,``. ``CZ`` (财政) is not a tax-invoice type
  (those are two digits), so a tax scanner never takes a fiscal e-bill for a tax invoice; the
  amount is the total (a fiscal e-bill has no tax), the check code the bill's six characters:
  code, number, date and check code are what a fiscal e-bill is verified by.

Every payload ends with a checksum: four hex digits of a CRC-32 of what precedes it, so that a
scanner can tell a damaged reading from a real one.
"""

from __future__ import annotations

import zlib
from datetime import date

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from ..regimes import DocumentKind
from .capitals import yuan

VERSION = "01"
KIND_TOLL_E_ORDINARY = "14"  # 增值税电子普通发票（通行费）
KIND_E_ORDINARY = "10"  # 增值税电子普通发票: what documents rendered before carried
KIND_DIGITAL_ORDINARY = "32"  # 电子发票（普通发票）: a 数电 invoice
KIND_FISCAL_E_BILL = "CZ"  # 通行费财政电子票据: the platform's own type (not a tax-invoice type)
KINDS = (KIND_TOLL_E_ORDINARY, KIND_E_ORDINARY, KIND_FISCAL_E_BILL)  # the 9-field layouts
TYPE_OF_KIND = {
    DocumentKind.VAT_E_INVOICE: KIND_TOLL_E_ORDINARY,
    DocumentKind.FISCAL_E_BILL: KIND_FISCAL_E_BILL,
    DocumentKind.DIGITAL_E_INVOICE: KIND_DIGITAL_ORDINARY,
}


def _checksum(head: str) -> str:
    return f"{zlib.crc32(head.encode()) & 0xFFFF:04X}"


def payload(*, code: str, number: str, total_net: int, issued_on: date, check_code: str) -> str:
    """The payload of a VAT e-invoice (type 14)."""
    head = ",".join(
        [VERSION, KIND_TOLL_E_ORDINARY, code, number, yuan(total_net), issued_on.strftime("%Y%m%d"), check_code]
    )
    return f"{head},{_checksum(head)},"


def fiscal_payload(*, code: str, number: str, total: int, issued_on: date, check_code: str) -> str:
    """The payload of a fiscal e-bill (type CZ, the platform's own)."""
    head = ",".join([VERSION, KIND_FISCAL_E_BILL, code, number, yuan(total), issued_on.strftime("%Y%m%d"), check_code])
    return f"{head},{_checksum(head)},"


def digital_payload(*, number: str, total: int, issued_on: date) -> str:
    """The payload of a 数电 invoice (type 32): no code, no check code; the amount is 价税合计."""
    head = ",".join([VERSION, KIND_DIGITAL_ORDINARY, "", number, yuan(total), issued_on.strftime("%Y%m%d"), ""])
    return f"{head},{_checksum(head)}"


def payload_for(
    document_kind: str, *, code: str, number: str, total_net: int, total: int, issued_on: date, check_code: str
) -> str:
    """The payload of a document of ``document_kind``."""
    if document_kind == DocumentKind.FISCAL_E_BILL:
        return fiscal_payload(code=code, number=number, total=total, issued_on=issued_on, check_code=check_code)
    if document_kind == DocumentKind.DIGITAL_E_INVOICE:
        return digital_payload(number=number, total=total, issued_on=issued_on)
    return payload(code=code, number=number, total_net=total_net, issued_on=issued_on, check_code=check_code)


def parse(text: str) -> dict | None:
    """The fields of a scanned payload, or None when it is not one of ours or is damaged.
    ``kind`` is the type field as read (``14``, ``10``, ``CZ`` or ``32``)."""
    parts = text.split(",")
    if len(parts) == 8 and parts[:2] == [VERSION, KIND_DIGITAL_ORDINARY] and parts[2] == parts[6] == "":
        head = ",".join(parts[:7])
        if _checksum(head) != parts[7]:
            return None
    elif len(parts) == 9 and parts[0] == VERSION and parts[1] in KINDS and parts[8] == "":
        head = ",".join(parts[:7])
        if _checksum(head) != parts[7]:
            return None
    else:
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
