"""Make the hotspot's font: the characters its page uses, from the PDF statements' Noto font.

Run from the repository after changing the hotspot page's Hindi (tests/unit/meter/test_hotspot.py
fails, naming the missing character, until it is run):

    .venv/bin/python src/bijli/meter/fonts/make_subset.py
"""

from __future__ import annotations

from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

HERE = Path(__file__).parent
SOURCE = HERE.parents[1] / "web" / "static" / "fonts" / "noto-sans-latin-devanagari-regular.ttf"
TARGET = HERE / "hotspot-devanagari.woff"
PAGE = HERE.parent / "hotspot.py"
KEPT = {0x20B9, 0x2014, 0x2013, 0x200C, 0x200D, 0x25CC, 0x0964, 0x0965, *range(0x0966, 0x0970)}
"""The rupee sign, dashes, the joiners, the dotted circle, danda, and the Devanagari digits."""


def main() -> None:
    used = {ord(c) for c in PAGE.read_text(encoding="utf-8") if "\u0900" <= c <= "\u097f"}
    options = subset.Options()
    options.layout_features = ["*"]  # conjuncts and vowel signs are shaped by the font's own rules
    options.flavor = "woff"  # zlib: no Brotli needed on the meter or here
    font = TTFont(SOURCE)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=used | KEPT)  # Devanagari only: the phone's own font draws Latin
    subsetter.subset(font)
    font.flavor = "woff"
    font.save(TARGET)
    print(f"{TARGET.name}: {len(used)} characters of the page, {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
