"""MQTT topic layout of protocol v1."""

from __future__ import annotations

import pytest

from bijli.protocol import topics

METER = "KNCL0000001"


@pytest.mark.parametrize("kind", ["reading", "event", "status", "ack"])
def test_uplink_topic_names_root_version_meter_and_kind(kind: str) -> None:
    assert topics.uplink("bijli", METER, kind) == f"bijli/v1/m/KNCL0000001/up/{kind}"


def test_downlink_topic_carries_commands_to_one_meter() -> None:
    assert topics.downlink("bijli", METER) == "bijli/v1/m/KNCL0000001/down/command"


def test_head_end_subscribes_to_every_meters_uplink() -> None:
    assert topics.uplink_filter("bijli") == "bijli/v1/m/+/up/+"
    assert topics.shared_uplink_filter("bijli", "headend") == "$share/headend/bijli/v1/m/+/up/+"


@pytest.mark.parametrize("kind", topics.UP_KINDS)
def test_uplink_topic_parses_back_to_meter_and_kind(kind: str) -> None:
    assert topics.parse_uplink("bijli", topics.uplink("bijli", METER, kind)) == (METER, kind)


def test_another_root_is_honoured() -> None:
    assert topics.parse_uplink("kesco", "kesco/v1/m/KNMR0000042/up/event") == ("KNMR0000042", "event")


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/m/KNCL0000001/up/reading",
        "bijli/v2/m/KNCL0000001/up/reading",
        "bijli/v1/x/KNCL0000001/up/reading",
        "bijli/v1/m/KNCL0000001/down/command",
        "bijli/v1/m/KNCL0000001/up/telemetry",
        "bijli/v1/m/KNCL0000001/up",
        "bijli/v1/m/KNCL0000001/up/reading/extra",
        "bijli/v1/m/KNCL0000001/up/",
        "/bijli/v1/m/KNCL0000001/up/reading",
        "",
    ],
    ids=[
        "wrong-root",
        "wrong-version",
        "wrong-m",
        "downlink",
        "wrong-kind",
        "too-short",
        "too-long",
        "empty-kind",
        "leading-slash",
        "empty",
    ],
)
def test_parse_uplink_refuses_topics_outside_the_layout(topic: str) -> None:
    assert topics.parse_uplink("bijli", topic) is None


@pytest.mark.parametrize(
    "meter_id",
    [
        "+",
        "#",
        "kncl0000001",
        "KNcl0000001",
        "A" * 33,
        "AB",
        "",
        "-KNCL0000001",
        "KNCL_0000001",
        "KNCL 0000001",
        "KNCL.0000001",
    ],
)
def test_parse_uplink_refuses_bad_meter_ids(meter_id: str) -> None:
    assert topics.parse_uplink("bijli", f"bijli/v1/m/{meter_id}/up/reading") is None


@pytest.mark.parametrize("meter_id", ["ABC", "A" * 32, "KNCL0000001", "KN-CL-0000001", "0123"])
def test_parse_uplink_takes_meter_ids_within_the_syntax(meter_id: str) -> None:
    assert topics.parse_uplink("bijli", f"bijli/v1/m/{meter_id}/up/reading") == (meter_id, "reading")


def test_parse_uplink_refuses_a_meter_id_ending_in_a_line_feed() -> None:
    assert topics.parse_uplink("bijli", "bijli/v1/m/KNCL0000001\n/up/reading") is None
