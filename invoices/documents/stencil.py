"""One-page documents drawn from a form laid out once: WeasyPrint lays out and paints the form of
a document shape once per process (a *stencil*), and each document of that shape costs only its
own values, shaped and drawn by WeasyPrint's text code into a copy of the form's page.

Why (docs/performance.md, Documents): most of the ~95 ms an invoice cost was WeasyPrint laying
out and painting the same form again and again (the CSS cascade, the bordered table, the
labels); the values are a few dozen short strings.

How it stays the same document:

- The templates wrap every printed value in ``<span data-slot="name">``: an unstyled span,
  which changes nothing in WeasyPrint's layout; the full render and the stencil read the same
  HTML. The HTML with those values (and the QR code's modules, the title and the metadata)
  blanked is the document's *shape*: the key of its stencil.
- A stencil is made by a full WeasyPrint layout of the first document of its shape. Its page is
  painted once with the values and the QR code left out; where each was painted, a marker is
  kept, and the text box that held the value is kept as the prototype of its style and place.
- A document of a known shape: each value is shaped by WeasyPrint (``split_first_line``, with
  the prototype's computed style) and drawn by WeasyPrint's ``draw_text`` at the marker, moved
  only by its alignment (left, right or centred in its cell); the QR code's modules are filled
  where the SVG was drawn. The page then goes through WeasyPrint's own PDF writer, which embeds
  the font subsets of exactly the glyphs this document uses.
- Layout depends on a value only through its line's metrics and whether it fits: the stencil is
  chosen by shape *and* by the height and baseline of every value (a value whose fonts make its
  line taller gets a stencil of its own), and a value that would not fit on its one line, a
  shape that lays out on more than one page (销货清单, long details), or a page painted with
  anything beyond text, rules and the QR code, is rendered in full by WeasyPrint instead
  (``None`` here). Tests compare both paths glyph by glyph (tests/invoices/test_documents_stencil.py).

Stencils are kept per process, at most ``MAX_STENCILS`` (least recently used go first).
"""

from __future__ import annotations

import copy
import hashlib
import html as html_lib
import re
from collections import OrderedDict
from dataclasses import dataclass, field

SLOT_RE = re.compile(r'<span data-slot="([^"]+)"([^>]*)>([^<]*)</span>')
QR_PATH_RE = re.compile(r'(<svg [^>]*viewBox="0 0 (\d+) \2"[^>]*><path fill="#000" d=")([^"]*)(")')
QR_RUN_RE = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\d+z")
# What differs between documents of one shape and is not laid out on the first page: the
# metadata (title, author, description) and the top-right margin text of pages after the first.
UNLAID_RE = re.compile(r"<title>[^<]*</title>|<meta name=\"\w+\" content=\"[^\"]*\">|content: \"[^\"]*\";")
TITLE_RE = re.compile(r"<title>([^<]*)</title>")
META_RE = re.compile(r'<meta name="(author|description)" content="([^"]*)">')
LANG_RE = re.compile(r'<html lang="([^"]*)"')

MAX_STENCILS = 64
MAX_PER_SHAPE = 16
# A value is drawn on the stencil only if it ends at least this far (CSS px) inside its cell.
FIT_MARGIN = 0.5
SCALE = 0.75  # PDF points per CSS pixel, as WeasyPrint writes at zoom 1
SLOT_MARK = b"%%slot %d"  # a PDF comment: "%slot 3"
SLOT_PREFIX = b"%slot "
SHIFT_PREFIX = b"%shift "
SHIFT_END = b"%end shift"
QR_MARK = b"%%qr"


LIST_PAGE = '<section class="list">'


class NotStencilable(Exception):
    """This shape is laid out by WeasyPrint in full, every time. ``document``: the full layout
    when one was made."""

    def __init__(self, reason: str, document=None):
        super().__init__(reason)
        self.document = document


@dataclass
class Slot:
    name: str
    prototype: object  # the TextBox that held the value (None: the value was empty)
    offset_x: float = 0
    text_overflow: str = "clip"
    block_ellipsis: str = "none"
    align: str = "left"  # how the value moves when its width changes: left, right, center
    left: float = 0  # the room of its line, in CSS px from the page's left
    right: float = 0
    metrics: tuple = ()  # height and baseline of the value on its own (``_shape``)
    line: int = 0  # which line of the page holds it
    line_end: float = 0  # where that line's content ends, CSS px
    before: list = field(default_factory=list)  # the values before it on its line
    # A value that takes more than its one line (a long seller name in a narrow cell) is painted
    # with the form: its text is then part of the stencil's key.
    fixed: bool = False


