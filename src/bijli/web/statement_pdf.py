"""A monthly statement as a PDF, in Hindi or English.

Devanagari is shaped with HarfBuzz (fpdf2's text shaping, through uharfbuzz): conjuncts and
vowel signs come out as a reader expects, not as letters side by side. The font is Noto Sans
and Noto Sans Devanagari merged into one (SIL Open Font License; `static/fonts/README.md`
says how it was made), shipped with bijli, so a statement is the same on every machine and
nothing is fetched from elsewhere.
"""

from __future__ import annotations

import copy
import io
import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bijli.web.statement_view import StatementView

if TYPE_CHECKING:
    from fpdf import FPDF

FONTS = Path(__file__).parent / "static" / "fonts"
FONT = "bijli-sans"
INK = (15, 23, 42)
MUTED = (100, 116, 139)
LINE = (226, 232, 240)
BRAND = (30, 58, 138)
LMARGIN, NEXT, RIGHT, TOP = "LMARGIN", "NEXT", "RIGHT", "TOP"
"""Where fpdf2 puts the cursor after a cell (its `XPos` and `YPos` by name)."""


FONT_FILES = {"": "noto-sans-latin-devanagari-regular.ttf", "B": "noto-sans-latin-devanagari-bold.ttf"}

RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Letters written right to left and the marks that change direction: a text with none of them
is one left-to-right run, whatever its mix of Latin, Devanagari, digits and signs."""

_kept = threading.local()
"""Each thread's fonts for layout: the process's parsed fonts with a HarfBuzz shaper of the
thread's own (a font's shaper is not shared between threads)."""
_parsing = threading.Lock()
_parsed_once: dict[str, Any] | None = None
"""The fonts as parsed once a process (`_parsed_fonts`)."""
_warming = False
"""Whether `warm_later` has started (once a process)."""


def warm() -> None:
    """Take the PDF libraries in and parse the fonts now (for the calling thread, and once for
    the process), so that the first statement asked for is made as fast as the others.
    `bijli serve` calls it before it listens (`create_app(warm=True)`); the app factory
    otherwise in the background (`warm_later`)."""
    _pdf_class()
    _fonts()


def warm_later() -> None:
    """`warm`, in a thread of its own: once a process, and nothing waits for it."""
    global _warming
    with _parsing:
        if _warming:
            return
        _warming = True
    threading.Thread(target=warm, name="statement-fonts", daemon=True).start()


def _document(title: str, lang: str) -> FPDF:
    pdf = _pdf_class()(format="A4", unit="mm")
    pdf.set_title(title)
    pdf.set_lang("hi-IN" if lang == "hi" else "en-IN")
    pdf.set_creator("bijli")
    for style, font in _fonts().items():
        mine = copy.copy(font)  # the parsed font, shaper and widths; this document's own glyphs
        mine.i = len(pdf.fonts) + 1
        mine.subset = type(font.subset)(mine)
        mine.missing_glyphs = []
        mine.biggest_size_pt = 0
        pdf.fonts[FONT + style] = mine
    pdf.set_text_shaping(True)
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, 16)
    pdf.add_page()
    return pdf


def _fonts() -> dict[str, Any]:
    """The two fonts for this thread's layout: the process's parsed fonts (`_parsed_fonts`)
    with a HarfBuzz shaper of the thread's own, made from the font file in well under a
    millisecond."""
    fonts: dict[str, Any] | None = getattr(_kept, "fonts", None)
    if fonts is None:
        fonts = {}
        for style, parsed in _parsed_fonts().items():
            font = copy.copy(parsed)
            font.__class__ = _shaping_kept()  # the same font, its shapes kept (`_shaping_kept`)
            font._hbfont = None  # fpdf2 makes the shaper when first asked: here, this thread's own
            _ = font.hbfont
            fonts[style] = font
        _kept.fonts = fonts
        _kept.shapes = {}
    return fonts


KEPT_SHAPES = 4096
"""Texts whose shaping a thread keeps (then it starts afresh): a statement's labels, dates and
amounts recur within it and from one statement to the next."""


@cache
def _shaping_kept() -> type[Any]:
    from fpdf.fonts import TTFFont

    class ShapingKept(TTFFont):
        """fpdf2's font, keeping what HarfBuzz made of each text it shaped (in the thread's
        `_kept.shapes`): fpdf2 shapes a cell's text once to measure it and again to set it,
        and a statement's words and figures recur. The same glyphs and positions come back,
        so the page is the same; a tenth of a statement's time goes."""

        __slots__ = ()

        def perform_harfbuzz_shaping(self, text: str, font_size_pt: float, params: Any) -> Any:
            shapes: dict[object, Any] = _kept.shapes
            given = params or {}
            key = (
                self.fontkey,
                text,
                font_size_pt,
                given.get("fragment_direction"),
                given.get("script"),
                given.get("language"),
                tuple(sorted((given.get("features") or {}).items())),
            )
            found = shapes.get(key)
            if found is None:
                if len(shapes) >= KEPT_SHAPES:
                    shapes.clear()
                infos, positions = super().perform_harfbuzz_shaping(text, font_size_pt, params)
                found = shapes[key] = (infos, positions)
            return found

    return ShapingKept


