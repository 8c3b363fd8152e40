"""A fleet of meter twins: every meter's registers, relay, credit, modem and sensors in arrays.

The fleet moves by moments in time order: `advance(to)` runs the modems' timers to a moment,
`close_interval(start)` meters the 15 minutes from `start`, and the scenario methods (`network`,
`broker`, `condition`, `hook`, `modem_fault`, `command`, `press_button`, `redeem`) change the
world in between. What the meters send comes out of `take_outgoing()` in sending order, sealed;
a meter that cannot talk keeps it and delivers it, oldest first, once connected (`outbox`). Other
parts live beside this module: `modems`, `sensing`, `grid` (losses), `credit`, `profiles`, `commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from bijli.fleet.city import Consumer, TransformerMeter
from bijli.fleet.commands import take_command
from bijli.fleet.credit import CreditMirrors
from bijli.fleet.grid import DT_LOSSES, GridOptions, LossyGrid, flat_network
from bijli.fleet.load import household_scale, interval_wh, voltage_dv
from bijli.fleet.meter_keys import FleetKeys
from bijli.fleet.modems import Modems
from bijli.fleet.outbox import Backlog, Frame, Outbox, Outgoing, interval_records
from bijli.fleet.profiles import LoadProfiles
from bijli.fleet.sensing import Sensing
from bijli.kernel.time import INTERVAL_S, IST, epoch, utc_from_epoch
from bijli.meter.credit import MirrorTariff
from bijli.meter.modem import DEFAULT_TIMERS, ModemTimers
from bijli.meter.sensors import CONDITIONS
from bijli.prepaid.policy import PrepaidPolicy, uppcl
from bijli.prepaid.tariff import Tariff
from bijli.protocol import tokens
from bijli.protocol.codec import Refusal, open_command
from bijli.protocol.events import EventCode
from bijli.protocol.frames import (
    REGISTER_MODULUS,
    DailyFrame,
    DailyRecord,
    Event,
    EventFrame,
    Redemption,
    TokenFrame,
)
from bijli.protocol.keys import SiteKeys
from bijli.protocol.relay import RelayState

__all__ = ["DT_LOSSES", "FleetTwin", "Outgoing", "TwinOptions"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
OPERATORS = ("Jio", "Airtel")
STATUS_EVERY = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class TwinOptions:
    """How the fleet's meters are configured."""

    timers: ModemTimers = DEFAULT_TIMERS
    operators: tuple[str, str] = OPERATORS
    hotspot_window_s: int = 300
    history_days: int = 2
    """How far back the meter can answer a profile read (real meters: 45-90 days; the twin
    keeps 20 bytes per meter per interval, so 90 days of 24,000 meters take 4 GB)."""
    policy: PrepaidPolicy = field(default_factory=uppcl)
    drift_ppm: float = 2.0
    """Typical RTC drift; each meter gets a random drift within ±this."""
    grid: GridOptions = field(default_factory=GridOptions)  # how lossy the network is (`bijli.fleet.grid`)