@dataclass
class Stencil:
    ops: list  # the page's content stream operators, with markers for slots and the QR code
    slots: dict[str, Slot]
    fonts: list  # (font key, Font) the form paints with, glyphs and widths of the form included
    width: float
    height: float
    bleed: dict
    qr_box: tuple | None  # x, y, width, height of the QR code's SVG, CSS px
    states: dict  # the graphics states (opacity) the operators name
    metrics: tuple = ()
    uses: int = 0


@dataclass
class _Family:
    """The stencils of one shape, one per combination of the values' line metrics."""

    by_metrics: dict = field(default_factory=dict)
    refused: str = ""  # why the shape cannot have a stencil


_families: OrderedDict[str, _Family] = OrderedDict()
stats = {"stencil": 0, "full": 0, "built": 0}


def clear() -> None:
    _families.clear()
    for key in stats:
        stats[key] = 0


def split(html: str) -> tuple[str, dict[str, str], str]:
    """The shape key of ``html``, its values by slot name (as printed, unescaped), and the QR
    code's path."""
    values: dict[str, str] = {}

    def blank(match):
        name, attrs, text = match.groups()
        if name in values:
            raise NotStencilable(f"slot {name} appears twice")
        values[name] = html_lib.unescape(text)
        return f'<span data-slot="{name}"{attrs}></span>'

    skeleton = SLOT_RE.sub(blank, html)
    qr_path = ""
    match = QR_PATH_RE.search(skeleton)
    if match:
        qr_path = match.group(3)
        skeleton = skeleton[: match.start(3)] + skeleton[match.end(3) :]
    skeleton = UNLAID_RE.sub("", skeleton)
    return hashlib.sha1(skeleton.encode()).hexdigest(), values, qr_path


def metadata_of(html: str):
    from weasyprint.pdf.metadata import DocumentMetadata

    head = html.split("<body", 1)[0]
    title = TITLE_RE.search(head)
    meta = {name: html_lib.unescape(content) for name, content in META_RE.findall(head)}
    lang = LANG_RE.search(head)
    return DocumentMetadata(
        title=html_lib.unescape(title.group(1)) if title else None,
        authors=[meta["author"]] if "author" in meta else [],
        description=meta.get("description"),
        lang=lang.group(1) if lang else None,
    )


def _plain(text: str) -> bool:
    """A value WeasyPrint prints as it is: no whitespace to collapse or strip."""
    return text == text.strip() and "  " not in text and not any(c in text for c in "\t\n\r\f\xa0")


# --- making a stencil --------------------------------------------------------------------------


