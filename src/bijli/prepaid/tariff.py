"""Tariffs as data: energy slabs on month-to-date kWh, a fixed charge per kW, and duty."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

from bijli.kernel.units import WH_PER_KWH, Wh


class TariffError(ValueError):
    """A tariff file that cannot be used."""


@dataclass(frozen=True, slots=True)
class Slab:
    """Energy up to `up_to_wh` of the month (None: without limit) costs `rate` per kWh."""

    up_to_wh: Wh | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """The rates in force from one date, under a label every charge made with them names."""

    effective_from: date
    slabs: tuple[Slab, ...]
    fixed_per_kw_month: Decimal
    duty_rate: Decimal
    label: str = ""
    """Names this version in every charge made with it (``UPERC-TO-2019-20``)."""
    source: str = ""
    """The public order the rates come from."""

    def energy_cost(self, month_wh: Wh) -> Decimal:
        """Exact rupee cost of the month's first `month_wh` watt-hours, slab by slab."""
        cost = Decimal(0)
        floor = 0
        for slab in self.slabs:
            top = month_wh if slab.up_to_wh is None else min(month_wh, slab.up_to_wh)
            if top > floor:
                cost += slab.rate * Decimal(top - floor) / WH_PER_KWH
            if slab.up_to_wh is None or month_wh <= slab.up_to_wh:
                break
            floor = slab.up_to_wh
        return cost


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff category with its dated versions, oldest first."""

    code: str
    name: str
    versions: tuple[TariffVersion, ...]

    def on(self, day: date) -> TariffVersion:
        """The version in force on `day`."""
        current = None
        for version in self.versions:
            if version.effective_from <= day:
                current = version
        if current is None:
            raise TariffError(f"tariff {self.code} has no rates in force on {day}")
        return current


def parse_tariff(text: str) -> Tariff:
    """A tariff from its TOML text."""
    try:
        doc = tomllib.loads(text)
        versions = tuple(
            TariffVersion(
                effective_from=_date(v["effective_from"]),
                slabs=tuple(
                    Slab(
                        up_to_wh=None if "up_to_kwh" not in s else _whole(s["up_to_kwh"]) * WH_PER_KWH,
                        rate=_exact(s["rate"]),
                    )
                    for s in v["slabs"]
                ),
                fixed_per_kw_month=_exact(v["fixed_per_kw_month"]),
                duty_rate=_exact(v["duty_percent"]) / 100,
                label=_label(v["label"]),
                source=_text(v["source"]),
            )
            for v in doc["versions"]
        )
        tariff = Tariff(code=doc["code"], name=doc["name"], versions=versions)
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        raise TariffError(f"tariff file is not usable: {e!r}") from e
    _check(tariff)
    return tariff


def _exact(value: object) -> Decimal:
    """A rate written as a string ("5.50") or a whole number; a TOML float is not exact."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f'write amounts as strings, e.g. "5.50", not {value!r}')
    return Decimal(value)


def _label(value: object) -> str:
    """A version's label: short (it is written on every day's charge) and plain."""
    text = _text(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", text):
        raise ValueError(f"a version label is up to 32 letters, digits, '.', '_' or '-', not {text!r}")
    return text


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"expected some text, not {value!r}")
    return value


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"slab edges are whole kWh, not {value!r}")
    return value


def _date(value: object) -> date:
    if type(value) is not date:
        raise TypeError(f"effective_from must be a date (YYYY-MM-DD), not {value!r}")
    return value


def _check(tariff: Tariff) -> None:
    if not tariff.versions:
        raise TariffError(f"tariff {tariff.code} has no versions")
    dates = [v.effective_from for v in tariff.versions]
    if dates != sorted(set(dates)):
        raise TariffError(f"tariff {tariff.code}: versions must be oldest first, one per date")
    labels = [v.label for v in tariff.versions]
    if len(set(labels)) != len(labels):
        raise TariffError(f"tariff {tariff.code}: each version needs a label of its own")
    for v in tariff.versions:
        edges = [s.up_to_wh for s in v.slabs]
        if not edges or edges[-1] is not None or None in edges[:-1]:
            raise TariffError(f"tariff {tariff.code}: only the last slab may be open-ended")
        bounded = [e for e in edges if e is not None]
        if bounded != sorted(set(bounded)):
            raise TariffError(f"tariff {tariff.code}: slab edges must increase")
        if any(s.rate < 0 for s in v.slabs) or v.fixed_per_kw_month < 0 or v.duty_rate < 0:
            raise TariffError(f"tariff {tariff.code}: rates cannot be negative")


def load_tariff(path: Path) -> Tariff:
    """A tariff from a TOML file."""
    return parse_tariff(path.read_text(encoding="utf-8"))


def builtin_tariffs() -> dict[str, Tariff]:
    """The tariffs shipped with bijli, by code."""
    found: dict[str, Tariff] = {}
    for entry in resources.files("bijli.prepaid.tariffs").iterdir():
        if entry.name.endswith(".toml"):
            tariff = parse_tariff(entry.read_text(encoding="utf-8"))
            found[tariff.code] = tariff
    return found
