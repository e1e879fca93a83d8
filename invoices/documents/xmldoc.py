"""The XML twin of a document: the same fields as the PDF, from the same ``PrintedInvoice``,
one element set per kind of document (docs/regimes.md, Documents per kind):

- VAT e-invoice: ``<TollInvoice xmlns="urn:piaogen:toll-invoice:1">``, unchanged since it was
  first published;
- fiscal e-bill: ``<TollFiscalEBill xmlns="urn:piaogen:toll-fiscal-e-bill:1">``: 票据代码,
  票据号码, 校验码, 交款人 (``Payer``), 收款单位 (``PayeeUnit``), lines with one amount and no
  rate or tax, ``Total``, no machine number;
- 数电 invoice: ``<TollDigitalInvoice xmlns="urn:piaogen:toll-digital-invoice:1">``: the
  20-digit number alone (no code, check code or machine number), the special business
  (``SpecialBusiness``, 通行费), buyer and seller by name and 统一社会信用代码/纳税人识别号, lines
  with rate and tax, and on a red-letter invoice the original's number and the 红字发票信息确认单
  number.

Amounts appear as printed (yuan, two decimals, negative on a red-letter document) with the
exact amount in fen in a ``fen`` attribute, for machines. The document describes itself as
issued; its later status (reversed) is answered by verification, not written here.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, indent, tostring

from ..regimes import DocumentKind
from .layout import PrintedInvoice

NAMESPACE = "urn:piaogen:toll-invoice:1"
FISCAL_NAMESPACE = "urn:piaogen:toll-fiscal-e-bill:1"
DIGITAL_NAMESPACE = "urn:piaogen:toll-digital-invoice:1"
DEMO = "演示数据 非真实票据"


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
    """The XML of a document of any kind."""
    if p.document_kind == DocumentKind.FISCAL_E_BILL:
        return fiscal_e_bill_xml(p)
    if p.document_kind == DocumentKind.DIGITAL_E_INVOICE:
        return digital_invoice_xml(p)
    return vat_invoice_xml(p)


def _lines(root: Element, p: PrintedInvoice, *, taxed: bool) -> None:
    """The lines and the totals: with net, rate and tax for an invoice (``taxed``), with the
    amount alone for a fiscal e-bill."""
    lines = SubElement(root, "Lines")
    for seq, line in enumerate(p.lines, start=1):
        el = SubElement(lines, "Line", {"seq": str(seq)})
        _text(el, "Item", line.item)
        _text(el, "Plate", line.plate)
        _text(el, "VehicleClass", line.vehicle_class)
        _text(el, "DateFrom", line.date_from)
        _text(el, "DateTo", line.date_to)
        if taxed:
            _text(el, "Net", line.net, fen=line.net_fen)
            _text(el, "Rate", line.rate, percent="" if line.rate_percent is None else line.rate_percent)
            _text(el, "Tax", line.tax, fen=line.tax_fen)
        else:
            _text(el, "Amount", line.net, fen=line.net_fen)
    if taxed:
        _text(root, "TotalNet", p.total_net, fen=p.total_net_fen)
        _text(root, "TotalTax", p.total_tax, fen=p.total_tax_fen)
    _text(root, "Total", p.total, fen=p.total_fen)
    _text(root, "TotalInCapitals", p.total_capitals)


def _bytes(root: Element) -> bytes:
    indent(root)
    return tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def fiscal_e_bill_xml(p: PrintedInvoice) -> bytes:
    root = Element("TollFiscalEBill", {"xmlns": FISCAL_NAMESPACE, "version": "1.0"})
    _text(root, "Title", p.title)
    _text(root, "BillCode", p.code)
    _text(root, "BillNumber", p.number)
    _text(root, "CheckCode", p.check_code)
    _text(root, "IssueDate", p.issued_on_iso)
    _text(root, "Red", "true" if p.red else "false")
    payer = SubElement(root, "Payer")
    _text(payer, "Name", p.buyer_name)
    _text(payer, "CreditCode", p.buyer_tax_id)
    payee_unit = SubElement(root, "PayeeUnit")
    _text(payee_unit, "Name", p.seller_name)
    _text(payee_unit, "CreditCode", p.seller_tax_id)
    _lines(root, p, taxed=False)
    _text(root, "Remarks", p.remarks)
    if p.red:
        original = SubElement(root, "Original")
        _text(original, "BillCode", p.original_code)
        _text(original, "BillNumber", p.original_number)
    _text(root, "Collector", p.payee)
    _text(root, "Reviewer", p.reviewer)
    _text(root, "QRCode", p.qr_text)
    if p.demo:
        _text(root, "Demo", DEMO)
    return _bytes(root)


def digital_invoice_xml(p: PrintedInvoice) -> bytes:
    root = Element("TollDigitalInvoice", {"xmlns": DIGITAL_NAMESPACE, "version": "1.0"})
    _text(root, "Title", p.title)
    _text(root, "Number", p.number)
    _text(root, "IssueDate", p.issued_on_iso)
    _text(root, "SpecialBusiness", p.toll_mark)
    _text(root, "Kind", p.kind, label=p.kind_label)
    _text(root, "Red", "true" if p.red else "false")
    for tag, name, tax_id, address_phone, bank_account in (
        ("Buyer", p.buyer_name, p.buyer_tax_id, p.buyer_address_phone, p.buyer_bank_account),
        ("Seller", p.seller_name, p.seller_tax_id, p.seller_address_phone, p.seller_bank_account),
    ):
        party = SubElement(root, tag)
        _text(party, "Name", name)
        _text(party, "TaxId", tax_id)
        if address_phone:
            _text(party, "AddressPhone", address_phone)
        if bank_account:
            _text(party, "BankAccount", bank_account)
    _lines(root, p, taxed=True)
    _text(root, "Remarks", p.remarks)
    if p.red:
        original = SubElement(root, "Original")
        _text(original, "Number", p.original_number)
        _text(original, "RedConfirmationNumber", p.red_confirmation_no)
    _text(root, "Drawer", p.drawer)
    _text(root, "QRCode", p.qr_text)
    if p.demo:
        _text(root, "Demo", "演示数据 非真实发票")
    return _bytes(root)


def vat_invoice_xml(p: PrintedInvoice) -> bytes:
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
    _lines(root, p, taxed=True)
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
    return _bytes(root)
