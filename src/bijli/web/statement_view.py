"""A monthly statement as a person reads it, in Hindi or English: the same words and figures
for the printable page and the PDF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bijli.kernel.indian import MINUS
from bijli.kernel.time import ist_day, ist_midnight
from bijli.kernel.units import WH_PER_KWH, kwh
from bijli.prepaid.statement import ARREARS, ARREARS_RECOVERY, SlabLine, Statement, in_balance
from bijli.web.display import day_text, kwh_text, month_text, rupees_text

Lang = Literal["en", "hi"]
DASH = "\u2013"
"""An en dash, between the ends of a range."""
LANGS: tuple[Lang, ...] = ("en", "hi")
LANG_NAMES = {"en": "English", "hi": "हिन्दी"}

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Monthly statement", "मासिक विवरण"),
    "consumer": ("Consumer", "उपभोक्ता"),
    "account": ("Account", "खाता संख्या"),
    "meter": ("Meter", "मीटर"),
    "load": ("Sanctioned load", "स्वीकृत भार"),
    "tariff": ("Tariff", "टैरिफ़"),
    "period": ("Period", "अवधि"),
    "summary": ("Balance", "शेष राशि का हिसाब"),
    "opening": ("Opening balance", "प्रारंभिक शेष"),
    "energy": ("Energy charge", "ऊर्जा शुल्क"),
    "fixed": ("Fixed charge", "स्थायी शुल्क"),
    "duty": ("Electricity duty", "विद्युत शुल्क (ड्यूटी)"),
    "charges": ("Charges for the month", "माह के कुल शुल्क"),
    "closing": ("Closing balance", "अंतिम शेष"),
    "slabs": ("Energy by slab", "स्लैब के अनुसार ऊर्जा"),
    "slab": ("Slab", "स्लैब"),
    "version": ("Tariff version", "टैरिफ़ संस्करण"),
    "rate": ("Rate per kWh", "दर प्रति kWh"),
    "units": ("Units (kWh)", "यूनिट (kWh)"),
    "amount": ("Amount", "राशि"),
    "total": ("Total", "कुल"),
    "above": ("above", "से ऊपर"),
    "difference": (
        "Charged beyond these slabs: energy the register counted whose readings are missing or late",
        "इन स्लैब से अधिक शुल्क: रजिस्टर में गिनी गई ऊर्जा जिसकी रीडिंग नहीं आई या देर से आई",
    ),
    "entries": ("Payments and other entries", "भुगतान और अन्य प्रविष्टियाँ"),
    "arrears": ("Arrears (owed from before; not part of the balance)", "बकाया (पहले का देय; शेष राशि में शामिल नहीं)"),
    "arrears_start": ("Owed at the start of the month", "माह की शुरुआत में देय"),
    "arrears_added": ("Arrears added", "जोड़ा गया बकाया"),
    "arrears_recovered": ("Recovered from recharges", "रिचार्ज से वसूला गया"),
    "arrears_end": ("Still owed", "शेष देय"),
    "date": ("Date", "तारीख़"),
    "entry": ("Entry", "प्रविष्टि"),
    "reference": ("Reference", "संदर्भ"),
    "no_entries": ("No payments or other entries this month.", "इस माह कोई भुगतान या अन्य प्रविष्टि नहीं।"),
    "no_energy": ("No energy charged this month.", "इस माह किसी ऊर्जा पर शुल्क नहीं लगा।"),
    "days": ("Days charged", "शुल्क वाले दिन"),
    "trace": (
        "Every line is traced to the ledger entries and 15-minute intervals behind it in the account ledger.",
        "हर पंक्ति के पीछे की खाता-बही प्रविष्टियाँ और 15 मिनट के अंतराल खाता-बही में देखे जा सकते हैं।",
    ),
    "ist": ("Dates in IST.", "तारीख़ें भारतीय मानक समय (IST) में।"),
    "pdf": ("Download PDF", "PDF डाउनलोड करें"),
    "language": ("Language", "भाषा"),
    "previous": ("Previous month", "पिछला माह"),
    "next": ("Next month", "अगला माह"),
    "ledger": ("Account ledger (API)", "खाता-बही (API)"),
    "no_meter": ("no meter installed", "कोई मीटर नहीं लगा"),
}

KIND_WORDS: dict[str, tuple[str, str]] = {
    "opening": ("Opening balance credited", "प्रारंभिक शेष जमा"),
    "recharge": ("Recharge", "रिचार्ज"),
    "arrears": ("Arrears", "बकाया"),
    "arrears_recovery": ("Arrears recovered from a recharge", "रिचार्ज से बकाया वसूली"),
    "refund": ("Refund", "धनवापसी"),
    "reversal": ("Reversal", "रिवर्सल"),
    "adjustment": ("Adjustment", "समायोजन"),
    "final_settlement": ("Final settlement", "अंतिम निपटान"),
}
"""How each kind of ledger entry that is not a charge reads; an unknown kind shows its name."""


def word(key: str, lang: Lang) -> str:
    en, hi = WORDS[key]
    return hi if lang == "hi" else en


def kind_word(kind: str, lang: Lang) -> str:
    en, hi = KIND_WORDS.get(kind, (kind.replace("_", " ").capitalize(),) * 2)
    return hi if lang == "hi" else en


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """A line of the balance summary."""

    key: str
    label: str
    sign: str
    amount: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabRow:
    band: str
    version: str
    rate: str
    units: str
    amount: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryRow:
    day: str
    what: str
    reference: str
    amount: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementView:
    """Everything a printed statement shows, in one language."""

    lang: Lang
    title: str
    month: str
    facts: list[tuple[str, str]]
    summary: list[Line]
    closing: Line
    slabs: list[SlabRow]
    slab_total: SlabRow
    difference: str | None
    entries: list[EntryRow]
    arrears: list[Line]
    """The arrears owed at the start, added, recovered and still owed; empty when there are none."""

    def w(self, key: str) -> str:
        """A word of the statement in its language."""
        return word(key, self.lang)


def _band(line: SlabLine, lang: Lang) -> str:
    low = line.from_wh // WH_PER_KWH
    if line.up_to_wh is None:
        return f"{low} kWh {word('above', lang)}" if lang == "hi" else f"{word('above', lang)} {low} kWh"
    return f"{low + (1 if low else 0)}{DASH}{line.up_to_wh // WH_PER_KWH} kWh"


def _meters(s: Statement, lang: Lang) -> str:
    """The meters on the account in the month: one, or each with the days it was installed."""
    h = s.holder
    fitted = h.meters
    if len(fitted) <= 1:
        return (fitted[0].meter_id if fitted else h.meter_id) or word("no_meter", lang)
    parts = []
    for m in fitted:
        since = max(m.installed_at, ist_midnight(s.first_day))
        until = ist_day(m.removed_at) if m.removed_at is not None and ist_day(m.removed_at) <= s.last_day else None
        span = f"{day_text(ist_day(since), lang)} {DASH} {day_text(until, lang) if until else ''}".rstrip()
        parts.append(f"{m.meter_id} ({span})")
    return ", ".join(parts)


def _units(wh: int) -> str:
    return kwh_text(kwh(wh))


def statement_view(s: Statement, lang: Lang) -> StatementView:
    """The statement in words and figures of one language."""
    h = s.holder
    load = f"{kwh_text(kwh(h.sanctioned_load_w), 1)} kW"
    facts = [
        (word("consumer", lang), h.consumer_name),
        (word("account", lang), h.account_no),
        (word("meter", lang), _meters(s, lang)),
        (word("load", lang), load),
        (word("tariff", lang), f"{h.tariff.name} · {', '.join(s.tariff_labels)}"),
        (word("period", lang), f"{day_text(s.first_day, lang)} {DASH} {day_text(s.last_day, lang)}"),
    ]
    summary = [Line(key="opening", label=word("opening", lang), sign="", amount=rupees_text(s.opening_paise))]
    for kind in s.kinds:
        if not in_balance(kind):
            continue
        total = s.total(kind)
        summary.append(
            Line(
                key=kind, label=kind_word(kind, lang), sign="+" if total >= 0 else MINUS, amount=rupees_text(abs(total))
            )
        )
    for key, paise in (("energy", s.energy_paise), ("fixed", s.fixed_paise), ("duty", s.duty_paise)):
        summary.append(Line(key=key, label=word(key, lang), sign=MINUS, amount=rupees_text(paise)))
    closing = Line(key="closing", label=word("closing", lang), sign="=", amount=rupees_text(s.closing_paise))
    slabs = [
        SlabRow(
            band=_band(line, lang),
            version=line.tariff_label,
            rate=f"₹{line.rate:.2f}" if line.rate == round(line.rate, 2) else f"₹{line.rate}",
            units=_units(line.energy_wh),
            amount=rupees_text(line.amount_paise),
        )
        for line in s.slabs
    ]
    slab_total = SlabRow(
        band=word("total", lang),
        version="",
        rate="",
        units=_units(s.energy_wh),
        amount=rupees_text(sum(line.amount_paise for line in s.slabs)),
    )
    difference = None if s.slab_difference_paise == 0 else rupees_text(s.slab_difference_paise)
    entries = [
        EntryRow(
            day=day_text(e.day, lang),
            what=kind_word(e.kind, lang),
            reference=e.reference,
            amount=rupees_text(e.amount_paise),
        )
        for e in s.entries
    ]
    arrears: list[Line] = []
    if s.arrears_opening_paise or s.arrears_closing_paise or any(not in_balance(k) for k in s.kinds):
        added = -s.total(ARREARS)
        recovered = -s.total(ARREARS_RECOVERY)
        arrears = [
            Line(
                key="arrears-start",
                label=word("arrears_start", lang),
                sign="",
                amount=rupees_text(s.arrears_opening_paise),
            ),
            Line(key="arrears-added", label=word("arrears_added", lang), sign="+", amount=rupees_text(added)),
            Line(
                key="arrears-recovered",
                label=word("arrears_recovered", lang),
                sign=MINUS,
                amount=rupees_text(recovered),
            ),
            Line(
                key="arrears-end",
                label=word("arrears_end", lang),
                sign="=",
                amount=rupees_text(s.arrears_closing_paise),
            ),
        ]
    return StatementView(
        lang=lang,
        title=word("title", lang),
        month=month_text(s.first_day, lang),
        facts=facts,
        summary=summary,
        closing=closing,
        slabs=slabs,
        slab_total=slab_total,
        difference=difference,
        entries=entries,
        arrears=arrears,
    )