class FleetTwin:
    """Consumer meters and transformer meters of a city, on one simulated timeline."""

    def __init__(
        self,
        consumers: Sequence[Consumer],
        transformers: Sequence[TransformerMeter],
        site: SiteKeys,
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
        # Real meters keep their frame counter through power cycles; a twin that starts again
        # starts above anything it sent before by counting from the wall clock in ms.
        base = int(datetime.now(IST).timestamp() * 1000) if first_counter is None else first_counter
        self.keys = FleetKeys(site, self.meter_ids)
        self.outbox = Outbox(self.meter_ids, self.keys.frame, root, base, site.current)
        self.relay = np.ones(n, dtype=np.bool_)
        self.relay_for_credit = np.zeros(n, dtype=np.bool_)
        self.is_consumer = np.arange(n) < nc
        opening = np.array([c.opening_balance_paise for c in self.consumers] + [0] * nt, dtype=np.int64)
        self.mirrors = CreditMirrors(tariff, opening, self.is_consumer, self.sanctioned_w, start)
        self.sensing = Sensing(n, float(epoch(start)))
        self.modems = Modems(self.areas, self.options.operators, self.options.timers, rng, float(epoch(start)))
        self._accrued_to = float(epoch(start))
        self.broker_up = True

        self.clock_offset = np.zeros(n)
        self.drift = rng.uniform(-self.options.drift_ppm, self.options.drift_ppm, size=n) * 1e-6
        self.hotspot_until = np.zeros(n)
        self.hotspot_window = np.full(n, self.options.hotspot_window_s, dtype=np.int64)
        self.used_tokens: dict[int, tokens.UsedTokens] = {}
        self.profiles = LoadProfiles(n, self.options.history_days)
        self.last_command_fc = np.zeros(n, dtype=np.int64)
        self.carried_out: dict[int, dict[str, None]] = {}
        """Per meter, the ids of the last commands it carried out (a resend is not done twice)."""
        self._rounds = 0
        self.now = float(epoch(start))
        self.grid = LossyGrid.of(self.options.grid, self.dt_index, self.scale_w, nt, seed) if nt else None

    # ------------------------------------------------------------------ time and connectivity

    @property
    def online(self) -> Bools:
        """Meters that can send right now."""
        result: Bools = self.modems.connected & self.sensing.can_talk & self.broker_up
        return result

    @property
    def connected(self) -> Bools:
        """Meters whose modem is registered on a network (whether or not the broker is there)."""
        return self.modems.connected

    @property
    def active_sim(self) -> Ints:
        """The SIM slot each meter uses: 0 (its preferred SIM) or 1."""
        return self.modems.active_sim

    @property
    def failovers(self) -> Ints:
        """How often each meter has moved from one SIM to the other."""
        return self.modems.failovers

    @property
    def balance(self) -> Ints:
        """Each meter's credit balance, paise (its mirror of the server's)."""
        return self.mirrors.balance

    @property
    def month_wh(self) -> Ints:
        """Each meter's energy charged so far this month."""
        return self.mirrors.month_wh

    @property
    def pushed_tariffs(self) -> dict[int, list[tuple[date, MirrorTariff]]]:
        """Tariff versions loaded into a meter by command, by the day each takes effect."""
        return self.mirrors.loaded

    def advance(self, to: datetime | float) -> None:
        """Run the modems' timers up to `to`: reconnections, returns to the preferred SIM."""
        t = _seconds(to)
        modems = self.modems
        while True:
            returns = modems.return_due()
            first = modems.first_due(t, returns)
            if first > t:
                break
            self._accrue(first)
            self.now = max(self.now, first)
            came = modems.connect(first)
            if came.size:
                self._came_online(came, first)
            back = modems.return_to_preferred(returns <= first, first)
            if back.size:
                self._send_statuses(back[self.online[back]], first)
        self._accrue(t)
        self.now = max(self.now, t)

    def _accrue(self, t: float) -> None:
        span = max(0.0, t - self._accrued_to)
        if span:
            self.modems.accrue(span, self.online)
            self.clock_offset += span * self.drift
        self._accrued_to = max(self._accrued_to, t)

    def network(self, operator: str, area: str | None, up: bool, at: datetime | float) -> None:
        """An operator's network goes down (or comes back) in an area (None: everywhere)."""
        t = _seconds(at)
        self.advance(t)
        self.modems.network(operator, area, up, t)

    def broker(self, up: bool, at: datetime | float) -> None:
        """The broker goes away (meters keep what they would send) or comes back."""
        t = _seconds(at)
        self.advance(t)
        self.broker_up = up
        if up:
            idx = np.nonzero(self.online)[0]
            self._came_online(idx, t + self.options.timers.register_s)

    def _came_online(self, idx: npt.NDArray[np.int64], t: float) -> None:
        """Meters that can talk again: status first, then their backlog, oldest first."""
        can = self.online[idx]
        for i in idx[can].tolist():
            self.send_status(i, t)
            self._flush(i, t)

    # ------------------------------------------------------------------ sensed conditions

    def condition(self, name: str, meters: Sequence[int], on: bool, at: datetime | float) -> None:
        """A tamper or supply condition starts (or ends) on some meters; they log it at once."""
        t = _seconds(at)
        self.advance(t)
        spec, active = CONDITIONS[name], self.sensing.active[name]
        idx = np.array([i for i in meters if active[i] != on], dtype=np.int64)
        if idx.size == 0:
            return
        self.sensing.mark(idx, t, self.relay)
        was_online = self.online[idx]
        if not on and spec.restored is None:
            active[idx] = False  # a cover-open stays logged; nothing to restore
            return
        active[idx] = on
        code = spec.occurred if on else spec.restored
        assert code is not None
        for k, i in enumerate(idx.tolist()):
            # A meter losing supply or its modem still gets its last gasp out.
            self.log_event(i, code, t, online=bool(was_online[k]) if on else bool(self.online[i]))
        if not on and not spec.can_talk:
            self._came_online(idx, t)

    def modem_fault(self, meters: Sequence[int], failed: bool, at: float) -> None:
        """Some meters' modems fail (silently: they meter on and keep everything) or are mended."""
        self.advance(at)
        self.sensing.dead_modem[meters] = failed
        self._came_online(np.array([] if failed else meters, dtype=np.int64), at)

    def hook(self, transformer: str, watts: float, at: datetime | float) -> None:
        """Unmetered load hooked onto a transformer's lines (0 W: the hook is removed)."""
        t = _seconds(at)
        self.advance(t)
        self.sensing.hook(np.nonzero((self.transformer_of == transformer) & ~self.is_consumer)[0], watts, t)

    # ------------------------------------------------------------------ metering an interval

    def close_interval(self, start: datetime) -> None:
        """Meter the 15 minutes from `start`, charge them, and send (or keep) the readings."""
        t0 = epoch(start)
        t_end = float(t0 + INTERVAL_S)
        self.advance(t_end)
        n_index = t0 // INTERVAL_S
        supply_share, record_share = self.sensing.take_shares(t_end, self.relay)

        demand = interval_wh(self.scale_w, self.sanctioned_w, start, self.seed, n_index)
        real = np.rint(demand * supply_share).astype(np.int64)
        wh = np.rint(demand * record_share).astype(np.int64)
        nc = self.n_consumers
        if self.grid is not None:
            wh = self.grid.meter(start, n_index, demand, supply_share, record_share, self.sensing)
        elif self.transformers:
            flat_network(real, wh, self.dt_index[:nc], self.sensing, t_end)
        volts = voltage_dv(self.n, self.seed, n_index)
        volts = np.where(supply_share > 0, volts, 0)
        # Average current per phase: a three-phase supply shares the load over its phases.
        per_phase = wh * 4 * 1e4 / (np.maximum(volts, 1) * self.phases)
        milliamps = np.where(volts > 0, np.rint(per_phase), 0).astype(np.int64)
        vah = np.rint(wh / 0.92).astype(np.int64)
        self.reg_import = (self.reg_import + wh) % REGISTER_MODULUS
        self.reg_vah = (self.reg_vah + vah) % REGISTER_MODULUS
        self.profiles.remember(t0, wh, vah, volts, milliamps, self.reg_import)

        self.mirrors.charge(start, wh)
        self._apply_offline_policy(start + timedelta(seconds=INTERVAL_S))

        records = interval_records(t0, wh, vah, volts, milliamps, self.reg_import)
        with_status = self._rounds % STATUS_EVERY == 0
        self._rounds += 1
        send_at = t_end  # what the meter captured at the boundary goes out at once
        online = self.online
        end_local = utc_from_epoch(int(t_end)).astimezone(IST)
        midnight = end_local.hour == 0 and end_local.minute == 0
        sending = np.nonzero(online)[0]
        self.outbox.put_readings(send_at, sending.tolist(), self._stamps(sending, send_at), records)
        if with_status:
            self._send_statuses(sending, send_at)
        for i in sending.tolist() if midnight else ():
            self.send(i, send_at, "daily", DailyFrame, days=[self._daily(i, t_end)])
        for i in np.nonzero(~online)[0].tolist():
            backlog = self.outbox.held(i)
            backlog.intervals.append(records[i])
            if midnight:
                backlog.days.append(self._daily(i, t_end))

    def _daily(self, i: int, t: float) -> DailyRecord:
        return DailyRecord(
            day_start=int(t),
            import_wh_total=int(self.reg_import[i]),
            export_wh_total=int(self.reg_export[i]),
            import_vah_total=int(self.reg_vah[i]),
        )

    def _apply_offline_policy(self, moment: datetime) -> None:
        """A meter that cannot hear the server disconnects by the prepaid policy itself."""
        policy = self.options.policy
        if policy.friendly(moment):
            return
        t = epoch(moment)
        due = self.mirrors.may_cut_itself(t, policy) & ~self.online & self.relay
        for i in np.nonzero(due)[0].tolist():
            self.set_relay(i, False, float(t), for_credit=True)

    def set_relay(self, i: int, closed: bool, t: float, for_credit: bool = False) -> None:
        """Close (connect) or open meter i's relay, logging it; `for_credit`: the meter's own cut-off."""
        if bool(self.relay[i]) == closed:
            if not closed and not for_credit:
                self.relay_for_credit[i] = False  # an operator's order outranks the credit cut-off
            return
        self.sensing.mark(np.array([i]), t, self.relay)
        self.relay[i] = closed
        self.relay_for_credit[i] = for_credit and not closed
        self.log_event(i, EventCode.LOAD_SWITCH_CONNECTED if closed else EventCode.LOAD_SWITCH_DISCONNECTED, t)

    # ------------------------------------------------------------------ credit and hotspot

    def credit(self, i: int, amount_paise: int, t: float) -> None:
        """Credit reaches the mirror; a meter cut off for credit reconnects once it is positive."""
        if self.mirrors.add(i, amount_paise) and not self.relay[i] and self.relay_for_credit[i]:
            self.set_relay(i, True, t)

    def report_redemption(self, i: int, token_id: int, amount_paise: int, at: float) -> None:
        """Meter i tells the head-end it took a token (at once if online, else when it is back)."""
        report = Redemption(token_id=token_id, status=0, amount_paise=amount_paise, at=int(at + self.clock_offset[i]))
        if self.online[i]:
            self.send(i, at, "token", TokenFrame, redemptions=[report])
        else:
            self.outbox.held(i).redemptions.append(report)

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
        return bool(self.is_consumer[i]) and not bool(self.sensing.active["power_failure"][i])

    def redeem(self, meter_id: str, digits: str, at: float) -> tokens.Redemption:
        """A phone posts a token to the meter's hotspot (the caller checked it is open)."""
        i = self.index[meter_id]
        self.advance(at)
        key = self.keys.token_keys(i)
        used = self.used_tokens.setdefault(i, tokens.UsedTokens())
        meter_now = utc_from_epoch(int(at + self.clock_offset[i]))
        result = tokens.redeem(key, digits, meter_now, used, balance_paise=int(self.balance[i]))
        if result.status == tokens.TokenStatus.ACCEPTED:
            assert result.token_id is not None and result.amount_paise is not None
            self.credit(i, result.amount_paise, at)
            self.report_redemption(i, result.token_id, result.amount_paise, at)
        return result

    # ------------------------------------------------------------------ commands

    def mqtt_password(self, meter_id: str) -> str:
        """The MQTT password meter `meter_id` logs in with (that of the key version it holds)."""
        return self.keys.mqtt_password(self.index[meter_id])

    def command(self, meter_id: str, payload: bytes, at: float) -> None:
        """A command arrives on the meter's downlink; the meter acts and acknowledges."""
        i = self.index[meter_id]
        self.advance(at)
        opened = open_command(self.keys.command_key(i), meter_id, payload)
        # An unauthenticated command is ignored (no one to answer), and so is one under the
        # previous key, but for the key change itself sent again.
        if not isinstance(opened, Refusal) and self.keys.takes(i, opened, payload):
            take_command(self, i, opened, at)

    # ------------------------------------------------------------------ sending

    def log_event(self, i: int, code: EventCode, t: float, *, online: bool | None = None) -> None:
        """Meter i logs an event and sends it if it can (`online`: by default, if it is online)."""
        event = Event(code=code, at=int(t + self.clock_offset[i]))
        if self.online[i] if online is None else online:
            self.send(i, t, "event", EventFrame, events=[event])
        else:
            self.outbox.held(i).events.append(event)

    def send_status(self, i: int, t: float) -> None:
        self._send_statuses(np.array([i], dtype=np.int64), t)

    def _send_statuses(self, idx: Ints, t: float) -> None:
        """A status frame from each of `idx`, its values read from the arrays in one go."""
        if idx.size == 0:
            return
        m, names = self.modems, self.options.operators
        slot = m.active_sim[idx]
        rows = zip(
            idx.tolist(),
            self._stamps(idx, t),
            slot.tolist(),
            [names[op] for op in m.sim_operator[slot, idx].tolist()],
            m.rssi[slot, idx].tolist(),
            np.where(self.relay[idx], RelayState.CONNECTED, RelayState.DISCONNECTED).tolist(),
            self.balance[idx].tolist(),
            m.failovers[idx].tolist(),
            m.sim_seconds[0, idx].astype(np.int64).tolist(),
            m.sim_seconds[1, idx].astype(np.int64).tolist(),
            m.switched_at[idx].tolist(),
            strict=True,
        )
        self.outbox.put_statuses(t, rows)

    def _stamps(self, idx: Ints, t: float) -> list[int]:
        """The moment `t` as each of `idx` stamps it, by its own clock."""
        stamps: list[int] = np.floor(t + self.clock_offset[idx]).astype(np.int64).tolist()
        return stamps

    def _flush(self, i: int, t: float) -> None:
        self.outbox.flush(i, t, int(np.floor(t + self.clock_offset[i])))

    def send(self, i: int, t: float, kind: str, cls: type[Frame], **body: Any) -> None:
        """Meter i sends a frame of `kind` at `t`, stamped by its own clock."""
        self.outbox.put(t, i, kind, cls, int(np.floor(t + self.clock_offset[i])), body)

    @property
    def backlog(self) -> dict[int, Backlog]:
        """What each meter that could not send holds, to send when it can."""
        return self.outbox.backlog

    def take_outgoing(self) -> list[Outgoing]:
        """Everything sent since the last call, in the order it went out.

        Frames are numbered and sealed here, in sending order, so a meter's frame counter rises
        in the order its frames leave it, whatever order they were prepared in.
        """
        return self.outbox.take()

    def undelivered(self, items: Sequence[Outgoing]) -> None:
        """The link could not deliver these: the meters keep their content and send it again
        (sealed anew, with new counters) when they next get through."""
        self.outbox.keep(items)

    def retry(self, at: float) -> None:
        """The link is back: meters that hold undelivered content send it."""
        for i in [i for i in self.outbox.backlog if self.online[i]]:
            self._flush(i, at)


def _seconds(at: datetime | float) -> float:
    return float(at) if isinstance(at, int | float) else float(epoch(at))
