"""`bijli broker passwords` against the real Mosquitto with the shipped configuration: the
file made from the register lets in every meter in service and each head-end worker, and
nobody else."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from bijli.accounts.handlers import close_account
from bijli.accounts.model import Closing
from bijli.adapters import keyfile
from bijli.adapters.brokers import mosquitto_passwords
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.fleet.city import build_city
from bijli.fleet.links import MeterConnections
from bijli.headend.ports import BrokerDown
from bijli.protocol import topics
from tests.conftest import run_bijli
from tests.support.secure_broker import secure_broker
from tests.support.sites import commissioned_platform

ROOT = "bijli"
CITY = build_city(3)
AT = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_a_line_is_checked_as_mosquitto_checks_it() -> None:
    entry = mosquitto_passwords.line("KNCL0000001", "a password")
    assert entry.startswith("KNCL0000001:$7$101$")
    assert mosquitto_passwords.verify(entry, "a password") and not mosquitto_passwords.verify(entry, "another")
    with pytest.raises(mosquitto_passwords.BadUser):
        mosquitto_passwords.line("head:end", "x")


@pytest.mark.mosquitto
def test_the_file_made_from_the_register_lets_in_the_meters_in_service_and_the_headend(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    site = keyfile.create(keyfile.path_in(data))
    platform = commissioned_platform(data, CITY, AT, broker_url="none", new_site=False)
    gone = CITY[2]  # its account closed: the meter is out of service
    close_account(
        platform.store,
        Closing(
            account_no=gone.account_no, closing_wh_total=gone.initial_register_wh, at=AT.replace(day=2), reason="moved"
        ),
        AT.replace(day=3),
        by="test",
    )
    platform.close()
    worker_password = secrets.token_hex(16)
    (tmp_path / "headend-1.password").write_text(worker_password + "\n")
    out = tmp_path / "passwd"

    worker = f"headend-1={tmp_path / 'headend-1.password'}"
    said = run_bijli(["broker", "passwords", "--out", str(out), "--headend", worker, "--data-dir", str(data)])

    assert "2 meters in service and 1 head-end worker(s) written" in said
    assert worker_password not in out.read_text() and site.mqtt_password(CITY[0].meter_id) not in out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600
    with secure_broker(tmp_path / "mosquitto", {}, password_file=out) as broker:
        address = BrokerAddress.parse(broker.url, ca_file=broker.ca_file)

        async def meters(ids: list[str]) -> None:
            async with asyncio.timeout(20), MeterConnections(address, site.mqtt_password, ids, ROOT):
                pass

        async def headend(password: str) -> None:
            uplink = MqttUplink(
                address.signed_in("headend-1", password), topics.uplink_filter(ROOT), "h", asyncio.get_running_loop()
            )
            await uplink.start()
            await uplink.close()

        asyncio.run(meters([CITY[0].meter_id, CITY[1].meter_id]))
        asyncio.run(headend(worker_password))
        with pytest.raises(aiomqtt.MqttError):
            asyncio.run(meters([gone.meter_id]))
        with pytest.raises(BrokerDown, match="refused the head-end"):
            asyncio.run(headend("not-its-password"))
