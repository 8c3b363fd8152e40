"""The onboarding sheet: a CSV file of meters installed on accounts, one row each, as a field
installer's app or a legacy billing export gives it (docs/onboarding.md). Reading a row gives
an onboarding row or the reason it cannot be one. Pure: the caller hands in the lines.

Columns are found by their header name (any order, any case; a few names legacy exports use
are taken too); columns bijli does not know are left alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from bijli.accounts.model import AccountTerms, Consumer, Installing, Language, MeterSite, normal_mobile
from bijli.accounts.onboarding import Row
from bijli.kernel.time import IST

REQUIRED = (
    "consumer_id",
    "consumer_name",
    "mobile",
    "account_no",
    "meter_id",
    "tariff_category",
    "sanctioned_load_kw",
    "phase",
    "area",
    "feeder",
    "transformer",
    "installed_on",
    "opening_register_kwh",
)
OPTIONAL = ("language", "address", "email", "opening_balance", "arrears", "arrears_share_pct")
ALIASES: Mapping[str, str] = {
    "account_id": "account_no",
    "account_number": "account_no",
    "name": "consumer_name",
    "mobile_no": "mobile",
    "mobile_number": "mobile",
    "meter_no": "meter_id",
    "meter_number": "meter_id",
    "tariff": "tariff_category",
    "category": "tariff_category",
    "sanctioned_load": "sanctioned_load_kw",
    "load_kw": "sanctioned_load_kw",
    "phases": "phase",
    "dt": "transformer",
    "dt_code": "transformer",
    "feeder_code": "feeder",
    "installed_at": "installed_on",
    "installation_date": "installed_on",
    "opening_reading_kwh": "opening_register_kwh",
    "initial_reading_kwh": "opening_register_kwh",
    "balance": "opening_balance",
    "opening_balance_rs": "opening_balance",
    "arrears_rs": "arrears",
}
"""Names legacy exports give some columns, and the column each one is."""
LANGUAGES: Mapping[str, Language] = {
    "": Language.HINDI,
    "hi": Language.HINDI,
    "hindi": Language.HINDI,
    "हिंदी": Language.HINDI,
    "हिन्दी": Language.HINDI,
    "en": Language.ENGLISH,
    "english": Language.ENGLISH,
}
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
_DECIMAL = re.compile(r"^\d{1,12}(\.\d+)?$")


class SheetError(ValueError):
    """The file cannot be read as an onboarding sheet at all (its header)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that cannot be read, and why."""

    number: int
    reason: str


def _column(name: str) -> str:
    key = re.sub(r"[\s-]+", "_", name.strip().lower().lstrip("\ufeff"))
    return ALIASES.get(key, key)


def _exact(text: str, places: int, what: str, unit: str) -> int:
    """A non-negative decimal with at most `places` places, in 10^-places units, exactly."""
    clean = text.strip().replace(",", "")
    if not _DECIMAL.match(clean):
        raise ValueError(f"{what} {text!r} is not a number of {unit}")
    value = Decimal(clean) * (10**places)
    if value != value.to_integral_value():
        raise ValueError(f"{what} {text!r} has more than {places} decimal places")
    return int(value)


def _moment(text: str) -> datetime:
    """An installation date (its IST midnight) or date and time (IST unless it names a zone)."""
    clean = text.strip()
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(clean, fmt).date()
        except ValueError:
            continue
        return datetime.combine(day, time(0), tzinfo=IST).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(clean)
    except ValueError as e:
        raise ValueError(
            f"installed_on {text!r} is not a date (2026-11-10 or 10-11-2026) or a date and time (2026-11-10T11:30)"
        ) from e
    return (moment.replace(tzinfo=IST) if moment.tzinfo is None else moment).astimezone(UTC)


def _row(number: int, cells: Mapping[str, str], created_at: datetime) -> Row:
    missing = [c for c in REQUIRED if not cells.get(c, "").strip()]
    if missing:
        raise ValueError(f"empty {', '.join(missing)}")
    mobile = normal_mobile(cells["mobile"])
    if mobile is None:
        raise ValueError(f"mobile {cells['mobile']!r} is not an Indian mobile number (+91 and ten digits)")
    language = LANGUAGES.get(cells.get("language", "").strip().lower())
    if language is None:
        raise ValueError(f"language {cells['language']!r} is not hi (Hindi) or en (English)")
    phase = cells["phase"].strip()
    if phase not in ("1", "3"):
        raise ValueError(f"phase {phase!r} is not 1 or 3")
    share_text = cells.get("arrears_share_pct", "").strip().rstrip("%").strip()
    share = None
    if share_text:
        if not share_text.isdigit() or int(share_text) > 100:
            raise ValueError(f"arrears_share_pct {share_text!r} is not a whole number from 0 to 100")
        share = int(share_text)
    consumer_id = cells["consumer_id"].strip()
    return Row(
        number=number,
        consumer=Consumer(
            consumer_id=consumer_id,
            name=cells["consumer_name"].strip(),
            mobile=mobile,
            language=language,
            address=cells.get("address", "").strip(),
            email=cells.get("email", "").strip() or None,
            created_at=created_at,
        ),
        installing=Installing(
            account_no=cells["account_no"].strip(),
            consumer_id=consumer_id,
            meter=MeterSite(
                meter_id=cells["meter_id"].strip(),
                area=cells["area"].strip(),
                feeder=cells["feeder"].strip(),
                transformer=cells["transformer"].strip(),
                phases=int(phase),
            ),
            terms=AccountTerms(
                tariff_code=cells["tariff_category"].strip(),
                sanctioned_load_w=_exact(cells["sanctioned_load_kw"], 3, "sanctioned_load_kw", "kW"),
                arrears_share_pct=share,
            ),
            installed_at=_moment(cells["installed_on"]),
            opening_wh_total=_exact(cells["opening_register_kwh"], 3, "opening_register_kwh", "kWh"),
            opening_balance_paise=_exact(cells.get("opening_balance", "") or "0", 2, "opening_balance", "rupees"),
            arrears_paise=_exact(cells.get("arrears", "") or "0", 2, "arrears", "rupees"),
        ),
    )


@dataclass(slots=True)
class Sheet:
    """A sheet's header, and its rows as they are read."""

    columns: list[str]
    ignored: list[str]
    """Header names bijli does not know (left alone)."""
    _reader: Iterator[list[str]]
    _created_at: datetime
    _line: int = 1

    def rows(self) -> Iterator[Row | Rejected]:
        """Each data row, numbered as a spreadsheet shows it (the header is row 1)."""
        reader = self._reader
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                self._line += 1
                yield Rejected(self._line, f"not a CSV row: {e}")
                continue
            self._line += 1
            number = self._line
            if not any(c.strip() for c in cells):
                continue  # a blank line is no row
            if len(cells) > len(self.columns):
                yield Rejected(number, f"{len(cells)} cells, the header names {len(self.columns)}")
                continue
            named = dict(zip(self.columns, cells, strict=False))
            try:
                yield _row(number, named, self._created_at)
            except ValueError as e:
                yield Rejected(number, str(e))


