"""The alerts' texts in English and Hindi, one registered DLT template each, rendered purely.

India's DLT rules let an SMS through only when its text matches a template the sender
registered (variables as ``{#var#}``); each text of ``alerts/texts.toml`` is one such template,
with its id. A site registers these texts under its own principal entity and writes the ids
it was given into that file (the ids shipped are the reference deployment's). Amounts read
in rupees grouped in lakhs (``₹1,29,366.00``), times in IST (``04 Dec 2026, 18:00``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Final

from bijli.alerts.model import AlertKind, Fact
from bijli.kernel.indian import MINUS, MONTHS_HI, indian_grouping
from bijli.kernel.time import IST

MONTHS_EN: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LANGUAGES: Final = ("en", "hi")


@dataclass(frozen=True, slots=True)
class Template:
    """A registered text: its DLT template id, the e-mail subject and the text, with
    ``{name}`` fields filled from the alert's facts."""

    template_id: str
    subject: str
    text: str


TEXTS_FILE: Final = "texts.toml"


@cache
def templates() -> Mapping[tuple[AlertKind, str], Template]:
    """`alerts/texts.toml` as shipped, read once: each kind's template by (kind, language)."""
    tree = tomllib.loads(resources.files("bijli.alerts").joinpath(TEXTS_FILE).read_text(encoding="utf-8"))
    return {
        (AlertKind(kind), lang): Template(t["template_id"], t["subject"], t["text"])
        for kind, languages in tree.items()
        for lang, t in languages.items()
    }


SEVERITY_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"high": "high", "medium": "medium", "low": "low"},
    "hi": {"high": "उच्च", "medium": "मध्यम", "low": "कम"},
}
DAYS_LEFT: Final[Mapping[str, str]] = {"en": ", enough for about {days} days", "hi": ", लगभग {days} दिन के लिए"}
"""What a low-balance text adds when the days of credit left are known."""


def lakhs(whole: int) -> str:
    """A whole number with lakh and crore commas: 12345678 -> ``1,23,45,678``."""
    return (MINUS if whole < 0 else "") + indian_grouping(abs(whole))


def rupees_text(paise: int) -> str:
    """Paise as ``₹1,29,366.00`` (a minus sign first when negative)."""
    whole, fraction = divmod(abs(paise), 100)
    return f"{MINUS if paise < 0 else ''}₹{lakhs(whole)}.{fraction:02d}"


def ist_text(moment: datetime, language: str) -> str:
    """A moment as ``04 Dec 2026, 18:00`` in IST (``04 दिसंबर 2026, 18:00`` in Hindi)."""
    local = moment.astimezone(IST)
    month = (MONTHS_HI if language == "hi" else MONTHS_EN)[local.month - 1]
    return f"{local.day:02d} {month} {local.year}, {local.hour:02d}:{local.minute:02d}"


@dataclass(frozen=True, slots=True)
class Rendered:
    template_id: str
    subject: str
    text: str


def render(
    kind: AlertKind, facts: Mapping[str, Fact], language: str, account_no: str | None, raised_at: datetime
) -> Rendered:
    """The alert's text in `language` (English for a language without texts); `account_no` is
    None for an alert to a staff member."""
    lang = language if language in LANGUAGES else "en"
    template = templates()[(kind, lang)]
    days = facts.get("days_left")
    days_left = "" if days is None or days == "" else DAYS_LEFT[lang].format(days=days)
    fields = {
        "account_no": account_no or "",
        "balance": rupees_text(int(facts.get("balance_paise", 0))),
        "amount": rupees_text(int(facts.get("amount_paise", 0))),
        "level_pct": str(facts.get("level_pct", "")),
        "days_left": days_left,
        "payment_id": str(facts.get("payment_id", "")),
        "cut_after": ist_text(datetime.fromtimestamp(int(facts.get("cut_after", 0)), UTC), lang),
        "raised_at": ist_text(raised_at, lang),
        "case_id": str(facts.get("case_id", "")),
        "meter_id": str(facts.get("meter_id", "")),
        "what": str(facts.get(f"what_{lang}", facts.get("what_en", ""))),
        "subject_id": str(facts.get("subject_id", "")),
        "severity": SEVERITY_WORDS[lang].get(str(facts.get("severity", "")), str(facts.get("severity", ""))),
        "place": str(facts.get("place", "")),
        "path": str(facts.get("path", "")),
    }
    return Rendered(
        template_id=template.template_id,
        subject=template.subject.format(**fields),
        text=template.text.format(**fields),
    )
