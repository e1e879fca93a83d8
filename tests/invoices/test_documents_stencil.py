"""One-page documents drawn on their shape's stencil (invoices/documents/stencil.py) are the
documents WeasyPrint lays out in full: the same text at the same places, the same QR code, the
same metadata, fonts embedded; what cannot be drawn on a stencil (a value that would wrap,
销货清单 pages) is laid out in full."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date

import pypdf
import pytest
import qrcode
from django.template.loader import render_to_string
from qrcode.constants import ERROR_CORRECT_M

from invoices.documents import layout, qr, rendering, stencil
from invoices.documents.capitals import capitals, yuan
from invoices.documents.layout import LINE_AREA_ROWS, LINE_HEIGHT_MM, PrintedInvoice, PrintedLine

pytestmark = pytest.mark.documents

KINDS = ["vat_e_invoice", "fiscal_e_bill", "digital_e_invoice"]


def printed(kind: str, *, n: int = 1, lines: int = 1, **fields) -> PrintedInvoice:
    """A document of ``kind``, its values varied by ``n`` (number, amounts, dates)."""
    fiscal = kind == "fiscal_e_bill"
    net = 9450 + 137 * n
    tax = 0 if fiscal else round(net * 0.03)
    rows = [
        PrintedLine(
            item=layout.FISCAL_ITEM if fiscal else layout.TOLL_ITEM,
            plate="豫A12345",
            vehicle_class="客车",
            date_from=f"202609{d + n % 20:02d}",
            date_to=f"202609{d + n % 20:02d}",
            net=yuan(net),
            rate="不征税" if fiscal else "3%",
            tax=layout.NO_TAX if fiscal else yuan(tax),
            net_fen=net,
            tax_fen=tax,
            rate_percent=None if fiscal else 3,
        )
        for d in range(1, lines + 1)
    ]
    total_net, total_tax = net * lines, tax * lines
    number = f"{n:08d}" if kind == "vat_e_invoice" else f"{n:010d}" if fiscal else f"264110000000{n:08d}"
    code = {"vat_e_invoice": "041002600112", "fiscal_e_bill": "41029926"}.get(kind, "")
    issued = date(2026, 9, 1 + n % 28)
    text = qr.payload_for(
        kind, code=code, number=number, total_net=total_net, total=total_net + total_tax, issued_on=issued,
        check_code="19671742565944063622",
    )  # fmt: skip
    doc = PrintedInvoice(
        title={"fiscal_e_bill": layout.FISCAL_TITLE, "digital_e_invoice": layout.DIGITAL_TITLE}.get(
            kind, "河南增值税电子普通发票"
        ),
        toll_mark="" if fiscal else "通行费",
        kind="non_taxable" if fiscal else "taxable",
        kind_label="不征税" if fiscal else "征税",
        red=False,
        code=code,
        number=number,
        issued_on=issued.strftime("%Y年%m月%d日"),
        issued_on_iso=issued.isoformat(),
        check_code="19671742565944063622",
        check_code_groups="19671 74256 59440 63622",
        machine_no="" if kind != "vat_e_invoice" else "410000000001",
        buyer_name="演示科技有限公司",
        buyer_tax_id="91110000MA01DEM005",
        buyer_address_phone="北京市海淀区演示路1号 010-12345678",
        buyer_bank_account="演示银行北京分行 6222000000000001",
        seller_name="甲高速公司",
        seller_tax_id="9141000017000001AC",
        seller_address_phone="郑州市演示大道1号 0371-12345678",
        seller_bank_account="演示银行郑州分行 6222000000000002",
        lines=rows,
        total_net=yuan(total_net),
        total_tax=layout.NO_TAX if fiscal else yuan(total_tax),
        total=yuan(total_net + total_tax),
        total_capitals=capitals(total_net + total_tax),
        total_net_fen=total_net,
        total_tax_fen=total_tax,
        total_fen=total_net + total_tax,
        remarks="",
        payee="系统",
        reviewer="系统",
        drawer="票根平台",
        original_code="",
        original_number="",
        qr_text=text,
        demo=True,
        qr_svg=qr.svg(text),
        filler_mm=round(max(0, LINE_AREA_ROWS - lines) * LINE_HEIGHT_MM, 1),
        document_kind=kind,
        header=layout.FISCAL_HEADER if fiscal else "",
    )
    doc = replace(doc, **fields)
    doc.list_pages = layout.list_pages(rows, taxable=not fiscal)
    return doc


def html_of(doc: PrintedInvoice) -> str:
    return render_to_string(layout.template_name(doc.document_kind), {"inv": doc})


def _widths(font) -> dict[int, float]:
    """A CID font's glyph widths from its /W array."""
    widths: dict[int, float] = {}
    w = list(font["/DescendantFonts"][0].get_object().get("/W", []))
    i = 0
    while i < len(w):
        first, nxt = int(w[i]), w[i + 1]
        if isinstance(nxt, list) or hasattr(nxt, "__iter__"):
            for k, width in enumerate(nxt):
                widths[first + k] = float(width)
            i += 2
        else:
            for gid in range(first, int(nxt) + 1):
                widths[gid] = float(w[i + 2])
            i += 3
    return widths