def _parsed_fonts() -> dict[str, Any]:
    """The two fonts parsed once a process: their character map, widths and tables as layout
    reads them, all read in here (afterwards threads only look them up). A statement only lays
    out its text with them; its own copy of the font file is read at output, where fpdf2 cuts
    the glyphs it used out of it (`_embed_outlines_only`)."""
    with _parsing:
        global _parsed_once
        if _parsed_once is None:
            from fpdf import FPDF

            parser = FPDF()
            for style, name in FONT_FILES.items():
                parser.add_font(FONT, style, FONTS / name)
            fonts: dict[str, Any] = {style: parser.fonts[FONT + style] for style in FONT_FILES}
            for style, font in fonts.items():
                font.ttfont.close()  # the file stays open for what a lazy font has not read yet
                font.ttfont = _parsed(FONT_FILES[style])
                _ = font.ttfont["hmtx"]  # read now, not by two documents at once
                font.ttfont.getGlyphOrder()
            _parsed_once = fonts
        return _parsed_once


@cache
def _font_bytes(name: str) -> bytes:
    return (FONTS / name).read_bytes()


def _parsed(name: str) -> Any:
    """A font file as fontTools reads it, table by table when first asked for."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    return TTFont(io.BytesIO(_font_bytes(name)), recalcTimestamp=False, lazy=True)


@cache
def _pdf_class() -> type[FPDF]:
    # Imported here, not with the module: the web app starts (and serves everything else) on
    # an install that has not yet taken the PDF libraries in.
    from fpdf import FPDF
    from fpdf.enums import TextDirection

    class StatementPDF(FPDF):
        """fpdf2's document, with the fonts kept between statements and no bidirectional
        analysis of text that has nothing written right to left (a quarter of the layout)."""

        def _preload_bidirectional_text(self, text: str, markdown: bool) -> Any:
            if RIGHT_TO_LEFT.search(text) or not self.text_shaping:
                return super()._preload_bidirectional_text(text, markdown)
            self.text_shaping["paragraph_direction"] = TextDirection.LTR
            self.text_shaping["fragment_direction"] = TextDirection.LTR
            return self._preload_font_styles(text, markdown)

        def output(self, *args: Any, **kwargs: Any) -> Any:
            for style, name in FONT_FILES.items():
                font: Any = self.fonts[FONT + style]
                # fpdf2 subsets the font it embeds in place: each document cuts its own copy.
                font.ttfont = _parsed(name)
                _embed_outlines_only(font.ttfont)
            return super().output(*args, **kwargs)

    return StatementPDF


LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF")
"""The shaping rules: HarfBuzz reads them from the font's file, and the embedded subset drops them."""


def _embed_outlines_only(ttfont: Any) -> None:
    """Make the font fpdf2 subsets and embeds cheap to write: without the layout tables (the
    subsetter would read them all in before dropping them) and with its glyphs' bounding boxes
    kept as the font file has them (recomputing them means decoding and re-encoding every
    glyph embedded). The page's text and the glyphs drawn are the same; a statement is made in
    about a third of the time (bench/README.md, `bijli bench pages`)."""
    for tag in LAYOUT_TABLES:
        if tag in ttfont:
            del ttfont[tag]
    ttfont.recalcBBoxes = False


