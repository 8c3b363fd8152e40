"""Sealing and opening frames: only a meter's own key opens its frames, and only its own."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from bijli.protocol import frames, keys
from bijli.protocol.codec import FrameKey, Refusal, Sealer, key_version, open_frame, seal
from bijli.protocol.frames import (
    AckFrame,
    Event,
    EventFrame,
    IntervalRecord,
    ReadingFrame,
    StatusFrame,
    UplinkFrame,
)

SECRET = bytes.fromhex("00" * 32)
METER = "KNCL0000001"
NEIGHBOUR = "KNCL0000002"
KEY = keys.frame_key(SECRET, METER)

# The golden vector also printed in docs/protocol.md: change one only with the other.
GOLDEN_FRAME = ReadingFrame(
    v=1,
    m=METER,
    fc=1,
    ts=1767206700,  # 2026-01-01 00:15 IST
    intervals=[
        IntervalRecord(
            start=1767205800,  # 2026-01-01 00:00 IST
            import_wh=123,
            import_vah=134,
            export_wh=0,
            voltage_dv=2301,
            current_ma=2140,
            import_wh_total=4567890,
        )
    ],
)
GOLDEN_BODY = (
    b'{"k":"reading","v":1,"m":"KNCL0000001","fc":1,"ts":1767206700,"1.0.99.1.0.255":'
    b'[{"t":1767205800,"1.0.1.29.0.255":123,"1.0.9.29.0.255":134,"1.0.2.29.0.255":0,'
    b'"1.0.12.27.0.255":2301,"1.0.11.27.0.255":2140,"1.0.1.8.0.255":4567890}]}'
)
GOLDEN_FRAME_KEY_HEX = "edf863cdab3985e532a94cd2af1c7be489f1d06a935c64ec0e4060e73db3d3ef"
GOLDEN_TAG = b"0315ddf17cab33fff818548c4ec4df39"
GOLDEN_PAYLOAD = GOLDEN_BODY + b"\n1:" + GOLDEN_TAG
"""Sealed with key version 1, whose frame master secret the vector takes as 32 zero bytes."""


def status(meter_id: str = METER, *, v: int = 1, fc: int = 2) -> StatusFrame:
    return StatusFrame(
        v=v, m=meter_id, fc=fc, ts=1767206700, sim=2, operator="Airtel", rssi_dbm=-71, relay=1, balance_paise=123450
    )


def refusal_code(result: UplinkFrame | Refusal) -> str | None:
    return result.code if isinstance(result, Refusal) else None


@pytest.mark.parametrize(
    "frame",
    [
        GOLDEN_FRAME,
        EventFrame(v=1, m=METER, fc=3, ts=1767206710, events=[Event(code=201, at=1767206705)]),
        status(),
        AckFrame(v=1, m=METER, fc=4, ts=1767206720, command_id="cmd-1", status="done"),
    ],
    ids=["reading", "event", "status", "ack"],
)
def test_sealed_frame_opens_with_the_meters_key(frame: UplinkFrame) -> None:
    assert open_frame(KEY, METER, seal(KEY, frame)) == frame


def test_frame_sealed_with_another_meters_key_is_forged() -> None:
    payload = seal(keys.frame_key(SECRET, NEIGHBOUR), GOLDEN_FRAME)

    assert refusal_code(open_frame(KEY, METER, payload)) == "forged"


def test_frame_sealed_with_another_sites_secret_is_forged() -> None:
    payload = seal(keys.frame_key(bytes.fromhex("01" * 32), METER), GOLDEN_FRAME)

    assert refusal_code(open_frame(KEY, METER, payload)) == "forged"


def test_frame_with_any_changed_byte_is_forged() -> None:
    payload = seal(KEY, GOLDEN_FRAME)
    tag_start = payload.rindex(b"\n") + len(b"\n1:")
    for i in [*range(tag_start - 3), *range(tag_start, len(payload))]:
        changed = bytearray(payload)
        # Stay a hex digit inside the tag, so it is the tag check, not the length, that refuses.
        changed[i] = (ord("0") if payload[i] != ord("0") else ord("1")) if i >= tag_start else payload[i] ^ 0x01
        assert refusal_code(open_frame(KEY, METER, bytes(changed))) == "forged", f"byte {i} changed"


def test_uppercase_tag_is_forged() -> None:
    body, _, tag = seal(KEY, GOLDEN_FRAME).rpartition(b"\n")

    assert refusal_code(open_frame(KEY, METER, body + b"\n" + tag.upper())) == "forged"


def test_the_tag_names_the_key_version_and_the_key_of_that_version_opens_it() -> None:
    second = keys.frame_key(bytes(range(32)), METER)
    ring = {1: KEY, 2: second}.get
    payload = seal(second, GOLDEN_FRAME, 2)

    assert payload.rpartition(b"\n")[2].startswith(b"2:")
    assert key_version(payload) == 2 and key_version(GOLDEN_PAYLOAD) == 1
    assert open_frame(ring, METER, payload) == GOLDEN_FRAME
    assert open_frame(ring, METER, GOLDEN_PAYLOAD) == GOLDEN_FRAME
    assert Sealer(second, 2).seal(GOLDEN_FRAME) == payload


def test_a_key_version_the_site_does_not_hold_is_an_unknown_key() -> None:
    held = {1: KEY}.get

    refused = open_frame(held, METER, seal(KEY, GOLDEN_FRAME, 3))

    assert isinstance(refused, Refusal) and refused.code == "unknown-key"
    assert "key version 3" in refused.detail


def test_a_frame_whose_tag_names_another_version_is_forged() -> None:
    ring = {1: KEY, 2: keys.frame_key(bytes(range(32)), METER)}.get
    body, _, tag = GOLDEN_PAYLOAD.rpartition(b"\n")

    assert refusal_code(open_frame(ring, METER, body + b"\n2:" + tag.split(b":")[1])) == "forged"


@pytest.mark.parametrize(
    "payload",
    [
        GOLDEN_BODY,
        GOLDEN_BODY + b"\n",
        GOLDEN_BODY + b"\n1:" + GOLDEN_TAG[:-1],
        GOLDEN_BODY + b"\n1:" + GOLDEN_TAG + b"0",
        GOLDEN_PAYLOAD + b"\n",
        b"",
        GOLDEN_BODY + b"\n" + GOLDEN_TAG,
        GOLDEN_BODY + b"\n0:" + GOLDEN_TAG,
        GOLDEN_BODY + b"\n01:" + GOLDEN_TAG,
        GOLDEN_BODY + b"\n10000:" + GOLDEN_TAG,
        GOLDEN_BODY + b"\n:" + GOLDEN_TAG,
    ],
    ids=[
        "no-tag",
        "empty-tag",
        "short-tag",
        "long-tag",
        "trailing-line-feed",
        "empty",
        "no-version",
        "version-0",
        "leading-zero",
        "version-too-long",
        "empty-version",
    ],
)
def test_payload_without_a_proper_tag_is_malformed(payload: bytes) -> None:
    assert refusal_code(open_frame(KEY, METER, payload)) == "malformed"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"k":"reading","v":1,"m":"KNCL0000001","fc":1,"ts":1}',
        b'{"k":"telemetry","v":1,"m":"KNCL0000001","fc":1,"ts":1}',
        b'{"k":"ack","v":1,"m":"KNCL0000001","fc":1,"ts":1,"command_id":"c","status":"ok","extra":1}',
        b'{"k":"ack","v":1,"m":"KNCL0000001","fc":1.5,"ts":1,"command_id":"c","status":"ok"}',
        b'{"k":"ack","v":1,"m":"KNCL0000001","fc":"1","ts":1,"command_id":"c","status":"ok"}',
    ],
    ids=["not-json", "missing-field", "unknown-kind", "unknown-field", "float-counter", "string-counter"],
)
def test_authentic_frame_that_does_not_decode_is_malformed(body: bytes) -> None:
    payload = body + b"\n1:" + hmac.new(KEY, body, hashlib.sha256).hexdigest()[:32].encode()

    assert refusal_code(open_frame(KEY, METER, payload)) == "malformed"


def test_frame_naming_another_meter_than_the_topic_is_misdirected() -> None:
    payload = seal(KEY, status(NEIGHBOUR))

    assert refusal_code(open_frame(KEY, METER, payload)) == "misdirected"


def test_version_2_is_unsupported() -> None:
    payload = seal(KEY, status(v=2))

    assert refusal_code(open_frame(KEY, METER, payload)) == "unsupported"


def test_version_2_frame_with_fields_v1_does_not_know_is_unsupported() -> None:
    body = b'{"k":"status","v":2,"m":"KNCL0000001","fc":2,"ts":1767206700,"uptime_s":60}'
    payload = body + b"\n1:" + hmac.new(KEY, body, hashlib.sha256).hexdigest()[:32].encode()

    assert refusal_code(open_frame(KEY, METER, payload)) == "unsupported"


def test_refusal_explains_itself_to_the_operator() -> None:
    refused = open_frame(KEY, METER, seal(KEY, status(NEIGHBOUR)))

    assert isinstance(refused, Refusal)
    assert NEIGHBOUR in refused.detail and METER in refused.detail


def test_json_field_names_are_obis_codes() -> None:
    reading = seal(KEY, GOLDEN_FRAME)
    state = seal(KEY, status())

    for code in (
        frames.BLOCK_LOAD_PROFILE,
        frames.KWH_IMPORT_INTERVAL,
        frames.KVAH_IMPORT_INTERVAL,
        frames.KWH_EXPORT_INTERVAL,
        frames.VOLTAGE_AVERAGE,
        frames.CURRENT_AVERAGE,
        frames.KWH_IMPORT_TOTAL,
    ):
        assert f'"{code}":'.encode() in reading
    assert b'"1.0.1.29.0.255":123' in reading
    assert b'"0.0.96.3.10.255":1' in state
    assert b'"0.0.94.96.24.255":123450' in state


def test_frames_from_another_implementation_open_whatever_their_key_order() -> None:
    body = json.dumps(
        {"status": "done", "command_id": "cmd-9", "ts": 1767206700, "fc": 7, "m": METER, "v": 1, "k": "ack"},
        separators=(",", ":"),
    ).encode()
    payload = body + b"\n1:" + hmac.new(KEY, body, hashlib.sha256).hexdigest()[:32].encode()

    assert open_frame(KEY, METER, payload) == AckFrame(
        v=1, m=METER, fc=7, ts=1767206700, command_id="cmd-9", status="done"
    )


def test_sealing_the_same_frame_twice_gives_the_same_bytes() -> None:
    assert seal(KEY, GOLDEN_FRAME) == seal(KEY, GOLDEN_FRAME)


def test_golden_vector_payload_is_exact() -> None:
    assert seal(keys.frame_key(SECRET, METER), GOLDEN_FRAME) == GOLDEN_PAYLOAD


def test_golden_vector_follows_the_documented_recipe() -> None:
    # docs/protocol.md, with nothing but the standard library: key, compact JSON, LF, tag.
    frame_key = hmac.new(SECRET, b"bijli/v1/frame/" + METER.encode("ascii"), hashlib.sha256).digest()
    body = json.dumps(
        {
            "k": "reading",
            "v": 1,
            "m": METER,
            "fc": 1,
            "ts": 1767206700,
            "1.0.99.1.0.255": [
                {
                    "t": 1767205800,
                    "1.0.1.29.0.255": 123,
                    "1.0.9.29.0.255": 134,
                    "1.0.2.29.0.255": 0,
                    "1.0.12.27.0.255": 2301,
                    "1.0.11.27.0.255": 2140,
                    "1.0.1.8.0.255": 4567890,
                }
            ],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    tag = hmac.new(frame_key, body, hashlib.sha256).digest()[:16].hex().encode("ascii")

    assert frame_key.hex() == GOLDEN_FRAME_KEY_HEX
    assert body == GOLDEN_BODY
    assert tag == GOLDEN_TAG
    assert open_frame(frame_key, METER, body + b"\n1:" + tag) == GOLDEN_FRAME


def test_mqtt_password_follows_the_documented_recipe() -> None:
    expected = hmac.new(SECRET, b"bijli/v1/mqtt/" + METER.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    assert keys.mqtt_password(SECRET, METER) == expected == "4eaabd4be04d595bcd68388e4d2a78b0"


def test_each_purpose_and_each_meter_gets_its_own_key() -> None:
    derived = {
        keys.frame_key(SECRET, METER),
        keys.frame_key(SECRET, NEIGHBOUR),
        keys.derive(SECRET, keys.TOKEN_LABEL, METER),
        keys.derive(SECRET, keys.MQTT_LABEL, METER),
    }

    assert len(derived) == 4
    assert all(len(k) == 32 for k in derived)


PROTOCOL_DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def test_protocol_doc_carries_the_golden_vector() -> None:
    doc = PROTOCOL_DOC.read_text(encoding="utf-8")

    assert GOLDEN_BODY.decode() in doc
    assert GOLDEN_TAG.decode() in doc
    assert GOLDEN_FRAME_KEY_HEX in doc
    assert keys.mqtt_password(SECRET, METER) in doc


def test_protocol_doc_worked_example_seals_the_golden_vector(capsys: pytest.CaptureFixture[str]) -> None:
    doc = PROTOCOL_DOC.read_text(encoding="utf-8")
    after_marker = doc.split("<!-- worked-example:", 1)[1]
    code = after_marker.split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(code, str(PROTOCOL_DOC), "exec"), {"__name__": "worked_example"})

    assert capsys.readouterr().out == GOLDEN_PAYLOAD.decode() + "\n"


@pytest.mark.parametrize("key", [KEY, b"k", bytes(range(64)), bytes(range(100))])
def test_the_fast_sealer_gives_the_same_bytes_as_plain_hmac(key: bytes) -> None:
    assert Sealer(key).seal(GOLDEN_FRAME) == seal(key, GOLDEN_FRAME)
    assert Sealer(key, 7).seal(GOLDEN_FRAME) == seal(key, GOLDEN_FRAME, 7)


def test_a_prepared_key_opens_what_the_plain_key_opens_and_refuses_what_it_refuses() -> None:
    sealed = seal(KEY, GOLDEN_FRAME)
    assert open_frame(FrameKey(KEY), GOLDEN_FRAME.m, sealed) == open_frame(KEY, GOLDEN_FRAME.m, sealed)
    forged = open_frame(FrameKey(b"another key"), GOLDEN_FRAME.m, sealed)
    assert isinstance(forged, Refusal) and forged.code == "forged"