def placed_glyphs(data: bytes) -> list[tuple]:
    """Every glyph of every page: (page, font, glyph id, x, y, fill colour), in PDF points,
    read from the content streams (the text matrix, the CTM through q/Q/cm, TJ spacing)."""
    from pypdf.generic import ContentStream

    reader = pypdf.PdfReader(io.BytesIO(data))
    out = []
    for number, page in enumerate(reader.pages):
        fonts = {name: f.get_object() for name, f in page["/Resources"]["/Font"].items()}
        widths = {name: _widths(f) for name, f in fonts.items()}
        ctm, stack = [1, 0, 0, 1, 0, 0], []
        tm, font, size, colour = [1, 0, 0, 1, 0, 0], None, 0, ()

        def mul(m, n):
            return [
                m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3], m[2] * n[0] + m[3] * n[2],
                m[2] * n[1] + m[3] * n[3], m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5],
            ]  # fmt: skip

        for operands, op in ContentStream(page.get_contents(), reader).operations:
            if op == b"q":
                stack.append((ctm, colour))
            elif op == b"Q":
                ctm, colour = stack.pop()
            elif op == b"cm":
                ctm = mul([float(v) for v in operands], ctm)
            elif op == b"rg":
                colour = tuple(round(float(v), 3) for v in operands)
            elif op == b"BT":
                tm = [1, 0, 0, 1, 0, 0]
            elif op == b"Tm":
                tm = [float(v) for v in operands]
            elif op == b"Tf":
                font, size = operands[0], float(operands[1])
            elif op in (b"TJ", b"Tj"):
                items = operands[0] if op == b"TJ" else [operands[0]]
                for item in items:
                    if isinstance(item, (int, float)) or hasattr(item, "as_numeric"):
                        tm[4] -= float(item) / 1000 * size * tm[0]
                        continue
                    raw = item.original_bytes if hasattr(item, "original_bytes") else bytes(item)
                    for k in range(0, len(raw), 2):
                        gid = raw[k] * 256 + raw[k + 1]
                        x, y = mul([1, 0, 0, 1, tm[4], tm[5]], ctm)[4:]  # the glyph's origin
                        base = str(fonts[font]["/BaseFont"]).split("+")[-1]
                        out.append((number, base, gid, round(x, 1), round(y, 1), round(size * tm[0], 2), colour))
                        tm[4] += widths[font].get(gid, 0) / 1000 * size * tm[0]
    return sorted(out)


def qr_modules(data: bytes) -> set[tuple[int, int]]:
    """The dark modules of the QR code the stencil fills (rectangles after ``0 0 0 rg``)."""
    content = pypdf.PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data().decode("latin-1")
    block = re.search(r"q\n0 0 0 rg\n(.*?)\nf\nQ", content, re.S)
    assert block, content[:2000]
    rects = [tuple(map(float, r)) for r in re.findall(r"(\S+) (\S+) (\S+) (\S+) re", block.group(1))]
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    unit = min(r[3] for r in rects)
    modules = set()
    for x, y, w, _h in rects:
        for i in range(round(w / unit)):
            modules.add((round((y - y0) / unit), round((x - x0) / unit) + i))
    return modules