def _walk(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(child)


def _containing_block(page_box, target):
    """The block container whose line holds ``target``, and the line box."""
    from weasyprint.formatting_structure import boxes

    def visit(box, block, line):
        if box is target:
            return block, line
        if isinstance(box, boxes.LineBox):
            line = box
        elif isinstance(box, boxes.BlockContainerBox):
            block = box
        for child in getattr(box, "children", ()):
            found = visit(child, block, line)
            if found:
                return found
        return None

    return visit(page_box, None, None)


def build(html: str, values: dict[str, str], font_config, url_fetcher) -> Stencil:
    """Lays out ``html`` in full and keeps its page as a stencil (NotStencilable when it
    cannot be one)."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=None, url_fetcher=url_fetcher).render(font_config=font_config)
    try:
        return _stencil_of(document, values)
    except NotStencilable as exc:
        exc.document = document
        raise


def _stencil_of(document, values: dict[str, str]) -> Stencil:
    import pydyf
    from weasyprint import draw as weasy_draw
    from weasyprint.formatting_structure import boxes
    from weasyprint.pdf.stream import Stream

    if len(document.pages) != 1:
        raise NotStencilable(f"{len(document.pages)} pages")
    page = document.pages[0]
    page_box = page._page_box

    fragments: dict[str, list] = {}
    qr_boxes = []
    for box in _walk(page_box):
        element = getattr(box, "element", None)
        if element is None:
            continue
        if isinstance(box, boxes.InlineBox) and element.get("data-slot") is not None:
            fragments.setdefault(element.get("data-slot"), []).append(box)
        elif isinstance(box, boxes.InlineReplacedBox) and element.tag.endswith("svg"):
            qr_boxes.append(box)
    if set(fragments) != set(values):
        raise NotStencilable("slots laid out differ from the slots printed")
    if len(qr_boxes) > 1:
        raise NotStencilable("more than one QR code")

    slots: dict[str, Slot] = {}
    by_box: dict[int, str] = {}
    lines: dict[int, object] = {}
    for name, found in fragments.items():
        children = found[0].children
        if len(found) != 1 or len(children) > 1:
            slots[name] = Slot(name, None, fixed=True)
            continue
        if not values[name]:
            if children:
                raise NotStencilable(f"empty slot {name} laid out with content")
            slots[name] = Slot(name, None)
            continue
        if len(children) != 1 or not isinstance(children[0], boxes.TextBox):
            raise NotStencilable(f"slot {name} holds more than its text")
        text_box = children[0]
        if text_box.text != values[name] or not _plain(values[name]):
            raise NotStencilable(f"slot {name} printed as {text_box.text!r}")
        block, line = _containing_block(page_box, text_box)
        style = block.style
        align = style["text_align_all"]
        align = {"start": "left", "justify": "left", "end": "right"}.get(align, align)
        if style["direction"] != "ltr" or align not in ("left", "right", "center"):
            raise NotStencilable(f"slot {name} aligned {align}")
        if align != "left" and [c for c in line.children if c is not found[0]]:
            raise NotStencilable(f"slot {name} shares an aligned line")
        left = block.content_box_x()
        right = left + block.width
        if style["white_space"] in ("nowrap", "pre"):
            right = float("inf")  # WeasyPrint never wraps it: it may run over, as in full
        alone = _shape(text_box, values[name])
        if alone is None or abs(alone.width - text_box.width) > 1e-3:
            raise NotStencilable(f"slot {name} shaped alone differs from its layout")
        slots[name] = Slot(name, text_box, align=align, left=left, right=right, metrics=_metrics(alone), line=id(line))
        by_box[id(text_box)] = name
        lines[id(line)] = line

    # On a line, what follows a value moves with the value's width: it is painted between shift
    # markers naming the values before it.
    followers: dict[int, list[str]] = {}
    for line in lines.values():
        leaves = list(_leaves(line))
        line_end = max((leaf.position_x + leaf.width for leaf in leaves), default=0)
        before: list[str] = []
        for leaf in leaves:
            name = by_box.get(id(leaf))
            if name is not None:
                slots[name].before, slots[name].line_end = list(before), line_end
                before.append(name)
            elif before:
                if not isinstance(leaf, boxes.TextBox):
                    raise NotStencilable("a box other than text follows a value on its line")
                followers[id(leaf)] = list(before)

    # Paint the page with the values and the QR code left out, a marker where each was.
    order = list(slots)
    qr = [None]
    real_draw_text, real_draw_replacedbox = weasy_draw.draw_text, weasy_draw.draw_replacedbox

    def draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis="none"):
        name = by_box.get(id(textbox))
        if name is None:
            shifted = followers.get(id(textbox))
            if shifted is None:
                return real_draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis)
            stream.stream.append(SHIFT_PREFIX + ",".join(str(order.index(n)) for n in shifted).encode())
            real_draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis)
            stream.stream.append(SHIFT_END)
            return None
        slot = slots[name]
        slot.offset_x, slot.text_overflow, slot.block_ellipsis = offset_x, text_overflow, block_ellipsis
        stream.stream.append(SLOT_MARK % order.index(name))

    def draw_replacedbox(stream, box):
        if qr_boxes and box is qr_boxes[0]:
            qr[0] = (box.content_box_x(), box.content_box_y(), box.width, box.height)
            stream.stream.append(QR_MARK)
            return None
        return real_draw_replacedbox(stream, box)

    resources = pydyf.Dictionary(
        {
            "ExtGState": pydyf.Dictionary(),
            "XObject": pydyf.Dictionary(),
            "Pattern": pydyf.Dictionary(),
            "Shading": pydyf.Dictionary(),
        }
    )
    fonts: dict = {}
    images: dict = {}
    stream = Stream(fonts, (0, 0, page.width, page.height), resources, images, None, {}, None, compress=True)
    weasy_draw.draw_text, weasy_draw.draw_replacedbox = draw_text, draw_replacedbox
    try:
        page.paint(stream, SCALE)
    finally:
        weasy_draw.draw_text, weasy_draw.draw_replacedbox = real_draw_text, real_draw_replacedbox
    if images or any(resources[key] for key in ("XObject", "Pattern", "Shading")):
        raise NotStencilable(f"the page paints more than text and rules: {images} {dict(resources)}")
    if qr_boxes and qr[0] is None:
        raise NotStencilable("the QR code was not painted")
    drawn = [op for op in stream.stream if op.startswith(SLOT_PREFIX)]
    if len(drawn) != sum(1 for s in slots.values() if s.prototype is not None):
        raise NotStencilable("a value was not painted")
    return Stencil(
        ops=list(stream.stream),
        slots=slots,
        fonts=list(fonts.items()),
        states=dict(resources["ExtGState"]),
        width=page.width,
        height=page.height,
        bleed=dict(page.bleed),
        qr_box=qr[0],
        metrics=_key(slots, values),
    )


def _key(slots: dict[str, Slot], values: dict[str, str], shaped: dict | None = None) -> tuple:
    """Which stencil of a shape draws these values: the fixed values' texts, the others' metrics."""
    if shaped is None:
        return tuple(("=", values[n]) if s.fixed else s.metrics for n, s in slots.items())
    return tuple(("=", values[n]) if s.fixed else _metrics(shaped[n][1]) for n, s in slots.items())


def _metrics(shaped) -> tuple:
    if shaped is None:
        return ()
    return (round(shaped.height, 3), round(shaped.baseline, 3))


# --- drawing a document on a stencil ---------------------------------------------------------------


@dataclass
class _Shaped:
    layout: object
    width: float
    height: float
    baseline: float


def _shape(prototype, text: str) -> _Shaped | None:
    """The value laid out on one line with the prototype's style; None when it would break."""
    from weasyprint.text.line_break import split_first_line

    layout, _length, resume_index, width, height, baseline = split_first_line(
        text, prototype.style, None, None, prototype.justification_spacing
    )
    if resume_index is not None:
        return None
    return _Shaped(layout, width, height, baseline)


def _leaves(box):
    from weasyprint.formatting_structure import boxes

    for child in box.children:
        if isinstance(child, boxes.InlineBox):
            yield from _leaves(child)
        else:
            yield child


def _deltas(stencil: Stencil, shaped: dict) -> dict[str, float]:
    """How much wider than on the stencil each left-aligned value is (what follows it moves)."""
    return {
        name: shaped[name][1].width - slot.prototype.width
        for name, slot in stencil.slots.items()
        if slot.align == "left" and slot.prototype is not None and shaped[name][1] is not None
    }


def _draw_value(page_stream, slot: Slot, text: str, shaped: _Shaped, moved: float) -> list:
    from weasyprint.draw.text import draw_text

    proto = slot.prototype
    box = proto.copy_with_text(text)
    # the same line metrics as the prototype (``_fits``): its height and baseline in the line stay
    box.pango_layout, box.width = shaped.layout, shaped.width
    shift = moved
    if slot.align == "right":
        shift = proto.width - shaped.width
    elif slot.align == "center":
        shift = (proto.width - shaped.width) / 2
    box.position_x = proto.position_x + shift
    mini = page_stream.clone()
    draw_text(mini, box, slot.offset_x + shift, slot.text_overflow, slot.block_ellipsis)
    return [b"q", *mini.stream, b"Q"] if mini.stream else []


def _qr_ops(qr_box, qr_path: str, modules: int) -> list:
    x, y, width, height = qr_box
    unit_x, unit_y = width / modules, height / modules
    rects = [
        f"{x + int(c) * unit_x:.4f} {y + int(r) * unit_y:.4f} {int(n) * unit_x:.4f} {unit_y:.4f} re"
        for c, r, n in QR_RUN_RE.findall(qr_path)
    ]
    if not rects:
        return []
    return [b"q", b"0 0 0 rg", "\n".join(rects).encode(), b"f", b"Q"]


class _StencilPage:
    """A page for WeasyPrint's PDF writer: the stencil's operators with this document's values."""

    def __init__(self, stencil: Stencil, values: dict[str, tuple[str, _Shaped]], qr_path: str, modules: int):
        self.width, self.height, self.bleed = stencil.width, stencil.height, stencil.bleed
        self.bookmarks, self.links, self.anchors, self.forms = [], [], {}, {None: []}
        self._stencil, self._values, self._qr = stencil, values, (qr_path, modules)

    def paint(self, stream, scale=1):
        stencil = self._stencil
        for key, font in stencil.fonts:  # the form's glyphs, in this document's fonts
            own = copy.copy(font)
            own.widths, own.to_unicode, own.missing = dict(font.widths), dict(font.to_unicode), dict(font.missing)
            stream._fonts[key] = own
        for name, state in stencil.states.items():
            stream._resources["ExtGState"].setdefault(name, copy.deepcopy(state))
        names = list(stencil.slots)
        deltas = _deltas(stencil, self._values)
        out = stream.stream
        for op in stencil.ops:
            if op.startswith(SLOT_PREFIX):
                slot = stencil.slots[names[int(op[len(SLOT_PREFIX) :])]]
                text, shaped = self._values[slot.name]
                moved = sum(deltas.get(n, 0) for n in slot.before)
                out.extend(_draw_value(stream, slot, text, shaped, moved))
            elif op.startswith(SHIFT_PREFIX):
                moved = sum(deltas.get(names[int(i)], 0) for i in op[len(SHIFT_PREFIX) :].split(b","))
                out.extend([b"q", f"1 0 0 1 {moved:f} 0 cm".encode()])
            elif op == SHIFT_END:
                out.append(b"Q")
            elif op == QR_MARK:
                out.extend(_qr_ops(stencil.qr_box, *self._qr))
            else:
                out.append(op)


def render(html: str, *, font_config, url_fetcher) -> bytes | None:
    """The PDF of a one-page document drawn on its shape's stencil, or None when it must be laid
    out in full (see the module's docstring). Call with the rendering lock held."""
    from weasyprint.document import Document

    if LIST_PAGE in html:  # 销货清单 pages follow the form: never one page
        stats["full"] += 1
        return None
    try:
        key, values, qr_path = split(html)
    except NotStencilable:
        stats["full"] += 1
        return None
    family = _families.get(key)
    if family is not None and family.refused:
        _families.move_to_end(key)
        stats["full"] += 1
        return None
    stencil = None
    if family is not None and family.by_metrics:
        known = next(iter(family.by_metrics.values()))
        shaped = _shape_all(known, values)
        if shaped is None:
            stats["full"] += 1
            return None
        stencil = family.by_metrics.get(_key(known.slots, values, shaped))
    if stencil is None:
        try:
            stencil = build(html, values, font_config, url_fetcher)
        except NotStencilable as exc:
            if family is None or not family.by_metrics:
                _remember(key, _Family(refused=str(exc)))
            stats["full"] += 1
            # the full layout is made: write it rather than lay the document out again
            return exc.document.write_pdf() if exc.document is not None else None
        stats["built"] += 1
        family = family or _Family()
        family.by_metrics[stencil.metrics] = stencil
        while len(family.by_metrics) > MAX_PER_SHAPE:  # e.g. one per red invoice's long remark
            family.by_metrics.pop(next(iter(family.by_metrics)))
        _remember(key, family)
        shaped = _shape_all(stencil, values)
        if shaped is None:
            stats["full"] += 1
            return None
    _families.move_to_end(key)
    if not _fits(stencil, shaped):
        stats["full"] += 1
        return None
    modules = int(QR_PATH_RE.search(html).group(2)) if qr_path else 0
    page = _StencilPage(stencil, shaped, qr_path, modules)
    document = Document([page], metadata_of(html), url_fetcher, font_config, {}, None)
    stencil.uses += 1
    stats["stencil"] += 1
    return document.write_pdf()


def _shape_all(stencil: Stencil, values: dict[str, str]) -> dict | None:
    if set(values) != set(stencil.slots):
        return None
    shaped = {}
    for name, slot in stencil.slots.items():
        text = values[name]
        if slot.fixed:
            shaped[name] = (text, None)
            continue
        if not text:
            shaped[name] = (text, None)
            continue
        if slot.prototype is None or not _plain(text):
            # an empty value on the stencil, or one WeasyPrint would collapse: lay it out in full
            return None
        result = _shape(slot.prototype, text)
        if result is None:
            return None
        shaped[name] = (text, result)
    return shaped


def _fits(stencil: Stencil, shaped: dict) -> bool:
    moved_by_line: dict[int, float] = {}
    for name, delta in _deltas(stencil, shaped).items():
        line = stencil.slots[name].line
        moved_by_line[line] = moved_by_line.get(line, 0) + delta
    for name, slot in stencil.slots.items():
        text, result = shaped[name]
        if slot.fixed:
            continue
        if slot.prototype is None:
            if result is not None:
                return False
            continue
        if result is None or _metrics(result) != slot.metrics:
            return False
        proto = slot.prototype
        if slot.align == "left":
            start, end = proto.position_x, slot.line_end + moved_by_line[slot.line]
        elif slot.align == "right":
            end = proto.position_x + proto.width
            start = end - result.width
        else:
            middle = proto.position_x + proto.width / 2
            start, end = middle - result.width / 2, middle + result.width / 2
        if end > slot.right - FIT_MARGIN or start < slot.left - 1e-6:
            return False
    return True


def _remember(key: str, family: _Family) -> None:
    _families[key] = family
    _families.move_to_end(key)
    while sum(len(f.by_metrics) or 1 for f in _families.values()) > MAX_STENCILS and len(_families) > 1:
        _families.popitem(last=False)
