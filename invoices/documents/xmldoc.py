"""The XML twin of an invoice: the same fields as the PDF, from the same ``PrintedInvoice``.

Amounts appear as printed (yuan, two decimals, negative on a red-letter invoice) with the
exact amount in fen in a ``fen`` attribute, for machines. The document describes the invoice
as issued; its later status (reversed) is answered by verification, not written here.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, indent, tostring

from .layout import PrintedInvoice

NAMESPACE = "urn:piaogen:toll-invoice:1"


def _text(parent: Element, tag: str, value: str, **attrs) -> Element:
    el = SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    el.text = value
    return el


def _party(parent: Element, tag: str, name: str, tax_id: str, address_phone: str, bank_account: str) -> None:
    party = SubElement(parent, tag)
    _text(party, "Name", name)
    _text(party, "TaxId", tax_id)
    _text(party, "AddressPhone", address_phone)
    _text(party, "BankAccount", bank_account)


def invoice_xml(p: PrintedInvoice) -> bytes:
    root = Element("TollInvoice", {"xmlns": NAMESPACE, "version": "1.0"})
    _text(root, "Title", p.title)
    _text(root, "Code", p.code)
    _text(root, "Number", p.number)
    _text(root, "IssueDate", p.issued_on_iso)
    _text(root, "CheckCode", p.check_code)
    _text(root, "MachineNo", p.machine_no)
    _text(root, "Kind", p.kind, label=p.kind_label)
    _text(root, "TollMark", p.toll_mark)
    _text(root, "Red", "true" if p.red else "false")
    _party(root, "Buyer", p.buyer_name, p.buyer_tax_id, p.buyer_address_phone, p.buyer_bank_account)
    _party(root, "Seller", p.seller_name, p.seller_tax_id, p.seller_address_phone, p.seller_bank_account)
    lines = SubElement(root, "Lines")
    for seq, line in enumerate(p.lines, start=1):
        el = SubElement(lines, "Line", {"seq": str(seq)})
        _text(el, "Item", line.item)
        _text(el, "Plate", line.plate)
        _text(el, "VehicleClass", line.vehicle_class)
        _text(el, "DateFrom", line.date_from)
        _text(el, "DateTo", line.date_to)
        _text(el, "Net", line.net, fen=line.net_fen)
        _text(el, "Rate", line.rate, percent="" if line.rate_percent is None else line.rate_percent)
        _text(el, "Tax", line.tax, fen=line.tax_fen)
    _text(root, "TotalNet", p.total_net, fen=p.total_net_fen)
    _text(root, "TotalTax", p.total_tax, fen=p.total_tax_fen)
    _text(root, "Total", p.total, fen=p.total_fen)
    _text(root, "TotalInCapitals", p.total_capitals)
    _text(root, "Remarks", p.remarks)
    if p.red:
        original = SubElement(root, "Original")
        _text(original, "Code", p.original_code)
        _text(original, "Number", p.original_number)
    _text(root, "Payee", p.payee)
    _text(root, "Reviewer", p.reviewer)
    _text(root, "Drawer", p.drawer)
    _text(root, "QRCode", p.qr_text)
    if p.demo:
        _text(root, "Demo", "演示数据 非真实发票")
    indent(root)
    return tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
