"""Onboarding sheets as a field installer's app would export them, with bad rows where asked."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

HEADER = [
    "consumer_id",
    "consumer_name",
    "mobile",
    "language",
    "address",
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
    "opening_balance",
    "arrears",
]
AREAS = (("Civil Lines", "CL"), ("Mall Road", "MR"), ("Swaroop Nagar", "SN"))


def sheet_row(i: int) -> dict[str, str]:
    """The i-th consumer of a pilot (from 0): every third owes arrears, the rest carry a balance."""
    area, code = AREAS[i % len(AREAS)]
    dt = i // 50
    return {
        "consumer_id": f"C{i + 1:07d}",
        "consumer_name": f"Consumer {i + 1}",
        "mobile": f"98{i:08d}",
        "language": "en" if i % 4 == 0 else "hi",
        "address": f"{i % 300 + 1}/{dt}, {area}, Kanpur",
        "account_no": f"KESCO{code}{i + 1:07d}",
        "meter_id": f"KN{code}{i + 1:07d}",
        "tariff_category": "UP-LMV1-DU",
        "sanctioned_load_kw": "7.5" if i % 10 == 0 else "2",
        "phase": "3" if i % 10 == 0 else "1",
        "area": area,
        "feeder": f"{code}-F{dt // 10 + 1:02d}",
        "transformer": f"{code}-F{dt // 10 + 1:02d}-DT{dt % 10 + 1:02d}",
        "installed_on": f"{(i % 28) + 1:02d}-10-2026",
        "opening_register_kwh": f"{1000 + i % 9000}.{i % 1000:03d}",
        "opening_balance": "" if i % 3 == 0 else f"{250 + i % 1750}.50",
        "arrears": f"{100 + i % 900}.00" if i % 3 == 0 else "",
    }


def write_sheet(path: Path, n: int, bad: Mapping[int, dict[str, str]] | None = None) -> None:
    """n rows; `bad` replaces cells of some rows (by index from 0) to make them bad."""
    bad = bad or {}
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        for i in range(n):
            w.writerow(sheet_row(i) | bad.get(i, {}))
