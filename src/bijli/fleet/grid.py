"""A distribution network as lossy as a real one, for the twin's transformer meters.

Without it (`GridOptions.lossy` false, the default) a DT meter reads its consumers' real
energy times 1.03 plus any hooked load, and every consumer meter records exactly what it meters.
With it, per transformer and per 15-minute interval:

- **technical losses**: a no-load (core) part that flows whenever the transformer has
  supply, and a load part growing with the square of the load (copper and line losses,
  I²R), each transformer with its own share of loss at its own typical peak;
- **street lights** on some transformers: legitimate unmetered load switched on a schedule
  (about 18:00 to 06:00 IST, each transformer's timer a few minutes off);
- **meter errors within the accuracy class**: consumers class 1.0 (within ±1 %), DT meters
  class 0.5S (within ±0.5 %), each a fixed bias of the meter plus noise per interval;
- **hooked load** (a scenario's `hooking` event) adds to the energy in, and to the losses.

What each transformer really took in, and where it went, is kept per IST day in a ledger
(`Ledger`), the ground truth of the energy balance. Consumers whose meters are offline for
a while (a dead modem: they keep metering and deliver when back) are scenario actions, chosen
in `bijli.fleet.scenario`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from bijli.fleet.sensing import Sensing
from bijli.kernel.time import INTERVAL_S, IST

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
DT_LOSSES = 1.03
"""Without a lossy grid, a transformer's meter sees its consumers' real load plus 3% technical losses."""


def flat_network(real: Ints, wh: Ints, dt_index: Ints, sensing: Sensing, t_end: float) -> None:
    """Without a lossy grid each DT meter (in `wh` after the consumers) reads its consumers' `real`
    energy times `DT_LOSSES` plus the load hooked on, exactly, while it has supply."""
    nc, on = len(dt_index), dt_index >= 0
    hooked = sensing.take_hooked_wh(nc, t_end)
    supplied = ~sensing.active["power_failure"][nc:]
    seen = np.bincount(dt_index[on] - nc, weights=real[:nc][on], minlength=len(hooked))
    wh[nc:] = np.rint((seen * DT_LOSSES + hooked) * supplied).astype(np.int64)


@dataclass(frozen=True, slots=True, kw_only=True)
class GridOptions:
    """How lossy the network is (a scenario's `[network]` table)."""

    lossy: bool = False
    consumer_class_pct: float = 1.0
    """Consumer meters' accuracy class (IS 13779 class 1.0: within ±1 %)."""
    dt_class_pct: float = 0.5
    """DT meters' accuracy class (0.5S: within ±0.5 %)."""
    load_loss_at_peak: tuple[float, float] = (0.03, 0.07)
    """Copper and line losses as a share of the load at the transformer's typical peak, drawn
    per transformer from this span; they scale with the square of the load."""
    no_load_w: tuple[float, float] = (150.0, 350.0)
    """Core losses in watts while the transformer has supply, per transformer."""
    street_lights: float = 0.3
    """Share of transformers that feed street lights (unmetered, legitimate)."""
    street_light_w: tuple[float, float] = (500.0, 1500.0)
    lights_on_min: int = 18 * 60
    lights_off_min: int = 6 * 60
    lights_jitter_min: int = 25
    """Each transformer's timer switches up to this many minutes either side of on and off."""
    loss_day_sigma: float = 0.08
    """Day to day, each transformer's load losses vary by about this much (heat, imbalance)."""
    lamps_out: float = 0.15
    """On a given night up to this share of a transformer's street lamps are out."""
    offline: float = 0.0
    """Share of consumer meters whose modem dies for a while (12 h to 3 days) during the run:
    they keep metering and deliver their backlog when back; meanwhile the platform estimates."""

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> GridOptions:
        """A scenario's `[network]` table: `lossy`, `street_lights`, `offline` (shares), ..."""
        known = {"lossy", "street_lights", "offline", "consumer_class_pct", "dt_class_pct"}
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[network] knows {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")
        options = cls(
            lossy=bool(table.get("lossy", True)),
            street_lights=float(table.get("street_lights", 0.3)),
            offline=float(table.get("offline", 0.0)),
            consumer_class_pct=float(table.get("consumer_class_pct", 1.0)),
            dt_class_pct=float(table.get("dt_class_pct", 0.5)),
        )
        for name in ("street_lights", "offline"):
            if not 0.0 <= getattr(options, name) <= 1.0:
                raise ValueError(f"[network] {name} is a share of meters, from 0 to 1")
        if not (0 < options.consumer_class_pct <= 5 and 0 < options.dt_class_pct <= 5):
            raise ValueError("[network] accuracy classes are percentages above 0, at most 5")
        return options


@dataclass(slots=True)
class DayLedger:
    """What each transformer really took in on one IST day, and where it went (Wh)."""

    consumers_real: Floats
    """Energy the consumers really drew (tamper or not)."""
    consumers_recorded: Ints
    """Energy the consumers' meters recorded (tampers and meter errors included)."""
    load_losses: Floats
    no_load_losses: Floats
    street_lights: Floats
    hooked: Floats
    dt_real: Floats
    """Energy into the transformer: all of the above but what was recorded."""
    dt_recorded: Ints
    """What the DT meter recorded."""


@dataclass(slots=True)
class Ledger:
    days: dict[date, DayLedger] = field(default_factory=dict)

    def day(self, d: date, transformers: int) -> DayLedger:
        if d not in self.days:
            zero = np.zeros(transformers)
            self.days[d] = DayLedger(
                zero.copy(),
                np.zeros(transformers, dtype=np.int64),
                zero.copy(),
                zero.copy(),
                zero.copy(),
                zero.copy(),
                zero.copy(),
                np.zeros(transformers, dtype=np.int64),
            )
        return self.days[d]


class LossyGrid:
    """Each transformer's losses, street lights and meters' errors, fixed by the seed."""

    def __init__(
        self, options: GridOptions, peak_w: Floats, meters: int, first_dt: int, seed: int, dt_index: Ints | None = None
    ) -> None:
        rng = np.random.default_rng([seed, 41])
        nt = len(peak_w)
        self.options = options
        self.seed = seed
        self.first_dt = first_dt
        self.dt_index = np.full(first_dt, -1, dtype=np.int64) if dt_index is None else dt_index
        """Each consumer's DT meter (index among all meters), -1 for none."""
        share = rng.uniform(*options.load_loss_at_peak, size=nt)
        self.loss_per_w = share / np.maximum(peak_w, 1.0)
        """Load losses in W per W² of load: at the typical peak, `share` of it."""
        self.no_load_w = rng.uniform(*options.no_load_w, size=nt)
        lit = rng.random(nt) < options.street_lights
        self.street_light_w = np.where(lit, rng.uniform(*options.street_light_w, size=nt), 0.0)
        jitter = options.lights_jitter_min
        self.lights_on_min = options.lights_on_min + rng.integers(-jitter, jitter + 1, size=nt)
        self.lights_off_min = options.lights_off_min + rng.integers(-jitter, jitter + 1, size=nt)
        # A meter's error: a fixed bias within two thirds of its class, noise for the rest.
        is_dt = np.arange(meters) >= first_dt
        cls = np.where(is_dt, options.dt_class_pct, options.consumer_class_pct) / 100.0
        self.class_limit = cls
        self.bias = rng.uniform(-1.0, 1.0, size=meters) * cls * 2.0 / 3.0
        self.noise = cls / 6.0
        self.ledger = Ledger()
        self._days: dict[date, tuple[Floats, Floats]] = {}

    @classmethod
    def of(
        cls, options: GridOptions, dt_index: Ints, scale_w: Floats, transformers: int, seed: int
    ) -> LossyGrid | None:
        """The fleet's grid, if `options` make it lossy: each transformer's typical peak is the sum
        of its consumers' (`scale_w`); `dt_index`: each consumer's DT meter, -1 for none."""
        if not options.lossy:
            return None
        nc = len(dt_index)
        on = dt_index >= 0
        peak_w = np.bincount(dt_index[on] - nc, weights=scale_w[:nc][on], minlength=transformers).astype(np.float64)
        return cls(options, peak_w, nc + transformers, nc, seed, dt_index)

    def meter(
        self, start: datetime, n_index: int, demand: Ints, supply_share: Floats, record_share: Floats, sensing: Sensing
    ) -> Ints:
        """What every meter records over the interval from `start`: each consumer drew its `demand`
        times its `supply_share` and its meter measured `record_share` of it (tampers) before its
        error; load hooked onto a transformer (`sensing`) adds to its energy in. The ledger takes it all."""
        real, metered = demand * supply_share, demand * record_share
        hooked = sensing.take_hooked_wh(self.first_dt, float(start.timestamp()) + INTERVAL_S)
        nc, nt = self.first_dt, len(self.no_load_w)
        on_dt = self.dt_index >= 0
        of_dt = self.dt_index[on_dt] - nc
        drawn = np.bincount(of_dt, weights=real[:nc][on_dt], minlength=nt).astype(np.float64)
        supplied = supply_share[nc:]
        hooked = hooked * supplied
        energy_in, load_losses, no_load, lights = self.transformer_wh(start, drawn, hooked, supplied)
        truly = np.concatenate([metered[:nc], energy_in])
        wh: Ints = np.rint(truly * (1.0 + self.errors(n_index))).astype(np.int64)
        book = self.ledger.day(start.astimezone(IST).date(), nt)
        book.consumers_real += drawn
        book.consumers_recorded += np.bincount(of_dt, weights=wh[:nc][on_dt], minlength=nt).astype(np.int64)
        book.load_losses += load_losses
        book.no_load_losses += no_load
        book.street_lights += lights
        book.hooked += hooked
        book.dt_real += energy_in
        book.dt_recorded += wh[nc:]
        return wh

    def errors(self, interval_index: int) -> Floats:
        """Each meter's relative error over one interval, within its class."""
        rng = np.random.default_rng([self.seed, 43, interval_index])
        error = self.bias + rng.normal(0.0, 1.0, size=self.bias.shape) * self.noise
        clipped: Floats = np.clip(error, -self.class_limit, self.class_limit)
        return clipped

    def lit_share(self, start: datetime) -> Floats:
        """Share of the interval from `start` each transformer's street lights were on."""
        local = start.astimezone(IST)
        first = local.hour * 60 + local.minute + local.second / 60.0
        last = first + INTERVAL_S / 60.0
        # Lit from `on` to midnight and from midnight to `off` (intervals never span midnight).
        evening = np.clip(last - np.maximum(first, self.lights_on_min), 0.0, None)
        morning = np.clip(np.minimum(last, self.lights_off_min) - first, 0.0, None)
        share: Floats = np.clip((evening + morning) / (last - first), 0.0, 1.0)
        return share

    def day_factors(self, day: date) -> tuple[Floats, Floats]:
        """(load-loss factor, share of lamps lit) of each transformer on an IST day: the
        conductors' resistance follows the day's heat, and some lamps are out some nights."""
        if day not in self._days:
            rng = np.random.default_rng([self.seed, 45, day.toordinal()])
            nt = len(self.no_load_w)
            loss = rng.lognormal(0.0, self.options.loss_day_sigma, size=nt)
            lamps = rng.uniform(1.0 - self.options.lamps_out, 1.0, size=nt)
            self._days = {day: (loss, lamps)}
        return self._days[day]

    def transformer_wh(
        self, start: datetime, consumers_wh: Floats, hooked_wh: Floats, supplied: Floats
    ) -> tuple[Floats, Floats, Floats, Floats]:
        """(energy in, load losses, no-load losses, street lights) of each transformer over the
        interval, from what its consumers drew and what was hooked on; `supplied`: the share of
        the interval each transformer had supply."""
        loss_factor, lamps = self.day_factors(start.astimezone(IST).date())
        lights = self.street_light_w * lamps * self.lit_share(start) * supplied / 4.0
        load_w = (consumers_wh + hooked_wh + lights) * 4.0
        load_losses = self.loss_per_w * loss_factor * load_w * load_w / 4.0
        no_load = self.no_load_w * supplied / 4.0
        energy_in = consumers_wh + hooked_wh + lights + load_losses + no_load
        return energy_in, load_losses, no_load, lights

    def facts(self, transformers: list[str]) -> list[dict[str, Any]]:
        """Ground truth: each transformer's loss parameters and street lights."""
        return [
            {
                "kind": "network",
                "transformer": name,
                "no_load_w": round(float(self.no_load_w[j]), 1),
                "load_loss_per_kw2": round(float(self.loss_per_w[j]) * 1000.0, 6),
                "street_light_w": round(float(self.street_light_w[j]), 1),
                "lights_on": f"{int(self.lights_on_min[j]) // 60:02d}:{int(self.lights_on_min[j]) % 60:02d}",
                "lights_off": f"{int(self.lights_off_min[j]) // 60:02d}:{int(self.lights_off_min[j]) % 60:02d}",
            }
            for j, name in enumerate(transformers)
        ]

    def ledger_facts(self, transformers: list[str]) -> list[dict[str, Any]]:
        """Ground truth: per transformer and IST day, the energy in and where it went (Wh)."""
        rows = []
        for d, book in sorted(self.ledger.days.items()):
            for j, name in enumerate(transformers):
                rows.append(
                    {
                        "kind": "energy",
                        "transformer": name,
                        "day": d.isoformat(),
                        "dt_recorded_wh": int(book.dt_recorded[j]),
                        "dt_real_wh": round(float(book.dt_real[j])),
                        "consumers_real_wh": round(float(book.consumers_real[j])),
                        "consumers_recorded_wh": int(book.consumers_recorded[j]),
                        "load_losses_wh": round(float(book.load_losses[j])),
                        "no_load_losses_wh": round(float(book.no_load_losses[j])),
                        "street_lights_wh": round(float(book.street_lights[j])),
                        "hooked_wh": round(float(book.hooked[j])),
                    }
                )
        return rows
