"""A small city with transformers' meters, fed whole days of readings through the real
head-end path (sealed frames, ingest, settlement): each household's own daily shape, the
transformer's meter reading their real draw plus technical losses, street lights and hooks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bijli.bootstrap import Platform
from bijli.fleet.city import Consumer, TransformerMeter, build_city, transformer_meters
from bijli.fleet.commissioning import commission_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, epoch, ist_midnight
from bijli.mdm.handlers import settle_all
from bijli.network.losses import is_night
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import PROTOCOL_VERSION, IntervalRecord, ReadingFrame

NO_LOAD_W = 120.0
"""Every transformer's no-load loss."""
I2R = 6.0e-6
"""Wh lost per (Wh in an interval)²."""


def household_wh(n: int, slot: int) -> int:
    """Household `n`'s Wh in the IST day's interval `slot`: a base, a morning and an evening
    peak, each household its own size and timing."""
    hour = slot / 4
    size = 1.0 + (n * 37 % 11) / 10
    shift = (n * 13 % 5) - 2
    base = 40 + 10 * math.sin(n)
    morning = 90 * math.exp(-(((hour - 7 - shift / 2) / 1.5) ** 2))
    evening = 160 * math.exp(-(((hour - 20 - shift / 2) / 2.0) ** 2))
    return max(0, round(size * (base + morning + evening)))


@dataclass
class EnergyCity:
    """The city, its transformers' meters and every meter's register and frame counter."""

    consumers: list[Consumer]
    transformers: list[TransformerMeter]
    registers: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def on(self, transformer: str) -> list[Consumer]:
        return [c for c in self.consumers if c.transformer == transformer]


def energy_city(p: Platform, meters: int, installed: datetime) -> EnergyCity:
    """`meters` consumers (fifty to a transformer) and a meter on each transformer, in service."""
    city = build_city(meters)
    dts = transformer_meters(city)
    commission_city(p.store, p.settings.tariff_code, city, installed, dts)
    ec = EnergyCity(city, dts)
    for c in city:
        ec.registers[c.meter_id] = c.initial_register_wh
    for d in dts:
        ec.registers[d.meter_id] = 0
    return ec


def feed_day(
    p: Platform,
    ec: EnergyCity,
    day: date,
    *,
    hooks_w: Mapping[str, float] | None = None,
    hook_from: int = 0,
    lights_w: Mapping[str, float] | None = None,
    recorded_share: Mapping[str, float] | None = None,
    silent: Sequence[str] = (),
    scale: Mapping[str, float] | None = None,
) -> dict[str, list[IntervalRecord]]:
    """One IST day of every meter's readings, ingested and settled after the day: hooks (from
    interval `hook_from` to midnight) and street lights (watts) per transformer, a share of the
    real draw some consumers' meters record (tampering), meters that send nothing (their
    readings are returned, to be delivered late), a household's draw scaled (a drop)."""
    hooks_w, lights_w = hooks_w or {}, lights_w or {}
    recorded_share, scale = recorded_share or {}, scale or {}
    start = ist_midnight(day)
    index = {c.meter_id: n for n, c in enumerate(ec.consumers)}
    records: dict[str, list[IntervalRecord]] = {}
    for d in ec.transformers:
        real_sum = [0] * INTERVALS_PER_DAY
        for c in ec.on(d.transformer):
            real = [round(household_wh(index[c.meter_id], s) * scale.get(c.meter_id, 1.0)) for s in range(96)]
            share = recorded_share.get(c.meter_id, 1.0)
            recs = []
            for s in range(INTERVALS_PER_DAY):
                real_sum[s] += real[s]
                wh = round(real[s] * share)
                ec.registers[c.meter_id] += wh
                recs.append(_record(start + s * INTERVAL, wh, ec.registers[c.meter_id]))
            records[c.meter_id] = recs
        recs = []
        for s in range(INTERVALS_PER_DAY):
            extra_w = NO_LOAD_W + (hooks_w.get(d.transformer, 0.0) if s >= hook_from else 0.0)
            if is_night(s):
                extra_w += lights_w.get(d.transformer, 0.0)
            wh = round(real_sum[s] + I2R * real_sum[s] ** 2 + extra_w / 4)
            ec.registers[d.meter_id] += wh
            recs.append(_record(start + s * INTERVAL, wh, ec.registers[d.meter_id]))
        records[d.meter_id] = recs
    deliver(p, ec, {m: recs for m, recs in records.items() if m not in silent}, start + timedelta(days=1, minutes=5))
    return {m: recs for m, recs in records.items() if m in silent}


def deliver(p: Platform, ec: EnergyCity, records: Mapping[str, list[IntervalRecord]], now: datetime) -> None:
    """Meters' readings sent at `now`, ingested and settled."""
    deliveries = []
    keys = p.settings.site_keys
    for meter_id, recs in records.items():
        fc = ec.counters[meter_id] = ec.counters.get(meter_id, 0) + 1
        frame = ReadingFrame(v=PROTOCOL_VERSION, m=meter_id, fc=fc, ts=epoch(now) - 60, intervals=recs)
        deliveries.append(Delivery(topics.uplink("bijli", meter_id, "reading"), seal(keys.frame_key(meter_id), frame)))
    ingest_batch(p.store, deliveries, p.ring, "bijli", now)
    settle_all(p.store, now)


def _record(start: datetime, wh: int, total: int) -> IntervalRecord:
    return IntervalRecord(
        start=epoch(start),
        import_wh=wh,
        import_vah=wh + wh // 20,
        export_wh=0,
        voltage_dv=2310 if wh else 2305,
        current_ma=round(wh * 4 / 230 * 1000),
        import_wh_total=total,
    )
