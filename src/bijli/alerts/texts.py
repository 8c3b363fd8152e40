"""The alerts' texts in English and Hindi, one registered DLT template each, rendered purely.

India's DLT rules let an SMS through only when its text matches a template the sender
registered (variables as ``{#var#}``); each text here is one such template, its id in
`TEMPLATES`. A site registers these texts under its own principal entity and writes the ids
it was given into `TEMPLATES` (the ids below are the reference deployment's). Amounts read
in rupees grouped in lakhs (``₹1,29,366.00``), times in IST (``04 Dec 2026, 18:00``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


TEMPLATES: Final[Mapping[tuple[AlertKind, str], Template]] = {
    (AlertKind.LOW_BALANCE, "en"): Template(
        "1107176500000000101",
        "Low balance on account {account_no}",
        "bijli: account {account_no} has {balance} left, {level_pct}% of your last recharge{days_left}. "
        "Recharge soon to keep your supply on.",
    ),
    (AlertKind.LOW_BALANCE, "hi"): Template(
        "1107176500000000102",
        "खाता {account_no} में बैलेंस कम है",
        "बिजली: खाता {account_no} में {balance} बचे हैं, आपके पिछले रिचार्ज का {level_pct}%{days_left}। "
        "बिजली चालू रखने के लिए जल्द रिचार्ज करें।",
    ),
    (AlertKind.DISCONNECT_NOTICE, "en"): Template(
        "1107176500000000201",
        "Supply to account {account_no} may be disconnected",
        "bijli: account {account_no} stands at {balance}. Supply may be disconnected after {cut_after} "
        "unless you recharge.",
    ),
    (AlertKind.DISCONNECT_NOTICE, "hi"): Template(
        "1107176500000000202",
        "खाता {account_no} की बिजली कट सकती है",
        "बिजली: खाता {account_no} का बैलेंस {balance} है। रिचार्ज न होने पर {cut_after} के बाद बिजली काटी जा सकती है।",
    ),
    (AlertKind.DISCONNECTED, "en"): Template(
        "1107176500000000301",
        "Supply to account {account_no} disconnected",
        "bijli: supply to account {account_no} was disconnected on {raised_at} for a balance of {balance}. "
        "Recharge and it comes back within minutes.",
    ),
    (AlertKind.DISCONNECTED, "hi"): Template(
        "1107176500000000302",
        "खाता {account_no} की बिजली काटी गई",
        "बिजली: खाता {account_no} की बिजली {raised_at} को {balance} बैलेंस के कारण काटी गई। "
        "रिचार्ज करें, कुछ ही मिनटों में बिजली लौट आएगी।",
    ),
    (AlertKind.RECONNECTED, "en"): Template(
        "1107176500000000401",
        "Supply to account {account_no} restored",
        "bijli: supply to account {account_no} was restored on {raised_at}. Balance: {balance}.",
    ),
    (AlertKind.RECONNECTED, "hi"): Template(
        "1107176500000000402",
        "खाता {account_no} की बिजली बहाल",
        "बिजली: खाता {account_no} की बिजली {raised_at} को बहाल हो गई। बैलेंस: {balance}।",
    ),
    (AlertKind.PAYMENT_RECEIVED, "en"): Template(
        "1107176500000000501",
        "Payment of {amount} received for account {account_no}",
        "bijli: {amount} received for account {account_no} (payment {payment_id}) on {raised_at}. Balance: {balance}.",
    ),
    (AlertKind.PAYMENT_RECEIVED, "hi"): Template(
        "1107176500000000502",
        "खाता {account_no} के लिए {amount} का भुगतान मिला",
        "बिजली: खाता {account_no} के लिए {amount} का भुगतान (भुगतान {payment_id}) {raised_at} को मिला। बैलेंस: {balance}।",
    ),
    (AlertKind.TAMPER_REPORTED, "en"): Template(
        "1107176500000000601",
        "Meter {meter_id} reported {what}",
        "bijli: meter {meter_id} of account {account_no} reported {what} on {raised_at}. Case {case_id} is open "
        "and field staff will inspect the meter.",
    ),
    (AlertKind.TAMPER_REPORTED, "hi"): Template(
        "1107176500000000602",
        "मीटर {meter_id} ने {what} की सूचना दी",
        "बिजली: खाता {account_no} के मीटर {meter_id} ने {raised_at} को {what} की सूचना दी। केस {case_id} खुला है, "
        "फ़ील्ड कर्मचारी मीटर की जाँच करेंगे।",
    ),
    (AlertKind.CASE_OPENED, "en"): Template(
        "1107176500000000701",
        "Case {case_id}: {what} at {subject_id} ({severity})",
        "bijli: case {case_id} opened on {raised_at}, {severity} severity: {what} at {subject_id}, {place}. "
        "Details: {path}",
    ),
    (AlertKind.CASE_OPENED, "hi"): Template(
        "1107176500000000702",
        "केस {case_id}: {subject_id} पर {what} ({severity})",
        "बिजली: केस {case_id} {raised_at} को खुला, गंभीरता {severity}: {subject_id}, {place} पर {what}। विवरण: {path}",
    ),
    (AlertKind.CASE_ASSIGNED, "en"): Template(
        "1107176500000000801",
        "Case {case_id} is assigned to you",
        "bijli: case {case_id} ({what} at {subject_id}, {place}, {severity} severity) was assigned to you on "
        "{raised_at}. Details: {path}",
    ),
    (AlertKind.CASE_ASSIGNED, "hi"): Template(
        "1107176500000000802",
        "केस {case_id} आपको सौंपा गया",
        "बिजली: केस {case_id} ({subject_id}, {place} पर {what}, गंभीरता {severity}) {raised_at} को आपको सौंपा गया। "
        "विवरण: {path}",
    ),
}

SEVERITY_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"high": "high", "medium": "medium", "low": "low"},
    "hi": {"high": "उच्च", "medium": "मध्यम", "low": "कम"},
}


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
    template = TEMPLATES[(kind, lang)]
    days = facts.get("days_left")
    if days is None or days == "":
        days_left = ""
    elif lang == "hi":
        days_left = f", लगभग {days} दिन के लिए"
    else:
        days_left = f", enough for about {days} days"
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
