"""A message JetStream hands over again is told from its ack subject, as nats-py's own
`Msg.metadata` reads it, in both of the subject's layouts."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from bijli.adapters.brokers.jetstream import handed_over_before

V1 = "$JS.ACK.MQTT_msgs.bijli-a1.{n}.1042.977.1733380000000000000.12"
V2 = "$JS.ACK._.ACCOUNTHASH.MQTT_msgs.bijli-a1.{n}.1042.977.1733380000000000000.12.r4nd0m"


@pytest.mark.parametrize("layout", [V1, V2])
@pytest.mark.parametrize("delivered", [1, 2, 17])
def test_the_delivery_count_is_read_as_nats_reads_it(layout: str, delivered: int) -> None:
    msg = Msg(None, subject="$MQTT.msgs.bijli.v1.m.KNCL0000001.up.reading", reply=layout.format(n=delivered))
    assert msg.metadata.num_delivered == delivered
    assert handed_over_before(msg) is (delivered > 1)


def test_a_message_without_a_jetstream_ack_subject_was_not_handed_over_before() -> None:
    assert handed_over_before(Msg(None, subject="x", reply="")) is False
    assert handed_over_before(Msg(None, subject="x", reply="_INBOX.abc")) is False
