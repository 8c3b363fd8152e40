"""A simulated city's network: areas, feeders, distribution transformers, consumers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AREAS = (("Civil Lines", "CL"), ("Mall Road", "MR"))
CONSUMERS_PER_TRANSFORMER = 50
TRANSFORMERS_PER_FEEDER = 20
SANCTIONED_LOADS_W = (1000, 2000, 3000, 5000, 7000, 10000)
SANCTIONED_WEIGHTS = (0.30, 0.30, 0.20, 0.12, 0.05, 0.03)
FIRST_NAMES = ("Aarti", "Rakesh", "Sunita", "Imran", "Priya", "Vijay", "Neha", "Arjun", "Fatima", "Manoj")
LAST_NAMES = ("Sharma", "Verma", "Gupta", "Khan", "Yadav", "Srivastava", "Mishra", "Singh", "Agarwal")


@dataclass(frozen=True, slots=True, kw_only=True)
class Consumer:
    """One metered connection in the simulated city."""

    meter_id: str
    account_no: str
    consumer_name: str
    mobile: str
    area: str
    feeder: str
    transformer: str
    phases: int
    sanctioned_load_w: int
    opening_balance_paise: int
    initial_register_wh: int
    """The import register when the meter was installed (read off its display)."""


def consumer_meter_id(i: int) -> str:
    """The meter id of the city's `i`-th consumer (from 0): areas alternate, numbered within each."""
    return f"KN{AREAS[i % len(AREAS)][1]}{i // len(AREAS) + 1:07d}"


def build_city(meters: int, seed: int = 7) -> list[Consumer]:
    """`meters` consumers split evenly over the areas, fifty to a transformer."""
    rng = np.random.default_rng(seed)
    loads = rng.choice(SANCTIONED_LOADS_W, size=meters, p=SANCTIONED_WEIGHTS)
    openings = rng.integers(5, 41, size=meters) * 5000  # Rs 250 .. Rs 2,000, in paise
    registers = rng.integers(1_000_000, 9_000_000, size=meters)
    people: list[Consumer] = []
    for i in range(meters):
        area, code = AREAS[i % len(AREAS)]
        n = i // len(AREAS)
        dt = n // CONSUMERS_PER_TRANSFORMER
        feeder = dt // TRANSFORMERS_PER_FEEDER
        load = int(loads[i])
        people.append(
            Consumer(
                meter_id=f"KN{code}{n + 1:07d}",
                account_no=f"KESCO{code}{n + 1:07d}",
                consumer_name=f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[(i // 7) % len(LAST_NAMES)]}",
                mobile=f"+9198{i:08d}",
                area=area,
                feeder=f"{code}-F{feeder + 1:02d}",
                transformer=f"{code}-F{feeder + 1:02d}-DT{dt % TRANSFORMERS_PER_FEEDER + 1:02d}",
                phases=3 if load >= 7000 else 1,
                sanctioned_load_w=load,
                opening_balance_paise=int(openings[i]),
                initial_register_wh=int(registers[i]),
            )
        )
    return people


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformerMeter:
    """The meter on a distribution transformer: it sees everything its consumers draw."""

    meter_id: str
    area: str
    feeder: str
    transformer: str


def transformer_meters(city: list[Consumer]) -> list[TransformerMeter]:
    """One DT meter for each transformer the consumers hang on, in order of first appearance."""
    seen: dict[str, TransformerMeter] = {}
    for c in city:
        if c.transformer not in seen:
            code = c.transformer.split("-", 1)[0]
            seen[c.transformer] = TransformerMeter(
                meter_id=f"KN{code}T{len([t for t in seen.values() if t.area == c.area]) + 1:05d}",
                area=c.area,
                feeder=c.feeder,
                transformer=c.transformer,
            )
    return list(seen.values())