def _font(pdf: FPDF, size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*colour)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    _font(pdf, 11.5, bold=True, colour=BRAND)
    pdf.cell(0, 7, text, new_x=LMARGIN, new_y=NEXT)
    pdf.set_draw_color(*LINE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)


def _row(pdf: FPDF, cells: list[tuple[str, float, str]], bold: bool = False, size: float = 9.5) -> None:
    """One table row: (text, width in mm, alignment) per cell."""
    _font(pdf, size, bold=bold)
    for text, width, align in cells:
        pdf.cell(width, 6.2, text, align=align)
    pdf.ln(6.2)


def statement_pdf(view: StatementView) -> bytes:
    """The statement as PDF bytes."""
    pdf = _document(f"{view.title} · {view.month}", view.lang)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    _font(pdf, 9, colour=MUTED)
    pdf.cell(0, 5, "bijli · बिजली", new_x=LMARGIN, new_y=NEXT)
    _font(pdf, 18, bold=True)
    pdf.cell(0, 10, f"{view.title} · {view.month}", new_x=LMARGIN, new_y=NEXT)
    pdf.ln(2)
    for label, value in view.facts:
        _font(pdf, 9.5, colour=MUTED)
        pdf.cell(42, 6, label)
        _font(pdf, 9.5)
        pdf.cell(width - 42, 6, value, new_x=LMARGIN, new_y=NEXT)

    _heading(pdf, view.w("summary"))
    for line in view.summary:
        _row(pdf, [(line.label, width - 40, "L"), (line.sign, 6, "C"), (line.amount, 34, "R")])
    pdf.set_draw_color(*INK)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    c = view.closing
    _row(pdf, [(c.label, width - 40, "L"), (c.sign, 6, "C"), (c.amount, 34, "R")], bold=True, size=11)

    if view.arrears:
        _heading(pdf, view.w("arrears"))
        for line in view.arrears:
            cells = [(line.label, width - 40, "L"), (line.sign, 6, "C"), (line.amount, 34, "R")]
            _row(pdf, cells, bold=line is view.arrears[-1])

    _heading(pdf, view.w("slabs"))
    columns = [36.0, 40.0, 30.0, 34.0, width - 140]
    heads = ["slab", "version", "rate", "units", "amount"]
    aligns = ["L", "L", "R", "R", "R"]
    _font(pdf, 8.5, colour=MUTED)
    for key, w, a in zip(heads, columns, aligns, strict=True):
        pdf.cell(w, 6, view.w(key), align=a)
    pdf.ln(6)
    if not view.slabs:
        _font(pdf, 9.5, colour=MUTED)
        pdf.cell(0, 6, view.w("no_energy"), new_x=LMARGIN, new_y=NEXT)
    for s in [*view.slabs, view.slab_total]:
        values = [s.band, s.version, s.rate, s.units, s.amount]
        _row(pdf, list(zip(values, columns, aligns, strict=True)), bold=s is view.slab_total)
    if view.difference is not None:
        _font(pdf, 8.5, colour=MUTED)
        pdf.multi_cell(width - 34, 5, view.w("difference"), new_x=RIGHT, new_y=TOP)
        _font(pdf, 9.5)
        pdf.cell(34, 5, view.difference, align="R", new_x=LMARGIN, new_y=NEXT)
        pdf.ln(5)

    _heading(pdf, view.w("entries"))
    if not view.entries:
        _font(pdf, 9.5, colour=MUTED)
        pdf.cell(0, 6, view.w("no_entries"), new_x=LMARGIN, new_y=NEXT)
    else:
        columns = [28.0, 56.0, width - 118, 34.0]
        _font(pdf, 8.5, colour=MUTED)
        for key, w in zip(["date", "entry", "reference", "amount"], columns, strict=True):
            pdf.cell(w, 6, view.w(key), align="R" if key == "amount" else "L")
        pdf.ln(6)
        for e in view.entries:
            _row(
                pdf,
                list(zip([e.day, e.what, e.reference, e.amount], columns, ["L", "L", "L", "R"], strict=True)),
            )

    pdf.ln(4)
    _font(pdf, 8.5, colour=MUTED)
    pdf.multi_cell(0, 4.6, f"{view.w('trace')} {view.w('ist')}", new_x=LMARGIN, new_y=NEXT)
    return bytes(pdf.output())