def read(lines: Iterable[str], created_at: datetime) -> Sheet:
    """The sheet in `lines` (text, one CSV record after another); `SheetError` if its header
    lacks a column bijli needs or names one twice."""
    reader = csv.reader(iter(lines))
    try:
        header = next(reader)
    except StopIteration as e:
        raise SheetError("the file is empty: it needs a header row naming the columns (docs/onboarding.md)") from e
    columns = [_column(h) for h in header]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise SheetError(f"the header names {', '.join(repeated)} more than once")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SheetError(f"the header lacks {', '.join(missing)} (the columns are in docs/onboarding.md)")
    known = set(REQUIRED) | set(OPTIONAL)
    ignored = [h for h, c in zip(header, columns, strict=True) if c not in known]
    return Sheet(columns=columns, ignored=ignored, _reader=reader, _created_at=created_at)


def chunks(rows: Iterable[Row | Rejected], size: int) -> Iterator[tuple[list[Row], list[Rejected]]]:
    """The rows in chunks of up to `size` readable rows, with the rejected ones met on the way."""
    good: list[Row] = []
    bad: list[Rejected] = []
    for row in rows:
        if isinstance(row, Rejected):
            bad.append(row)
        else:
            good.append(row)
        if len(good) >= size:
            yield good, bad
            good, bad = [], []
    if good or bad:
        yield good, bad
