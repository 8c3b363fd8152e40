"""A key-change command's args: the new keys wrapped under the meter's present frame key, as
docs/protocol.md 5.10 says; only that key unwraps them."""

from __future__ import annotations

import hashlib
import hmac

from bijli.protocol import keys
from tests.support.keys import site_for

SITE = site_for("key-change", versions=2)
METER = "KNCL0000001"
OLD = SITE.frame_key(METER, 1)
NEW = SITE.meter_keys(METER, 2)


def test_the_meter_unwraps_exactly_the_new_keys() -> None:
    args = keys.key_change_args(OLD, NEW)

    assert sorted(args) == sorted(["version", "f1", "f2", "f3", "f4", "t1", "t2", "t3", "t4", "p1", "p2"])
    assert args["version"] == 2 and all(0 <= v < 2**64 for v in args.values())
    assert keys.open_key_change(OLD, args) == NEW


def test_the_args_follow_the_documented_recipe() -> None:
    args = keys.key_change_args(OLD, NEW)
    pad = hmac.new(OLD, b"bijli/v1/key-change/f/2", hashlib.sha256).digest()
    wrapped = b"".join(args[f"f{n}"].to_bytes(8, "big") for n in range(1, 5))
    assert bytes(a ^ b for a, b in zip(wrapped, pad, strict=True)) == NEW.frame_key
    mqtt_pad = hmac.new(OLD, b"bijli/v1/key-change/p/2", hashlib.sha256).digest()[:16]
    wrapped = args["p1"].to_bytes(8, "big") + args["p2"].to_bytes(8, "big")
    assert bytes(a ^ b for a, b in zip(wrapped, mqtt_pad, strict=True)).hex() == NEW.mqtt_password


def test_the_new_keys_are_not_in_the_clear_and_another_key_unwraps_nothing_useful() -> None:
    args = keys.key_change_args(OLD, NEW)
    clear = b"".join(v.to_bytes(8, "big") for k, v in sorted(args.items()) if k != "version")
    assert NEW.frame_key not in clear and NEW.token_key not in clear

    other = keys.open_key_change(SITE.frame_key("KNCL0000002", 1), args)
    assert other is not None and other.frame_key != NEW.frame_key and other.token_key != NEW.token_key


def test_missing_or_out_of_range_args_are_no_key_change() -> None:
    args = keys.key_change_args(OLD, NEW)
    assert keys.open_key_change(OLD, {k: v for k, v in args.items() if k != "t3"}) is None
    assert keys.open_key_change(OLD, args | {"p1": 2**64}) is None
    assert keys.open_key_change(OLD, args | {"version": 0}) is None
