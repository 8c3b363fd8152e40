"""Meter twins' client ids: one per meter, root and fleet run, so fleets sharing a broker
never knock each other off."""

from __future__ import annotations

from bijli.adapters.brokers.address import BrokerAddress
from bijli.fleet.links import MeterConnections
from tests.support.keys import SITE

ADDRESS = BrokerAddress("127.0.0.1", 1883)


def test_two_fleets_with_the_same_meters_have_different_client_ids() -> None:
    first = MeterConnections(ADDRESS, SITE.mqtt_password, ["KNCL0000001"], "bijli")
    second = MeterConnections(ADDRESS, SITE.mqtt_password, ["KNCL0000001"], "bijli")
    assert first.client_id("KNCL0000001") != second.client_id("KNCL0000001")
    assert first.client_id("KNCL0000001").startswith("KNCL0000001.bijli.")


def test_a_client_id_names_the_meter_the_topic_root_and_the_fleet() -> None:
    fleet = MeterConnections(ADDRESS, SITE.mqtt_password, ["KNCL0000001"], "t42", fleet_id="f00d")
    assert fleet.client_id("KNCL0000001") == "KNCL0000001.t42.f00d"