def matrix_modules(text: str) -> set[tuple[int, int]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return {(r, c) for r, row in enumerate(code.get_matrix()) for c, dark in enumerate(row) if dark}


@pytest.fixture
def fresh():
    stencil.clear()
    yield stencil.stats
    stencil.clear()


def on_stencil(html: str, stats) -> bytes:
    before = stats["stencil"]
    pdf = rendering.invoice_html_to_pdf(html)
    assert stats["stencil"] == before + 1, stats  # drawn on the stencil, not laid out in full
    return pdf


# Values that change what the stencil must do: widths (right-aligned amounts, centred dates),
# Latin-only and CJK-only names (other line metrics), an empty value, a red document, 3 lines.
VARIANTS = {
    "other values": dict(n=7),
    "wider amounts and another buyer": dict(n=93, buyer_name="Demo Trading Co., Ltd.", buyer_bank_account=""),
    "a CJK-only address": dict(n=11, buyer_address_phone="北京市海淀区中关村大街甲一号院"),
    "three lines": dict(n=5, lines=3),
    "red with a remark": dict(n=3, red=True, remarks="对应正数发票代码:041002600112 号码:00000001"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_document_on_its_stencil_is_the_full_layout_text_for_text(kind, variant, fresh):
    fields = VARIANTS[variant]
    # the first of its shape makes the stencil; the second is drawn on it
    rendering.invoice_html_to_pdf(html_of(printed(kind, **(fields | {"n": 1}))))
    doc = printed(kind, **fields)
    html = html_of(doc)
    pdf = on_stencil(html, fresh)
    full = rendering.html_to_pdf(html)
    assert placed_glyphs(pdf) == placed_glyphs(full)
    assert qr_modules(pdf) == matrix_modules(doc.qr_text)
    ours, theirs = pypdf.PdfReader(io.BytesIO(pdf)), pypdf.PdfReader(io.BytesIO(full))
    assert ours.metadata == theirs.metadata and ours.metadata["/Title"].endswith(doc.number)
    assert len(ours.pages) == 1 and ours.pages[0].mediabox == theirs.pages[0].mediabox
    fonts = [f.get_object() for f in ours.pages[0]["/Resources"]["/Font"].values()]
    for font in fonts:  # each file embeds its own subsets
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor and re.match(r"/[A-Z]{6}\+", font["/BaseFont"])
    assert sorted(str(f["/BaseFont"]).split("+")[-1] for f in fonts) == ["DejaVu-Sans", "Droid-Sans-Fallback"]
    assert len(pdf) <= 40 * 1024
    for value in (doc.number, doc.buyer_name, doc.total, doc.total_capitals, doc.issued_on):
        assert value in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text(), value


def test_what_follows_a_value_on_its_line_moves_with_it(fresh):
    """On the 数电 invoice the buyer's bank account follows the address on the remarks line."""
    rendering.invoice_html_to_pdf(html_of(printed("digital_e_invoice", n=1)))
    doc = printed("digital_e_invoice", n=2, buyer_address_phone="上海市 021-1")
    html = html_of(doc)
    pdf = on_stencil(html, fresh)
    assert placed_glyphs(pdf) == placed_glyphs(rendering.html_to_pdf(html))
    assert "购买方开户银行及账号" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize("kind", KINDS)
def test_a_value_that_would_wrap_is_laid_out_in_full(kind, fresh):
    rendering.invoice_html_to_pdf(html_of(printed(kind, n=1)))
    doc = printed(kind, n=2, buyer_name="演示" * 60)
    html = html_of(doc)
    before = dict(fresh)
    pdf = rendering.invoice_html_to_pdf(html)
    assert fresh["stencil"] == before["stencil"] and fresh["full"] > before["full"]
    assert pdf == rendering.html_to_pdf(html) or placed_glyphs(pdf) == placed_glyphs(rendering.html_to_pdf(html))
    assert "演示演示演示" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize("kind", KINDS)
def test_list_pages_are_laid_out_in_full(kind, fresh):
    doc = printed(kind, n=4, lines=9)
    pdf = rendering.invoice_html_to_pdf(html_of(doc))
    assert fresh["stencil"] == 0 and fresh["full"] == 1
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 2 and "第 1 页 共 1 页" in pages[1].extract_text()


def test_a_long_value_in_a_narrow_cell_is_part_of_the_stencil(fresh):
    """The fiscal e-bill's 收款单位 takes two lines in the footer: it is painted with the form,
    and a stencil is kept per seller."""
    name = "演示河南中原高速公路股份有限公司"
    rendering.invoice_html_to_pdf(html_of(printed("fiscal_e_bill", n=1, seller_name=name)))
    doc = printed("fiscal_e_bill", n=2, seller_name=name)
    html = html_of(doc)
    pdf = on_stencil(html, fresh)
    assert placed_glyphs(pdf) == placed_glyphs(rendering.html_to_pdf(html))
    other = html_of(printed("fiscal_e_bill", n=3, seller_name="乙还贷中心"))
    built = fresh["built"]
    assert placed_glyphs(rendering.invoice_html_to_pdf(other)) == placed_glyphs(rendering.html_to_pdf(other))
    assert fresh["built"] == built + 1  # another seller, another stencil


def test_stencils_are_kept_within_bounds(fresh, monkeypatch):
    monkeypatch.setattr(stencil, "MAX_STENCILS", 2)
    for region in ("河南", "河北", "山东", "江苏"):
        rendering.invoice_html_to_pdf(html_of(printed("vat_e_invoice", n=1, title=f"{region}增值税电子普通发票")))
    assert fresh["built"] == 4 and len(stencil._families) == 2


def test_the_url_fetcher_refuses_on_the_stencil_path_too():
    with pytest.raises(rendering.DocumentError, match="outside resource"):
        rendering.invoice_html_to_pdf('<p><span data-slot="a">x</span><img src="file:///etc/passwd"></p>')
