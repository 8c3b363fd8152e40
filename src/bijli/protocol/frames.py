"""The frames of protocol v1.

A frame is a JSON object. The envelope fields are ``v`` (protocol version, 1), ``k`` (kind),
``m`` (meter id), ``fc`` (frame counter: strictly increasing per meter, never reused) and
``ts`` (the meter's clock when it sent the frame, epoch seconds). Measured values are named
by their IS 15959 OBIS code and carried as integers in the unit the code's row states.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

PROTOCOL_VERSION: Final = 1

# OBIS codes used as field names (IS 15959, single-phase block load profile and friends).
BLOCK_LOAD_PROFILE: Final = "1.0.99.1.0.255"
KWH_IMPORT_INTERVAL: Final = "1.0.1.29.0.255"
KVAH_IMPORT_INTERVAL: Final = "1.0.9.29.0.255"
KWH_EXPORT_INTERVAL: Final = "1.0.2.29.0.255"
VOLTAGE_AVERAGE: Final = "1.0.12.27.0.255"
CURRENT_AVERAGE: Final = "1.0.11.27.0.255"
KWH_IMPORT_TOTAL: Final = "1.0.1.8.0.255"
KWH_EXPORT_TOTAL: Final = "1.0.2.8.0.255"
KVAH_IMPORT_TOTAL: Final = "1.0.9.8.0.255"
DAILY_PROFILE: Final = "1.0.99.2.0.255"
REGISTER_MODULUS: Final = 10**9
"""Cumulative energy registers hold 999,999.999 kWh (in Wh) and then roll over to zero."""
DISCONNECT_CONTROL: Final = "0.0.96.3.10.255"
CURRENT_BALANCE: Final = "0.0.94.96.24.255"


# Ranges every value must lie in: what the store's columns and a calendar can hold. A frame
# with a value outside them is refused as malformed before it reaches the store.
Epoch = Annotated[int, msgspec.Meta(ge=0, le=2**33)]
"""Epoch seconds, 1970 to about 2242."""
Counter = Annotated[int, msgspec.Meta(ge=-(2**62), le=2**62)]
"""A frame counter; one not above the last accepted is refused as a replay."""
Quantity = Annotated[int, msgspec.Meta(le=2**31 - 1)]
"""An interval quantity; negative values decode, and are refused with their own reason."""
Register = Annotated[int, msgspec.Meta(le=2**62)]
MeterId = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]


class IntervalRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One 15-minute entry of the block load profile."""

    start: Epoch = msgspec.field(name="t")
    """Interval start, epoch seconds, on a 15-minute boundary."""
    import_wh: Quantity = msgspec.field(name=KWH_IMPORT_INTERVAL)
    """Active energy imported in the interval, Wh."""
    import_vah: Quantity = msgspec.field(name=KVAH_IMPORT_INTERVAL)
    """Apparent energy imported in the interval, VAh."""
    export_wh: Quantity = msgspec.field(name=KWH_EXPORT_INTERVAL)
    """Active energy exported in the interval, Wh."""
    voltage_dv: Quantity = msgspec.field(name=VOLTAGE_AVERAGE)
    """Average voltage over the interval, in 0.1 V."""
    current_ma: Quantity = msgspec.field(name=CURRENT_AVERAGE)
    """Average current over the interval, mA."""
    import_wh_total: Register = msgspec.field(name=KWH_IMPORT_TOTAL)
    """Cumulative active energy import register at the interval's end, Wh."""


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of an event log (IS 15959 event code)."""

    code: Annotated[int, msgspec.Meta(ge=0, le=65535)]
    at: Epoch
    """When it happened, epoch seconds."""


class DailyRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One midnight entry of the daily profile: the cumulative registers at 00:00 IST."""

    day_start: Epoch = msgspec.field(name="t")
    import_wh_total: Register = msgspec.field(name=KWH_IMPORT_TOTAL)
    export_wh_total: Register = msgspec.field(name=KWH_EXPORT_TOTAL)
    import_vah_total: Register = msgspec.field(name=KVAH_IMPORT_TOTAL)


