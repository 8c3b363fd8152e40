"""A fleet of meter twins: every meter's registers, relay, credit, modem and sensors in arrays.

The fleet moves by moments in time order: `advance(to)` runs the modems' timers up to a
moment, `close_interval(start)` meters the 15 minutes from `start`, and the scenario methods
(`network`, `broker`, `condition`, `command`, `press_button`, `redeem`) change the world in
between. Whatever the meters send comes out of `take_outgoing()` in the order it was sent,
sealed, each with the moment it went out. A meter that cannot talk keeps what it would have
sent (readings, daily snapshots, events, token redemptions) and delivers it, oldest first,
as soon as it is connected again; it seals frames only when it sends them, so a frame
counter never goes backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from bijli.fleet.city import Consumer, TransformerMeter
from bijli.fleet.load import household_scale, interval_wh, voltage_dv
from bijli.kernel.time import INTERVAL_S, IST, epoch, ist_day, month_key, utc_from_epoch
from bijli.meter.credit import MirrorTariff
from bijli.meter.modem import DEFAULT_TIMERS, ModemTimers
from bijli.meter.sensors import CONDITIONS
from bijli.prepaid.policy import UPPCL, PrepaidPolicy
from bijli.prepaid.tariff import Tariff
from bijli.protocol import keys, tokens, topics
from bijli.protocol.codec import Refusal, Sealer, open_command
from bijli.protocol.events import EventCode
from bijli.protocol.frames import (
    PROTOCOL_VERSION,
    REGISTER_MODULUS,
    AckFrame,
    CommandFrame,
    DailyFrame,
    DailyRecord,
    Event,
    EventFrame,
    IntervalRecord,
    ReadingFrame,
    Redemption,
    StatusFrame,
    TokenFrame,
)
from bijli.protocol.relay import RelayState

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
OPERATORS = ("Jio", "Airtel")
NEVER = 2**62
STATUS_EVERY = 4
READINGS_PER_FRAME = 96
DT_LOSSES = 1.03
"""A transformer's meter sees its consumers' real load plus about 3% technical losses."""

Frame = ReadingFrame | DailyFrame | EventFrame | StatusFrame | AckFrame | TokenFrame


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A sealed frame, the moment it went out, and the topic it went out on."""

    at: float
    meter: int
    topic: str
    payload: bytes
    frame: Frame


@dataclass(frozen=True, slots=True, kw_only=True)
class TwinOptions:
    """How the fleet's meters are configured."""

    timers: ModemTimers = DEFAULT_TIMERS
    operators: tuple[str, str] = OPERATORS
    hotspot_window_s: int = 300
    history_days: int = 2
    """How far back the meter can answer a profile read (real meters: 45-90 days; the twin
    keeps 20 bytes per meter per interval, so 90 days of 24,000 meters take 4 GB)."""
    policy: PrepaidPolicy = UPPCL
    drift_ppm: float = 2.0
    """Typical RTC drift; each meter gets a random drift within ±this."""


@dataclass(slots=True)
class Backlog:
    """What a meter holds while it cannot talk."""

    intervals: list[IntervalRecord] = field(default_factory=list)
    days: list[DailyRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    redemptions: list[Redemption] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.intervals or self.days or self.events or self.redemptions)


