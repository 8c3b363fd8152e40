"""Many meter twins at once: registers and counters in arrays, frames signed per meter."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from bijli.fleet.city import Consumer
from bijli.fleet.load import household_scale, interval_wh, voltage_dv
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, ist_day, ist_midnight, month_key
from bijli.prepaid.model import Connection, daily_fixed_charges, interval_charges
from bijli.prepaid.tariff import Tariff
from bijli.protocol import keys, topics
from bijli.protocol.codec import seal_with
from bijli.protocol.frames import PROTOCOL_VERSION, IntervalRecord, ReadingFrame, StatusFrame

OPERATORS = ("Jio", "Airtel")
STATUS_EVERY = 4
"""Status frames go out every hour (every fourth interval) and on the first round."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A sealed frame and the topic it goes out on."""

    topic: str
    payload: bytes


class Fleet:
    """Meter twins for a list of consumers, reporting each 15-minute interval."""

    def __init__(
        self,
        consumers: Sequence[Consumer],
        site_secret: bytes,
        tariff: Tariff,
        root: str = "bijli",
        seed: int = 7,
    ) -> None:
        self.consumers = list(consumers)
        self.root = root
        self.seed = seed
        n = len(self.consumers)
        self.sanctioned_w = np.array([c.sanctioned_load_w for c in self.consumers], dtype=np.int64)
        self.scale_w = household_scale(self.sanctioned_w, seed)
        self.import_wh_total = np.random.default_rng([seed, 4]).integers(1_000_000, 9_000_000, size=n)
        self.frame_counter = np.zeros(n, dtype=np.int64)
        self.balance_paise = [c.opening_balance_paise for c in self.consumers]
        self._macs = [
            hmac.new(keys.frame_key(site_secret, c.meter_id), digestmod=hashlib.sha256) for c in self.consumers
        ]
        self._supply = [
            Connection(
                account_no=c.account_no,
                meter_id=c.meter_id,
                sanctioned_load_w=c.sanctioned_load_w,
                tariff=tariff,
            )
            for c in self.consumers
        ]
        self._month: str | None = None
        self._month_opening = self.import_wh_total.copy()
        self._rounds = 0
        self._charged_day: date | None = None

    def credit(self, index: int, amount_paise: int) -> None:
        """A recharge reached meter `index`'s credit mirror."""
        self.balance_paise[index] += amount_paise

    def report(self, start: datetime) -> list[Outgoing]:
        """Meter the interval starting at `start` and seal every meter's frames for it."""
        index = epoch(start) // INTERVAL_S
        wh = interval_wh(self.scale_w, self.sanctioned_w, start, self.seed, index)
        month = month_key(ist_day(start))
        if month != self._month:
            self._month = month
            self._month_opening = self.import_wh_total.copy()
        mtd_before = self.import_wh_total - self._month_opening
        self.import_wh_total += wh
        volts = voltage_dv(len(wh), self.seed, index)
        milliamps = np.rint(wh * 4 * 1e4 / np.maximum(volts, 1)).astype(np.int64)
        vah = np.rint(wh / 0.92).astype(np.int64)
        end_epoch = epoch(start + INTERVAL)
        new_day = ist_day(start) != self._charged_day
        self._charged_day = ist_day(start)
        with_status = self._rounds % STATUS_EVERY == 0
        self._rounds += 1

        out: list[Outgoing] = []
        t0 = epoch(start)
        for i, c in enumerate(self.consumers):
            self._charge(i, start, int(mtd_before[i]), int(wh[i]), new_day)
            record = IntervalRecord(
                start=t0,
                import_wh=int(wh[i]),
                import_vah=int(vah[i]),
                export_wh=0,
                voltage_dv=int(volts[i]),
                current_ma=int(milliamps[i]),
                import_wh_total=int(self.import_wh_total[i]),
            )
            reading = ReadingFrame(
                v=PROTOCOL_VERSION, m=c.meter_id, fc=self._next_fc(i), ts=end_epoch, intervals=[record]
            )
            out.append(self._seal(i, "reading", reading))
            if with_status:
                status = StatusFrame(
                    v=PROTOCOL_VERSION,
                    m=c.meter_id,
                    fc=self._next_fc(i),
                    ts=end_epoch,
                    sim=1,
                    operator=OPERATORS[i % 2],
                    rssi_dbm=-65 - (i * 7) % 30,
                    relay=1,
                    balance_paise=self.balance_paise[i],
                )
                out.append(self._seal(i, "status", status))
        return out

    def _charge(self, i: int, start: datetime, mtd_before: int, wh: int, first_of_day: bool) -> None:
        """The meter's own copy of the tariff keeps its credit mirror."""
        entries = interval_charges(self._supply[i], start, mtd_before, wh)
        if first_of_day:
            day = ist_day(start)
            entries += daily_fixed_charges(self._supply[i], day, ist_midnight(day))
        self.balance_paise[i] += sum(e.amount_paise for e in entries)

    def _next_fc(self, i: int) -> int:
        self.frame_counter[i] += 1
        return int(self.frame_counter[i])

    def _seal(self, i: int, kind: str, frame: ReadingFrame | StatusFrame) -> Outgoing:
        topic = topics.uplink(self.root, self.consumers[i].meter_id, kind)
        return Outgoing(topic, seal_with(self._macs[i], frame))