class Redemption(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A recharge token the meter took (or refused) at its hotspot."""

    token_id: Annotated[int, msgspec.Meta(ge=0, le=2**24)]
    status: Annotated[int, msgspec.Meta(ge=0, le=99)]
    """0 accepted; otherwise the refusal code of the token section."""
    amount_paise: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
    at: Epoch


class _Envelope(msgspec.Struct, frozen=True, tag_field="k", forbid_unknown_fields=True):
    v: int
    m: MeterId
    fc: Counter
    ts: Epoch


class ReadingFrame(_Envelope, frozen=True, tag="reading"):
    """Interval readings, oldest first (several when the meter delivers a backlog)."""

    intervals: Annotated[list[IntervalRecord], msgspec.Meta(max_length=9000)] = msgspec.field(name=BLOCK_LOAD_PROFILE)


class DailyFrame(_Envelope, frozen=True, tag="daily"):
    """Midnight register snapshots, oldest first."""

    days: Annotated[list[DailyRecord], msgspec.Meta(max_length=400)] = msgspec.field(name=DAILY_PROFILE)


class EventFrame(_Envelope, frozen=True, tag="event"):
    """Events as they happen."""

    events: Annotated[list[Event], msgspec.Meta(max_length=1000)]


class StatusFrame(_Envelope, frozen=True, tag="status"):
    """Connectivity and state, sent on connect and then at least hourly."""

    sim: Annotated[int, msgspec.Meta(ge=1, le=2)]
    """Active SIM slot, 1 or 2."""
    operator: Annotated[str, msgspec.Meta(max_length=32)]
    rssi_dbm: Annotated[int, msgspec.Meta(ge=-150, le=0)]
    relay: Annotated[int, msgspec.Meta(ge=0, le=2)] = msgspec.field(name=DISCONNECT_CONTROL)
    """0 disconnected, 1 connected, 2 ready for reconnection."""
    balance_paise: Annotated[int, msgspec.Meta(ge=-(2**62), le=2**62)] = msgspec.field(name=CURRENT_BALANCE)
    """The meter's credit mirror, paise."""
    failovers: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    """SIM switches since installation."""
    sim1_s: Annotated[int, msgspec.Meta(ge=0, le=2**40)] = 0
    """Seconds connected on SIM 1 since installation."""
    sim2_s: Annotated[int, msgspec.Meta(ge=0, le=2**40)] = 0
    switched_at: Epoch = 0
    """When the meter last changed SIM (0: never)."""


class TokenFrame(_Envelope, frozen=True, tag="token"):
    """Recharge tokens taken at the hotspot, reported once the meter is online."""

    redemptions: Annotated[list[Redemption], msgspec.Meta(max_length=1000)]


class AckFrame(_Envelope, frozen=True, tag="ack"):
    """A meter's answer to a command."""

    command_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    status: Annotated[str, msgspec.Meta(max_length=32)]
    detail: Annotated[str, msgspec.Meta(max_length=256)] = ""


REPLAYED_COMMAND: Final = "replayed command"
"""The `detail` of a meter's refusal of a command whose downlink counter it has already seen."""


class CommandFrame(_Envelope, frozen=True, tag="command"):
    """A command to one meter (downlink), sealed with the meter's frame key.

    ``fc`` is the head-end's downlink counter for that meter: the meter refuses a command
    whose counter is not above the last it accepted.
    """

    command_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    action: Annotated[str, msgspec.Meta(max_length=32)]
    args: Annotated[dict[str, int], msgspec.Meta(max_length=16)] = msgspec.field(default_factory=dict)


UplinkFrame = ReadingFrame | DailyFrame | EventFrame | StatusFrame | AckFrame | TokenFrame

KIND_OF: Final[dict[type[_Envelope], str]] = {
    ReadingFrame: "reading",
    DailyFrame: "daily",
    EventFrame: "event",
    StatusFrame: "status",
    AckFrame: "ack",
    TokenFrame: "token",
}

KEY_CHANGE: Final = "key_change"
"""The command that moves a meter to a new key version (docs/protocol.md, 5.10)."""

CUTOFF_PERMIT: Final = "cutoff_permit"
"""The supply service's permit for a meter to cut itself for credit while offline (docs/protocol.md)."""

COMMAND_ACTIONS: Final = (
    "relay_connect",
    "relay_disconnect",
    CUTOFF_PERMIT,
    "time_sync",
    "read_profile",
    "read_now",
    "credit",
    "hotspot_settings",
    "tariff",
    KEY_CHANGE,
)
"""What a command may ask; `args` by action: relay_disconnect {"for_credit": 0 | 1, "until":
epoch} (both optional), cutoff_permit {"after": epoch}, time_sync {"t": epoch}, read_profile {"from":
epoch, "to": epoch}, credit {"amount_paise": n}, hotspot_settings {"window_s": n}, tariff
{"from": epoch, "duty", "fixed", "r1".."r6", "s1".."s5"} (see docs/commands.md), key_change
{"version": n, "f1".."f4", "t1".."t4", "p1", "p2"} (`keys.key_change_args`)."""