class FleetTwin:
    """Consumer meters and transformer meters of a city, on one simulated timeline."""

    def __init__(
        self,
        consumers: Sequence[Consumer],
        transformers: Sequence[TransformerMeter],
        site_secret: bytes,
        tariff: Tariff,
        *,
        start: datetime,
        root: str = "bijli",
        seed: int = 7,
        options: TwinOptions | None = None,
        first_counter: int | None = None,
    ) -> None:
        self.options = options or TwinOptions()
        self.root = root
        self.seed = seed
        self.tariff = tariff
        self.consumers = list(consumers)
        self.transformers = list(transformers)
        nc, nt = len(self.consumers), len(self.transformers)
        n = self.n = nc + nt
        self.n_consumers = nc
        self.meter_ids = [c.meter_id for c in self.consumers] + [t.meter_id for t in self.transformers]
        self.index = {m: i for i, m in enumerate(self.meter_ids)}
        self.areas = np.array([c.area for c in self.consumers] + [t.area for t in self.transformers])
        dt_of = {t.transformer: nc + j for j, t in enumerate(self.transformers)}
        self.dt_index = np.array([dt_of.get(c.transformer, -1) for c in self.consumers], dtype=np.int64)
        self.transformer_of = np.array(
            [c.transformer for c in self.consumers] + [t.transformer for t in self.transformers]
        )
        rng = np.random.default_rng([seed, 10])

        self.phases = np.array([c.phases for c in self.consumers] + [3] * nt, dtype=np.int64)
        self.sanctioned_w = np.array([c.sanctioned_load_w for c in self.consumers] + [0] * nt, dtype=np.int64)
        self.scale_w = household_scale(self.sanctioned_w, seed)
        self.reg_import = np.concatenate(
            [
                np.array([c.initial_register_wh for c in self.consumers], dtype=np.int64),
                rng.integers(1_000_000, 9_000_000, size=nt).astype(np.int64),
            ]
        )
        self.reg_export = np.zeros(n, dtype=np.int64)
        self.reg_vah = (self.reg_import * 109 // 100).astype(np.int64)
        self.month_wh = np.zeros(n, dtype=np.int64)
        self._month = month_key(ist_day(start))
        # Real meters keep their frame counter through power cycles; a twin that starts again
        # starts above anything it sent before by counting from the wall clock in ms.
        base = int(datetime.now(IST).timestamp() * 1000) if first_counter is None else first_counter
        self.fc = np.full(n, base, dtype=np.int64)
        self.last_command_fc = np.zeros(n, dtype=np.int64)
        self.relay = np.ones(n, dtype=np.bool_)
        self.relay_for_credit = np.zeros(n, dtype=np.bool_)
        self.balance = np.array([c.opening_balance_paise for c in self.consumers] + [0] * nt, dtype=np.int64)
        self.negative_since = np.full(n, NEVER, dtype=np.int64)
        self.is_consumer = np.arange(n) < nc

        # Sensed conditions and what they do to the interval being metered.
        self.active = {name: np.zeros(n, dtype=np.bool_) for name in CONDITIONS}
        self._mark = np.full(n, float(epoch(start)))
        self._supply_acc = np.zeros(n)
        self._record_acc = np.zeros(n)
        self.hooking_w = np.zeros(n)
        self._hook_acc = np.zeros(n)
        """Watt-seconds of hooked load so far in the interval being metered."""
        self._hook_mark = np.full(n, float(epoch(start)))
        """Unmetered load hooked onto each transformer (indexed by the DT meter)."""

        # Modem: SIM 1 is preferred; about half the fleet, at random, has each operator first.
        first = rng.integers(0, 2, size=n)
        self.sim_operator = np.stack([first, 1 - first])  # [sim slot, meter] -> operator index
        self.net_up = np.ones((2, n), dtype=np.bool_)
        self.net_up_since = np.full((2, n), float(epoch(start)))
        self.active_sim = np.zeros(n, dtype=np.int64)  # 0 or 1 (slot index)
        self.connected = np.ones(n, dtype=np.bool_)
        self.reconnect_at = np.full(n, float(NEVER))
        self.reconnect_sim = np.zeros(n, dtype=np.int64)
        self.lost_at = np.full(n, float(NEVER))
        self.sim_seconds = np.zeros((2, n))
        self._accrued_to = float(epoch(start))
        self.failovers = np.zeros(n, dtype=np.int64)
        self.switched_at = np.zeros(n, dtype=np.int64)
        self.rssi = np.stack([rng.integers(-95, -60, size=n), rng.integers(-100, -65, size=n)]).astype(np.int64)
        self.broker_up = True
        self._outages: set[tuple[str, str | None]] = set()

        self.clock_offset = np.zeros(n)
        self.drift = rng.uniform(-self.options.drift_ppm, self.options.drift_ppm, size=n) * 1e-6
        self.hotspot_until = np.zeros(n)
        self.hotspot_window = np.full(n, self.options.hotspot_window_s, dtype=np.int64)
        self.used_tokens: dict[int, tokens.UsedTokens] = {}
        self.backlog: dict[int, Backlog] = {}
        self._depth = self.options.history_days * 96
        self.history = np.zeros((self._depth, 5, n), dtype=np.int32) if self._depth else None
        self._history_start = np.full(max(self._depth, 1), -1, dtype=np.int64)

        self._keys = [keys.frame_key(site_secret, m) for m in self.meter_ids]
        self._sealers = [Sealer(k) for k in self._keys]
        self._frame_keys_secret = site_secret
        self._token_keys: dict[int, bytes] = {}
        self.carried_out: dict[int, dict[str, None]] = {}
        self.pushed_tariffs: dict[int, list[tuple[date, MirrorTariff]]] = {}
        """Tariff versions loaded into a meter by command, by the day each takes effect."""
        """Per meter, the ids of the last commands it carried out (a resend is not done twice)."""
        self._queue: list[tuple[float, int, str, type[Frame], int, dict[str, Any]]] = []
        self._reading_topics = [topics.uplink(root, m, "reading") for m in self.meter_ids]
        self._rounds = 0
        self._charged_day: date | None = None
        self.now = float(epoch(start))

    # ------------------------------------------------------------------ time and connectivity

    @property
    def online(self) -> Bools:
        """Meters that can send right now."""
        talk = ~self.active["comm_module_removed"] & ~self.active["power_failure"]
        result: Bools = self.connected & talk & self.broker_up
        return result

    def advance(self, to: datetime | float) -> None:
        """Run the modems' timers up to `to`: reconnections, returns to the preferred SIM."""
        t = float(to) if isinstance(to, int | float) else float(epoch(to))
        while True:
            due = self.reconnect_at <= t
            pending_return = self._return_due()
            next_return = float(pending_return.min()) if pending_return.size else NEVER
            first = min(float(self.reconnect_at[due].min()) if due.any() else NEVER, next_return)
            if first > t:
                break
            self._accrue(first)
            self.now = max(self.now, first)
            self._connect(self.reconnect_at <= first, first)
            self._return_to_preferred(pending_return <= first, first)
        self._accrue(t)
        self.now = max(self.now, t)

    def _return_due(self) -> npt.NDArray[np.float64]:
        """When each meter would go back to its preferred SIM (NEVER where it would not)."""
        waiting = self.connected & (self.active_sim == 1) & self.net_up[0]
        at = np.where(waiting, self.net_up_since[0] + self.options.timers.return_after_s, float(NEVER))
        return at

    def _accrue(self, t: float) -> None:
        span = max(0.0, t - self._accrued_to)
        if span:
            on = self.connected & self.broker_up & ~self.active["power_failure"] & ~self.active["comm_module_removed"]
            for slot in (0, 1):
                self.sim_seconds[slot] += span * (on & (self.active_sim == slot))
            self.clock_offset += span * self.drift
        self._accrued_to = max(self._accrued_to, t)

    def network(self, operator: str, area: str | None, up: bool, at: datetime | float) -> None:
        """An operator's network goes down (or comes back) in an area (None: everywhere)."""
        t = float(at) if isinstance(at, int | float) else float(epoch(at))
        self.advance(t)
        if up:
            self._outages.discard((operator, area))
        else:
            self._outages.add((operator, area))
        before = self.net_up.copy()
        self._recompute_networks()
        went_down = before & ~self.net_up
        came_up = ~before & self.net_up
        self.net_up_since[came_up] = t
        # The active SIM lost its network: offline now, the other SIM after the timers.
        lost = self.connected & went_down[self.active_sim, np.arange(self.n)]
        self.connected[lost] = False
        self.lost_at[lost] = t
        self._schedule(lost, t + self.options.timers.detect_s)
        # A network came back while the meter had none: register on it.
        stranded = ~self.connected & (self.reconnect_at >= NEVER) & (came_up[0] | came_up[1])
        self._schedule(stranded, t)
        # The preferred network came back while the meter was about to register on the other.
        prefer = ~self.connected & (self.reconnect_at < NEVER) & (self.reconnect_sim == 1) & came_up[0]
        self.reconnect_sim[prefer] = 0
        self.reconnect_at[prefer] = t + self.options.timers.register_s
        # Pending failover whose target network has just gone: look again.
        retarget = ~self.connected & (self.reconnect_at < NEVER) & ~self.net_up[self.reconnect_sim, np.arange(self.n)]
        self.reconnect_at[retarget] = NEVER
        self._schedule(retarget, t)

    def _recompute_networks(self) -> None:
        up = np.ones((2, self.n), dtype=np.bool_)
        for operator, area in self._outages:
            op = self.options.operators.index(operator)
            where = np.ones(self.n, dtype=np.bool_) if area is None else self.areas == area
            for slot in (0, 1):
                up[slot] &= ~(where & (self.sim_operator[slot] == op))
        self.net_up = up

    def _schedule(self, mask: Bools, earliest: float) -> None:
        """Plan a connection for `mask` meters on the best SIM whose network is up."""
        idx = np.nonzero(mask)[0]
        if idx.size == 0:
            return
        pref_up, other_up = self.net_up[0, idx], self.net_up[1, idx]
        target = np.where(pref_up, 0, 1)
        possible = pref_up | other_up
        when = np.where(possible, earliest + self.options.timers.register_s, float(NEVER))
        self.reconnect_at[idx] = np.minimum(self.reconnect_at[idx], when)
        self.reconnect_sim[idx] = np.where(possible, target, self.reconnect_sim[idx])

    def _connect(self, mask: Bools, t: float) -> None:
        idx = np.nonzero(mask)[0]
        if idx.size == 0:
            return
        switched = idx[self.reconnect_sim[idx] != self.active_sim[idx]]
        self.failovers[switched] += 1
        self.switched_at[switched] = int(t)
        self.active_sim[idx] = self.reconnect_sim[idx]
        self.connected[idx] = True
        self.reconnect_at[idx] = NEVER
        self.lost_at[idx] = NEVER
        self._came_online(idx, t)

    def _return_to_preferred(self, mask: Bools, t: float) -> None:
        idx = np.nonzero(mask)[0]
        if idx.size == 0:
            return
        self.active_sim[idx] = 0
        self.failovers[idx] += 1
        self.switched_at[idx] = int(t)
        self._send_statuses(idx[self.online[idx]], t)

    def broker(self, up: bool, at: datetime | float) -> None:
        """The broker goes away (meters keep what they would send) or comes back."""
        t = float(at) if isinstance(at, int | float) else float(epoch(at))
        self.advance(t)
        self.broker_up = up
        if up:
            idx = np.nonzero(self.online)[0]
            self._came_online(idx, t + self.options.timers.register_s)

    def _came_online(self, idx: npt.NDArray[np.int64], t: float) -> None:
        """Meters that can talk again: status first, then their backlog, oldest first."""
        can = self.online[idx]
        for i in idx[can].tolist():
            self._send_status(i, t)
            self._flush(i, t)

    # ------------------------------------------------------------------ sensed conditions

    def condition(self, name: str, meters: Sequence[int], on: bool, at: datetime | float) -> None:
        """A tamper or supply condition starts (or ends) on some meters; they log it at once."""
        t = float(at) if isinstance(at, int | float) else float(epoch(at))
        self.advance(t)
        spec = CONDITIONS[name]
        idx = np.array([i for i in meters if self.active[name][i] != on], dtype=np.int64)
        if idx.size == 0:
            return
        self._mark_shares(idx, t)
        was_online = self.online[idx]
        if not on and spec.restored is None:
            self.active[name][idx] = False  # a cover-open stays logged; nothing to restore
            return
        self.active[name][idx] = on
        code = spec.occurred if on else spec.restored
        assert code is not None
        for k, i in enumerate(idx.tolist()):
            # A meter losing supply or its modem still gets its last gasp out.
            self._event(i, code, t, online=bool(was_online[k]) if on else bool(self.online[i]))
        if not on and not spec.can_talk:
            self._came_online(idx, t)

    def hook(self, transformer: str, watts: float, at: datetime | float) -> None:
        """Unmetered load hooked onto a transformer's lines (0 W: the hook is removed)."""
        t = float(at) if isinstance(at, int | float) else float(epoch(at))
        self.advance(t)
        j = np.nonzero((self.transformer_of == transformer) & ~self.is_consumer)[0]
        self._hook_acc[j] += self.hooking_w[j] * (t - self._hook_mark[j])
        self._hook_mark[j] = t
        self.hooking_w[j] = watts

    def _mark_shares(self, idx: npt.NDArray[np.int64], t: float) -> None:
        supply, recorded = self._shares()
        span = t - self._mark[idx]
        self._supply_acc[idx] += supply[idx] * span
        self._record_acc[idx] += recorded[idx] * span
        self._mark[idx] = t

    def _shares(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Share of the load each meter supplies (relay, supply) and records (tampers)."""
        supply = (self.relay & ~self.active["power_failure"]).astype(np.float64)
        recorded = supply.copy()
        for name, spec in CONDITIONS.items():
            if spec.recorded_share < 1.0 and name != "power_failure":
                recorded = np.where(self.active[name], recorded * spec.recorded_share, recorded)
        return supply, recorded

    # ------------------------------------------------------------------ metering an interval

    def close_interval(self, start: datetime) -> None:
        """Meter the 15 minutes from `start`, charge them, and send (or keep) the readings."""
        t0 = epoch(start)
        t_end = float(t0 + INTERVAL_S)
        self.advance(t_end)
        n_index = t0 // INTERVAL_S
        supply, recorded = self._shares()
        span = t_end - self._mark
        supply_share = (self._supply_acc + supply * span) / INTERVAL_S
        record_share = (self._record_acc + recorded * span) / INTERVAL_S
        self._supply_acc[:] = 0.0
        self._record_acc[:] = 0.0
        self._mark[:] = t_end

        demand = interval_wh(self.scale_w, self.sanctioned_w, start, self.seed, n_index)
        real = np.rint(demand * supply_share).astype(np.int64)
        wh = np.rint(demand * record_share).astype(np.int64)
        nc = self.n_consumers
        if self.transformers:
            seen = np.bincount(
                self.dt_index[:nc][self.dt_index[:nc] >= 0] - nc,
                weights=real[:nc][self.dt_index[:nc] >= 0],
                minlength=len(self.transformers),
            )
            hooked_wh = (self._hook_acc[nc:] + self.hooking_w[nc:] * (t_end - self._hook_mark[nc:])) / 3600.0
            self._hook_acc[:] = 0.0
            self._hook_mark[:] = t_end
            dt_real = seen * DT_LOSSES + hooked_wh
            dt_supply = ~self.active["power_failure"][nc:]
            real[nc:] = np.rint(dt_real * dt_supply).astype(np.int64)
            wh[nc:] = real[nc:]
        volts = voltage_dv(self.n, self.seed, n_index)
        volts = np.where(supply_share > 0, volts, 0)
        # Average current per phase: a three-phase supply shares the load over its phases.
        per_phase = wh * 4 * 1e4 / (np.maximum(volts, 1) * self.phases)
        milliamps = np.where(volts > 0, np.rint(per_phase), 0).astype(np.int64)
        vah = np.rint(wh / 0.92).astype(np.int64)
        self.reg_import = (self.reg_import + wh) % REGISTER_MODULUS
        self.reg_vah = (self.reg_vah + vah) % REGISTER_MODULUS
        self._remember(t0, wh, vah, volts, milliamps)

        self._charge(start, wh)
        self._apply_offline_policy(start + timedelta(seconds=INTERVAL_S))

        records = self._records(t0, wh, vah, volts, milliamps)
        with_status = self._rounds % STATUS_EVERY == 0
        self._rounds += 1
        send_at = t_end  # what the meter captured at the boundary goes out at once
        online = self.online
        end_local = utc_from_epoch(int(t_end)).astimezone(IST)
        midnight = end_local.hour == 0 and end_local.minute == 0
        self._send_readings(np.nonzero(online)[0], records, send_at)
        if with_status:
            self._send_statuses(np.nonzero(online)[0], send_at)
        for i in np.nonzero(online)[0].tolist() if midnight else ():
            self._send(i, send_at, "daily", DailyFrame, days=[self._daily(i, t_end)])
        for i in np.nonzero(~online)[0].tolist():
            backlog = self.backlog.setdefault(i, Backlog())
            backlog.intervals.append(records[i])
            if midnight:
                backlog.days.append(self._daily(i, t_end))

    def _send_readings(self, idx: npt.NDArray[np.int64], records: list[IntervalRecord], t: float) -> None:
        """One reading frame from each of `idx`: the hot path, so it avoids per-meter numpy."""
        stamps = np.floor(t + self.clock_offset[idx]).astype(np.int64).tolist()
        queue = self._queue
        for i, ts in zip(idx.tolist(), stamps, strict=True):
            queue.append((t, i, "reading", ReadingFrame, ts, {"intervals": [records[i]]}))

    def _records(self, t0: int, wh: Ints, vah: Ints, volts: Ints, milliamps: Ints) -> list[IntervalRecord]:
        return [
            IntervalRecord(
                start=t0, import_wh=a, import_vah=b, export_wh=0, voltage_dv=c, current_ma=d, import_wh_total=e
            )
            for a, b, c, d, e in zip(
                wh.tolist(), vah.tolist(), volts.tolist(), milliamps.tolist(), self.reg_import.tolist(), strict=True
            )
        ]

    def _daily(self, i: int, t: float) -> DailyRecord:
        return DailyRecord(
            day_start=int(t),
            import_wh_total=int(self.reg_import[i]),
            export_wh_total=int(self.reg_export[i]),
            import_vah_total=int(self.reg_vah[i]),
        )

    def _remember(self, t0: int, wh: Ints, vah: Ints, volts: Ints, milliamps: Ints) -> None:
        if self.history is None:
            return
        slot = (t0 // INTERVAL_S) % self._depth
        self._history_start[slot] = t0
        self.history[slot] = np.stack([wh, vah, volts, milliamps, self.reg_import])

    def _charge(self, start: datetime, wh: Ints) -> None:
        """The credit mirror pays for what the meter recorded, by its own copy of the tariff."""
        day = ist_day(start)
        version = MirrorTariff(self.tariff.on(day))
        if month_key(day) != self._month:
            self._month = month_key(day)
            self.month_wh[:] = 0
        consumer = self.is_consumer
        new_day = day != self._charged_day
        charge = version.interval_charge(self.month_wh, wh)
        if new_day:
            charge = charge + version.fixed_charge(self.sanctioned_w, day)
        for i, mirror in self._pushed_in_force(day):
            one = np.array([i])
            own = mirror.interval_charge(self.month_wh[one], wh[one])
            if new_day:
                own = own + mirror.fixed_charge(self.sanctioned_w[one], day)
            charge[i] = own[0]
        self.month_wh += wh
        self._charged_day = day
        self.balance -= np.where(consumer, charge, 0)
        went_negative = consumer & (self.balance < 0) & (self.negative_since >= NEVER)
        self.negative_since[went_negative] = epoch(start) + INTERVAL_S

    def _pushed_in_force(self, day: date) -> list[tuple[int, MirrorTariff]]:
        """Meters whose own loaded tariff is in force on `day`, with it."""
        found = []
        for i, versions in self.pushed_tariffs.items():
            current = [mirror for effective, mirror in versions if effective <= day]
            if current:
                found.append((i, current[-1]))
        return found

    def _apply_offline_policy(self, moment: datetime) -> None:
        """A meter that cannot hear the server disconnects by the prepaid policy itself."""
        policy = self.options.policy
        if policy.friendly(moment):
            return
        t = epoch(moment)
        due = (
            self.is_consumer
            & ~self.online
            & self.relay
            & (self.balance < 0)
            & (t - self.negative_since >= int(policy.emergency_credit.total_seconds()))
        )
        for i in np.nonzero(due)[0].tolist():
            self._set_relay(i, False, float(t), for_credit=True)

    def _set_relay(self, i: int, closed: bool, t: float, for_credit: bool = False) -> None:
        if bool(self.relay[i]) == closed:
            if not closed and not for_credit:
                self.relay_for_credit[i] = False  # an operator's order outranks the credit cut-off
            return
        self._mark_shares(np.array([i]), t)
        self.relay[i] = closed
        self.relay_for_credit[i] = for_credit and not closed
        self._event(
            i,
            EventCode.LOAD_SWITCH_CONNECTED if closed else EventCode.LOAD_SWITCH_DISCONNECTED,
            t,
            online=bool(self.online[i]),
        )

    # ------------------------------------------------------------------ credit and hotspot

    def credit(self, i: int, amount_paise: int, t: float) -> None:
        """Credit reaches the mirror; a meter cut off for credit reconnects once it is positive."""
        self.balance[i] += amount_paise
        if self.balance[i] >= 0:
            self.negative_since[i] = NEVER
            if not self.relay[i] and self.relay_for_credit[i]:
                self._set_relay(i, True, t)

    def press_button(self, meter_id: str, at: float) -> float:
        """The consumer presses the hotspot button; the hotspot stays open for the window."""
        i = self.index[meter_id]
        self.advance(at)
        if self._powered_consumer(i):  # without supply there is no hotspot to open
            self.hotspot_until[i] = at + self.hotspot_window[i]
        return float(self.hotspot_until[i])

    def hotspot_open(self, meter_id: str, at: float) -> bool:
        i = self.index[meter_id]
        return self._powered_consumer(i) and bool(self.hotspot_until[i] > at)

    def has_hotspot(self, meter_id: str) -> bool:
        """Whether the meter is in this fleet and has a recharge hotspot (a transformer's has none)."""
        i = self.index.get(meter_id)
        return i is not None and bool(self.is_consumer[i])

    def hotspot_count(self) -> int:
        return int(self.is_consumer.sum())

    def hotspot_open_until(self, meter_id: str) -> float:
        return float(self.hotspot_until[self.index[meter_id]])

    def hotspot_window_s(self, meter_id: str) -> int:
        return int(self.hotspot_window[self.index[meter_id]])

    def balance_paise(self, meter_id: str) -> int:
        return int(self.balance[self.index[meter_id]])

    def _powered_consumer(self, i: int) -> bool:
        return bool(self.is_consumer[i]) and not bool(self.active["power_failure"][i])

    def redeem(self, meter_id: str, digits: str, at: float) -> tokens.Redemption:
        """A phone posts a token to the meter's hotspot (the caller checked it is open)."""
        i = self.index[meter_id]
        self.advance(at)
        key = self._token_keys.get(i)
        if key is None:
            key = self._token_keys[i] = tokens.token_key(self._frame_keys_secret, meter_id)
        used = self.used_tokens.setdefault(i, tokens.UsedTokens())
        meter_now = utc_from_epoch(int(at + self.clock_offset[i]))
        result = tokens.redeem(key, digits, meter_now, used, balance_paise=int(self.balance[i]))
        if result.status == tokens.TokenStatus.ACCEPTED:
            assert result.token_id is not None and result.amount_paise is not None
            self.credit(i, result.amount_paise, at)
            report = Redemption(
                token_id=result.token_id, status=0, amount_paise=result.amount_paise, at=int(at + self.clock_offset[i])
            )
            if self.online[i]:
                self._send(i, at, "token", TokenFrame, redemptions=[report])
            else:
                self.backlog.setdefault(i, Backlog()).redemptions.append(report)
        return result

    # ------------------------------------------------------------------ commands

    def command(self, meter_id: str, payload: bytes, at: float) -> None:
        """A command arrives on the meter's downlink; the meter acts and acknowledges."""
        i = self.index[meter_id]
        self.advance(at)
        opened = open_command(self._keys[i], meter_id, payload)
        if isinstance(opened, Refusal):
            return  # an unauthenticated command is ignored; nothing to acknowledge to
        if opened.fc <= self.last_command_fc[i]:
            self._ack(i, opened, "refused", "replayed command", at)
            return
        self.last_command_fc[i] = opened.fc
        # The head-end sends a command again (a new counter, the same id) when it heard no
        # answer. The meter keeps the ids of the last 256 it carried out and answers those
        # again without acting twice, so a credit never counts twice.
        carried_out = self.carried_out
        ids = carried_out.setdefault(i, {})
        if opened.command_id in ids:
            self._ack(i, opened, "done", "already done", at)
            return

        def done(detail: str = "") -> None:
            ids[opened.command_id] = None
            if len(ids) > 256:
                del ids[next(iter(ids))]
            self._ack(i, opened, "done", detail, at)

        action, args = opened.action, opened.args
        if action in ("relay_connect", "relay_disconnect"):
            self._set_relay(i, action == "relay_connect", at)
            done()
        elif action == "time_sync" and "t" in args:
            self.clock_offset[i] = args["t"] - at
            self._event(i, EventCode.CLOCK_SET, at, online=bool(self.online[i]))
            done()
        elif action == "credit" and args.get("amount_paise", 0) > 0:
            self.credit(i, args["amount_paise"], at)
            done()
        elif action == "read_profile" and "from" in args and "to" in args:
            found = self._profile(i, args["from"], args["to"])
            for chunk in range(0, len(found), READINGS_PER_FRAME):
                self._send(i, at, "reading", ReadingFrame, intervals=found[chunk : chunk + READINGS_PER_FRAME])
            done(f"{len(found)} intervals")
        elif action == "read_now":
            self._send_status(i, at)
            done()
        elif action == "tariff" and {"from", "duty", "fixed", "r1"} <= set(args):
            effective = ist_day(utc_from_epoch(args["from"]))
            versions = [v for v in self.pushed_tariffs.get(i, []) if v[0] != effective]
            self.pushed_tariffs[i] = sorted([*versions, (effective, MirrorTariff.pushed(args))], key=lambda v: v[0])
            self._event(i, EventCode.TARIFF_PROGRAMMED, at, online=bool(self.online[i]))
            done(f"rates from {effective.isoformat()}")
        elif action == "hotspot_settings" and 60 <= args.get("window_s", 0) <= 3600:
            self.hotspot_window[i] = args["window_s"]
            done()
        else:
            self._ack(i, opened, "refused", f"cannot {action} with {sorted(args)}", at)

    def _profile(self, i: int, start: int, end: int) -> list[IntervalRecord]:
        if self.history is None:
            return []
        found = []
        for slot in np.argsort(self._history_start).tolist():
            t0 = int(self._history_start[slot])
            if t0 >= 0 and start <= t0 < end:
                wh, vah, volts, ma, total = self.history[slot, :, i].tolist()
                found.append(
                    IntervalRecord(
                        start=t0,
                        import_wh=wh,
                        import_vah=vah,
                        export_wh=0,
                        voltage_dv=volts,
                        current_ma=ma,
                        import_wh_total=total,
                    )
                )
        return found

    def _ack(self, i: int, command: CommandFrame, status: str, detail: str, at: float) -> None:
        if self.online[i]:
            self._send(i, at, "ack", AckFrame, command_id=command.command_id, status=status, detail=detail)

    # ------------------------------------------------------------------ sending

    def _event(self, i: int, code: EventCode, t: float, online: bool) -> None:
        event = Event(code=code, at=int(t + self.clock_offset[i]))
        if online:
            self._send(i, t, "event", EventFrame, events=[event])
        else:
            self.backlog.setdefault(i, Backlog()).events.append(event)

    def _send_status(self, i: int, t: float) -> None:
        self._send_statuses(np.array([i], dtype=np.int64), t)

    def _send_statuses(self, idx: npt.NDArray[np.int64], t: float) -> None:
        """A status frame from each of `idx`, its values read from the arrays in one go."""
        if idx.size == 0:
            return
        slot = self.active_sim[idx]
        names = self.options.operators
        columns = zip(
            idx.tolist(),
            np.floor(t + self.clock_offset[idx]).astype(np.int64).tolist(),
            slot.tolist(),
            self.sim_operator[slot, idx].tolist(),
            self.rssi[slot, idx].tolist(),
            np.where(self.relay[idx], RelayState.CONNECTED, RelayState.DISCONNECTED).tolist(),
            self.balance[idx].tolist(),
            self.failovers[idx].tolist(),
            self.sim_seconds[0, idx].astype(np.int64).tolist(),
            self.sim_seconds[1, idx].astype(np.int64).tolist(),
            self.switched_at[idx].tolist(),
            strict=True,
        )
        queue = self._queue
        for i, ts, sim, op, rssi, relay, balance, failovers, s1, s2, switched in columns:
            body = {
                "sim": sim + 1,
                "operator": names[op],
                "rssi_dbm": rssi,
                "relay": relay,
                "balance_paise": balance,
                "failovers": failovers,
                "sim1_s": s1,
                "sim2_s": s2,
                "switched_at": switched,
            }
            queue.append((t, i, "status", StatusFrame, ts, body))

    def _flush(self, i: int, t: float) -> None:
        backlog = self.backlog.pop(i, None)
        if not backlog:
            return
        for chunk in range(0, len(backlog.intervals), READINGS_PER_FRAME):
            self._send(i, t, "reading", ReadingFrame, intervals=backlog.intervals[chunk : chunk + READINGS_PER_FRAME])
        if backlog.days:
            self._send(i, t, "daily", DailyFrame, days=backlog.days)
        for chunk in range(0, len(backlog.events), 100):
            self._send(i, t, "event", EventFrame, events=backlog.events[chunk : chunk + 100])
        if backlog.redemptions:
            self._send(i, t, "token", TokenFrame, redemptions=backlog.redemptions)

    def _send(self, i: int, t: float, kind: str, cls: type[Frame], **body: Any) -> None:
        self._queue.append((t, i, kind, cls, int(np.floor(t + self.clock_offset[i])), body))

    def take_outgoing(self) -> list[Outgoing]:
        """Everything sent since the last call, in the order it went out.

        Frames are numbered and sealed here, in sending order, so a meter's frame counter rises
        in the order its frames leave it, whatever order they were prepared in.
        """
        queue, self._queue = self._queue, []
        queue.sort(key=lambda q: q[0])
        counters = self.fc.tolist()
        ids, sealers, root = self.meter_ids, self._sealers, self.root
        reading_topics = self._reading_topics
        out = []
        for t, i, kind, cls, ts, body in queue:
            fc = counters[i] = counters[i] + 1
            frame = cls(v=PROTOCOL_VERSION, m=ids[i], fc=fc, ts=ts, **body)
            topic = reading_topics[i] if kind == "reading" else topics.uplink(root, ids[i], kind)
            out.append(Outgoing(t, i, topic, sealers[i].seal(frame), frame))
        if queue:
            self.fc[:] = counters
        return out

    def undelivered(self, items: Sequence[Outgoing]) -> None:
        """The link could not deliver these: the meters keep their content and send it again
        (sealed anew, with new counters) when they next get through."""
        for item in items:
            backlog = self.backlog.setdefault(item.meter, Backlog())
            f = item.frame
            if isinstance(f, ReadingFrame):
                backlog.intervals.extend(f.intervals)
            elif isinstance(f, DailyFrame):
                backlog.days.extend(f.days)
            elif isinstance(f, EventFrame):
                backlog.events.extend(f.events)
            elif isinstance(f, TokenFrame):
                backlog.redemptions.extend(f.redemptions)
        for backlog in self.backlog.values():
            backlog.intervals.sort(key=lambda r: r.start)
            backlog.events.sort(key=lambda e: e.at)

    def retry(self, at: float) -> None:
        """The link is back: meters that hold undelivered content send it."""
        for i in [i for i in self.backlog if self.online[i]]:
            self._flush(i, at)
