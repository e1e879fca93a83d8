"""Invoice PDFs: milliseconds and kilobytes per invoice, and the render worker's memory, for the
font set-up the product uses against the alternatives it was chosen over.

    .venv/bin/python bench/render_pdf.py [--n 200] [--lines 1] [--kind vat_e_invoice] [--variants ours,...]

Every variant renders the product's own template of the kind of document asked for (``--kind``:
``vat_e_invoice``, the default, invoices/documents/invoice.html; ``fiscal_e_bill``;
``digital_e_invoice``; see ``invoices.documents.layout.TEMPLATES``).
Every variant renders the same ``VARIETY`` distinct documents in turn (numbers, amounts, dates,
buyers with Chinese or Latin names), so that the stencil's per-document work is measured on
values that change. Timing: all variants in one process, interleaved render by render (a busy machine then slows
them alike), ``n`` renders each after a warm-up: median and p90 wall milliseconds, median CPU
milliseconds, median KB and the fonts embedded. Memory: each variant alone in a fresh process,
``n`` renders (timing stops at 500; a large ``n`` is for memory): the first render's milliseconds (fontconfig and the FontConfiguration warming up)
and the process's RSS before, after the first render and after the last. One JSON line a variant.

Variants:
- ``ours``: what the render worker does (``rendering.invoice_html_to_pdf``): a one-page
  document drawn on its shape's stencil (``invoices.documents.stencil``: the form laid out once
  per process, only the values shaped and drawn per document), anything else laid out in full;
  DejaVu Sans + Droid Sans Fallback (TrueType), one FontConfiguration per process, HarfBuzz
  subsetting, the URL fetcher that refuses everything;
- ``ours-full-layout``: the same fonts and settings, every document laid out in full
  (``rendering.html_to_pdf``, what the worker did before stencils);
- ``ours-new-fontconfig``: the same fonts, a new FontConfiguration for every invoice;
- ``noto-default``: plain WeasyPrint defaults (``HTML(string=…).write_pdf()``, a new
  FontConfiguration each time) with Noto Sans CJK SC, the OpenType/CFF collection of Debian's
  fonts-noto-cjk (skipped when it is not installed; the product never needs it);
- ``noto-shared-fontconfig``: Noto Sans CJK SC with our shared FontConfiguration;
- ``no-harfbuzz-subset``: ours with WeasyPrint's HarfBuzz subsetter switched off, i.e. what a
  machine without libharfbuzz-subset0 does (fontTools); at most 3 renders, it is that slow.

It needs no database. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

VARIANTS = [
    "ours",
    "ours-full-layout",
    "ours-new-fontconfig",
    "noto-default",
    "noto-shared-fontconfig",
    "no-harfbuzz-subset",
]
TIMING_MAX = 500  # renders per variant for the timing figures: enough for a median; --n beyond it feeds memory only
OUR_FONTS = '"DejaVu Sans", "Droid Sans Fallback"'
NOTO_FONTS = '"DejaVu Sans", "Noto Sans CJK SC"'


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


BUYERS = ["演示科技有限公司", "Demo Trading Co., Ltd.", "演示物流（河南）有限公司", "演示建设集团有限公司"]
VARIETY = 50  # distinct documents a variant renders in turn: numbers, amounts, dates and buyers differ


def invoice_html(lines: int, kind: str = "vat_e_invoice", seq: int = 0) -> str:
    from django.template.loader import render_to_string

    from invoices.documents import layout, qr
    from invoices.documents.capitals import capitals, yuan
    from invoices.documents.layout import LINE_AREA_ROWS, LINE_HEIGHT_MM, PrintedInvoice, PrintedLine

    printed_lines = [
        PrintedLine(
            item="*经营租赁*通行费",
            plate="豫A12345",
            vehicle_class="客车",
            date_from=f"202609{(d + seq) % 28 + 1:02d}",
            date_to=f"202609{(d + seq) % 28 + 1:02d}",
            net=yuan(9450 + 37 * seq),
            rate="3%",
            tax=yuan(round((9450 + 37 * seq) * 0.03)),
            net_fen=9450 + 37 * seq,
            tax_fen=round((9450 + 37 * seq) * 0.03),
            rate_percent=3,
        )
        for d in range(1, lines + 1)
    ]
    total_net, total_tax = (9450 + 37 * seq) * lines, round((9450 + 37 * seq) * 0.03) * lines
    text = qr.payload(
        code="041002600112",
        number=f"{seq + 1:08d}",
        total_net=total_net,
        issued_on=date(2026, 9, 15),
        check_code="19671742565944063622",
    )
    printed = PrintedInvoice(
        title="河南增值税电子普通发票",
        toll_mark="通行费",
        kind="taxable",
        kind_label="征税",
        red=False,
        code="041002600112",
        number=f"{seq + 1:08d}",
        issued_on="2026年09月15日",
        issued_on_iso="2026-09-15",
        check_code="19671742565944063622",
        check_code_groups="19671 74256 59440 63622",
        machine_no="410000000001",
        buyer_name=BUYERS[seq % len(BUYERS)],
        buyer_tax_id="91110000MA01DEM005",
        buyer_address_phone="北京市海淀区演示路1号 010-12345678",
        buyer_bank_account="演示银行北京分行 6222000000000001",
        seller_name="演示河南中原高速公路股份有限公司",
        seller_tax_id="9141000017000001AC",
        seller_address_phone="郑州市演示大道1号 0371-12345678",
        seller_bank_account="演示银行郑州分行 6222000000000002",
        lines=printed_lines,
        total_net=yuan(total_net),
        total_tax=yuan(total_tax),
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
    )
    if kind == "fiscal_e_bill":  # 不征税, no tax, the fiscal e-bill's numbering and payload
        for line in printed_lines:
            line.item, line.rate, line.tax, line.tax_fen, line.rate_percent = "车辆通行费", "不征税", "***", 0, None
        total_tax = 0
        printed.title, printed.toll_mark, printed.header = layout.FISCAL_TITLE, "", layout.FISCAL_HEADER
        printed.code, printed.number, printed.check_code = "41029926", f"{seq + 1:010d}", "a1b2c3"
        printed.machine_no = ""
        printed.total_tax, printed.total_tax_fen = layout.NO_TAX, 0
        printed.total, printed.total_fen = yuan(total_net), total_net
        printed.total_capitals = capitals(total_net)
        printed.qr_text = qr.fiscal_payload(
            code="41029926", number=printed.number, total=total_net, issued_on=date(2026, 9, 15), check_code="a1b2c3"
        )
    elif kind == "digital_e_invoice":
        printed.title, printed.code, printed.number = layout.DIGITAL_TITLE, "", f"264110000000{seq + 1:08d}"
        printed.check_code = printed.check_code_groups = printed.machine_no = ""
        printed.qr_text = qr.digital_payload(
            number=printed.number, total=total_net + total_tax, issued_on=date(2026, 9, 15)
        )
    elif kind != "vat_e_invoice":
        raise SystemExit(f"unknown kind {kind}")
    printed.document_kind = kind
    printed.qr_svg = qr.svg(printed.qr_text)
    printed.list_pages = layout.list_pages(printed_lines, taxable=kind != "fiscal_e_bill")
    html = render_to_string(layout.template_name(kind), {"inv": printed})
    assert OUR_FONTS in html, "the template's font stack changed: update the bench"
    return html


def embedded_fonts(pdf: bytes) -> list[str]:
    try:
        import io

        import pypdf
    except ImportError:
        return []
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return sorted(
        str(f.get_object()["/BaseFont"]).split("+")[-1] for f in reader.pages[0]["/Resources"]["/Font"].values()
    )


def renderer(variant: str, htmls: list[str]):
    """The render function of a variant: each call renders the next of ``htmls`` (fonts swapped
    for Noto in the Noto variants)."""
    import itertools

    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from invoices.documents import rendering

    if variant.startswith("noto"):
        htmls = [html.replace(OUR_FONTS, NOTO_FONTS) for html in htmls]
    turn = itertools.cycle(htmls)
    if variant == "ours":  # what the render worker does: the shape's stencil, else a full layout
        return lambda: rendering.invoice_html_to_pdf(next(turn))
    if variant in ("ours-full-layout", "noto-shared-fontconfig", "no-harfbuzz-subset"):
        return lambda: rendering.html_to_pdf(next(turn))
    if variant == "ours-new-fontconfig":
        return lambda: HTML(string=next(turn), url_fetcher=rendering._refusing_fetcher()).write_pdf(
            font_config=FontConfiguration()
        )
    if variant == "noto-default":
        return lambda: HTML(string=next(turn)).write_pdf()
    raise SystemExit(f"unknown variant {variant}")


def noto_installed() -> bool:
    return "Noto Sans CJK" in subprocess.run(["fc-list", ":family"], capture_output=True, text=True).stdout


def timing(variants: list[str], n: int, lines: int, kind: str = "vat_e_invoice") -> list[dict]:
    """Every variant in one process, interleaved render by render, so that a busy machine slows
    them all alike; wall and CPU milliseconds."""
    common.setup_django()
    htmls = [invoice_html(lines, kind, seq) for seq in range(VARIETY)]
    render = {v: renderer(v, htmls) for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    sizes: dict[str, list[float]] = {v: [] for v in variants}
    last: dict[str, bytes] = {}
    for v in variants:  # warm-up: fontconfig, the shared FontConfiguration, Python imports
        render[v]()
    for _ in range(n):
        for v in variants:
            started, started_cpu = time.perf_counter(), time.process_time()
            pdf = render[v]()
            wall[v].append((time.perf_counter() - started) * 1000)
            cpu[v].append((time.process_time() - started_cpu) * 1000)
            sizes[v].append(len(pdf) / 1024)
            last[v] = pdf
    return [
        {
            "variant": v,
            "kind": kind,
            "renders": n,
            "lines": lines,
            "median_ms": round(common.median(wall[v]), 1),
            "p90_ms": round(common.percentile(wall[v], 90), 1),
            "median_cpu_ms": round(common.median(cpu[v]), 1),
            "mean_cpu_ms": round(sum(cpu[v]) / len(cpu[v]), 1),
            "median_kb": round(common.median(sizes[v]), 1),
            "fonts": embedded_fonts(last[v]),
        }
        for v in variants
    ]


def memory(variant: str, n: int, lines: int, kind: str = "vat_e_invoice") -> dict:
    """One variant alone in a fresh process: the first render, and RSS before, after the first
    render and after the last."""
    common.setup_django()
    if variant == "no-harfbuzz-subset":
        import weasyprint.pdf.fonts

        weasyprint.pdf.fonts.harfbuzz_subset = None  # what a machine without libharfbuzz-subset0 does
        n = min(n, 3)
    render = renderer(variant, [invoice_html(lines, kind, seq) for seq in range(VARIETY)])
    rss_before = rss_mb()
    times, pdf, rss_after_first = [], b"", 0.0
    for i in range(n):
        started = time.perf_counter()
        pdf = render()
        times.append((time.perf_counter() - started) * 1000)
        if i == 0:
            rss_after_first = rss_mb()
    out = {
        "variant": variant,
        "renders": n,
        "first_ms": round(times[0], 1),
        "rss_mb_before": rss_before,
        "rss_mb_after_first": rss_after_first,
        "rss_mb_after_last": rss_mb(),
    }
    if variant == "no-harfbuzz-subset":
        out |= {
            "median_ms": round(common.median(times), 1),
            "median_kb": round(len(pdf) / 1024, 1),
            "fonts": embedded_fonts(pdf),
        }
    return out


def _child(args: list[str]) -> list[dict]:
    out = subprocess.run([common.PY, __file__, *args], capture_output=True, text=True, env=common.bench_env())
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="renders per variant (default 200)")
    parser.add_argument("--lines", type=int, default=1, help="lines per invoice (monthly invoices have one per trip)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--kind", default="vat_e_invoice", choices=["vat_e_invoice", "fiscal_e_bill", "digital_e_invoice"]
    )
    parser.add_argument("--child", choices=["timing", "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if args.child == "timing":
        print(json.dumps(timing(variants, args.n, args.lines, args.kind), ensure_ascii=False), flush=True)
        return
    if args.child == "memory":
        print(json.dumps([memory(variants[0], args.n, args.lines, args.kind)], ensure_ascii=False), flush=True)
        return
    if not noto_installed():
        skipped = [v for v in variants if v.startswith("noto")]
        variants = [v for v in variants if v not in skipped]
        for v in skipped:
            common.report("render_pdf", variant=v, skipped="fonts-noto-cjk is not installed")
    context = {"load_before": round(os.getloadavg()[0], 2)}
    timed = [v for v in variants if v != "no-harfbuzz-subset"]
    figures = (
        {
            f["variant"]: f
            for f in _child(
                [
                    "--child",
                    "timing",
                    "--n",
                    str(min(args.n, TIMING_MAX)),
                    "--lines",
                    str(args.lines),
                    "--kind",
                    args.kind,
                    "--variants",
                    ",".join(timed),
                ]
            )
        }
        if timed
        else {}
    )
    for v in variants:
        mem = _child(
            ["--child", "memory", "--n", str(args.n), "--lines", str(args.lines), "--kind", args.kind, "--variants", v]
        )[0]
        common.report("render_pdf", **(figures.get(v, {}) | mem), **context, load_after=round(os.getloadavg()[0], 2))


if __name__ == "__main__":
    main()
