"""HTML to PDF with WeasyPrint: the one place that calls it.

Rules (docs/architecture.md, docs/performance.md):
- one ``FontConfiguration`` per process, made on the first render and reused, so fontconfig
  is not scanned again for every invoice;
- a URL fetcher that refuses every URL, files and network alike: documents are made from the
  project's own templates with everything inline (styles, the QR code as inline SVG), and the
  font is a system font that Pango finds through fontconfig by its family name, never fetched;
- HarfBuzz subsetting: without Debian's ``libharfbuzz-subset0`` WeasyPrint falls back to
  fontTools, about 200 times slower for a CJK font, so rendering refuses to start without it.
"""

from __future__ import annotations

import ctypes.util
import functools
import logging
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# The CJK font of every document: TrueType, about 4.4 MB, subset to a few KB per invoice.
# Installed by Debian's fonts-droid-fallback (the Makefile's system packages).
FONT_FAMILY = "Droid Sans Fallback"
FONT_PACKAGE = "fonts-droid-fallback"
HARFBUZZ_SUBSET_PACKAGE = "libharfbuzz-subset0"


class DocumentError(Exception):
    """A document could not be made; the message says why, for the console."""


class RenderingUnavailable(DocumentError):
    """This machine cannot render documents (a system package is missing)."""


@functools.cache
def harfbuzz_subset_loaded() -> bool:
    """Whether WeasyPrint will subset fonts with HarfBuzz (it loads the library at import)."""
    if ctypes.util.find_library("harfbuzz-subset") is None:
        return False
    from weasyprint.text import ffi

    return ffi.harfbuzz_subset is not None


@functools.cache
def font_file() -> str | None:
    """The file fontconfig gives for ``FONT_FAMILY``, or None when the family is not installed
    (fontconfig would then substitute another font without a word)."""
    from weasyprint.text.ffi import ffi, fontconfig

    config = fontconfig.FcInitLoadConfigAndFonts()
    try:
        pattern = fontconfig.FcPatternCreate()
        fontconfig.FcPatternAddString(pattern, b"family", FONT_FAMILY.encode())
        fontconfig.FcConfigSubstitute(config, pattern, fontconfig.FcMatchPattern)
        fontconfig.FcDefaultSubstitute(pattern)
        result = ffi.new("FcResult *")
        match = fontconfig.FcFontMatch(config, pattern, result)
        fontconfig.FcPatternDestroy(pattern)
        if match == ffi.NULL:
            return None
        value = ffi.new("FcChar8 **")
        found = None
        if fontconfig.FcPatternGetString(match, b"family", 0, value) == 0:
            family = ffi.string(value[0]).decode()
            if family.lower() == FONT_FAMILY.lower() and fontconfig.FcPatternGetString(match, b"file", 0, value) == 0:
                found = ffi.string(value[0]).decode()
        fontconfig.FcPatternDestroy(match)
        return found
    finally:
        fontconfig.FcConfigDestroy(config)


def readiness_problems() -> list[str]:
    """What stops this machine from rendering documents; empty when it can."""
    problems = []
    try:
        subset = harfbuzz_subset_loaded()
    except OSError as exc:  # WeasyPrint's own libraries (Pango) are missing
        return [f"WeasyPrint cannot load its libraries ({exc}); install libpango-1.0-0 and libpangoft2-1.0-0."]
    if not subset:
        problems.append(
            f"libharfbuzz-subset is not loadable: install {HARFBUZZ_SUBSET_PACKAGE} (apt-get install "
            f"{HARFBUZZ_SUBSET_PACKAGE}); without it every invoice takes seconds to render."
        )
    path = font_file()
    if path is None or not Path(path).exists():
        problems.append(f"the font “{FONT_FAMILY}” is not installed: install {FONT_PACKAGE}.")
    return problems


def ensure_ready() -> None:
    problems = readiness_problems()
    if problems:
        raise RenderingUnavailable("Documents cannot be rendered here: " + " ".join(problems))


def _refusing_fetcher():
    from weasyprint.urls import URLFetcher

    class RefusingURLFetcher(URLFetcher):
        """Refuses every URL: file, http(s), data, anything. ``fail_on_errors`` makes a refused
        fetch stop the rendering instead of leaving a hole in the document."""

        def __init__(self):
            super().__init__(fail_on_errors=True)

        def fetch(self, url, headers=None):
            raise ValueError(f"documents fetch nothing; refused {url[:80]!r}")

    return RefusingURLFetcher()


_font_config = None
_lock = threading.Lock()


def _shared_font_config():
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


def html_to_pdf(html: str) -> bytes:
    """Renders one self-contained HTML document to PDF bytes."""
    ensure_ready()
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    with _lock:  # a FontConfiguration is not thread-safe; render workers are processes anyway
        try:
            document = HTML(string=html, base_url=None, url_fetcher=_refusing_fetcher())
            return document.write_pdf(font_config=_shared_font_config())
        except FatalURLFetchingError as exc:  # a BaseException: turn it into an ordinary error
            raise DocumentError(f"the document referred to an outside resource: {exc}") from None


def invoice_html_to_pdf(html: str) -> bytes:
    """Renders a document of the templates that mark their values (``data-slot``): one-page
    documents are drawn on their shape's stencil (``stencil``), anything else laid out in full."""
    ensure_ready()
    from weasyprint.urls import FatalURLFetchingError

    from . import stencil

    with _lock:
        try:
            pdf = stencil.render(html, font_config=_shared_font_config(), url_fetcher=_refusing_fetcher())
        except FatalURLFetchingError as exc:
            raise DocumentError(f"the document referred to an outside resource: {exc}") from None
    return pdf if pdf is not None else html_to_pdf(html)
