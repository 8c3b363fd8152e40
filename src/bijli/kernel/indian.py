"""Indian conventions for people, shared by the pages and the alerts: numbers grouped in lakhs
and crores, the months' names in Hindi, a true minus sign. Pure."""

from __future__ import annotations

from typing import Final

MINUS: Final = "\u2212"
MONTHS_HI: Final = (
    "जनवरी",
    "फ़रवरी",
    "मार्च",
    "अप्रैल",
    "मई",
    "जून",
    "जुलाई",
    "अगस्त",
    "सितंबर",
    "अक्टूबर",
    "नवंबर",
    "दिसंबर",
)


def indian_grouping(whole: int) -> str:
    """A non-negative whole number with lakh and crore commas: 12345678 -> ``1,23,45,678``."""
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        head, pair = head[:-2], head[-2:]
        pairs.insert(0, pair)
    return ",".join([head, *pairs, tail])
