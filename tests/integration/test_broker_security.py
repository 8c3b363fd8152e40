"""bijli's Mosquitto as docs/operations.md sets it up (deploy/mosquitto): TLS only, with the
broker's certificate and host name checked, and every client id bound to its user name, so a
client with one meter's password takes over no one's session and no acknowledged frame is lost."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import aiomqtt
import pytest

from bijli import settings
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints.serve import headend_client_id, headend_for
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.ports import BrokerDown, Delivery
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.frames import ReadingFrame
from tests.support.keys import SITE, as_env
from tests.support.secure_broker import HOST, SecureBroker, secure_broker

SECRET = SITE
ROOT = "bijli"  # the topic root the shipped ACL names
METERS = 6
START = ist_midnight(date(2026, 11, 5)) + timedelta(hours=9)
HEADEND_USER = "headend-1"
HEADEND_PASSWORD = secrets.token_hex(16)
INTRUDER = "KNCL0009999"
"""A meter provisioned on the broker (its password is known to whoever holds that meter), not in the fleet."""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecureBroker]:
    meters = [*(c.meter_id for c in build_city(METERS)), INTRUDER]
    users = {HEADEND_USER: HEADEND_PASSWORD} | {m: SECRET.mqtt_password(m) for m in meters}
    with secure_broker(tmp_path / "mosquitto", users) as running:
        yield running


def headend_address(broker: SecureBroker, url: str | None = None) -> BrokerAddress:
    address = BrokerAddress.parse(url or broker.url, ca_file=broker.ca_file)
    return address.signed_in(HEADEND_USER, HEADEND_PASSWORD)


async def take(uplink: MqttUplink, count: int) -> list[Delivery]:
    got: list[Delivery] = []
    async with asyncio.timeout(15):
        while len(got) < count:
            got += await uplink.next_batch(100, 0.1)
    await uplink.ack(got)
    return got


def readings_of(frames: list[Outgoing]) -> set[tuple[str, int]]:
    """(meter, interval start) of every reading in `frames`."""
    return {(f.frame.m, r.start) for f in frames if isinstance(f.frame, ReadingFrame) for r in f.frame.intervals}


@pytest.mark.mosquitto
def test_headend_and_meters_speak_over_tls_checked_against_the_ca(broker: SecureBroker) -> None:
    twin = FleetTwin(build_city(METERS), [], SECRET, builtin_tariffs()["UP-LMV1-DU"], start=START, root=ROOT)

    async def scenario() -> tuple[list[Delivery], list[Outgoing]]:
        uplink = MqttUplink(
            headend_address(broker), topics.shared_uplink_filter(ROOT, "headend"), "h", asyncio.get_running_loop()
        )
        await uplink.start()
        meters = BrokerAddress.parse(broker.url, ca_file=broker.ca_file)
        async with MeterConnections(meters, twin.mqtt_password, twin.meter_ids, ROOT) as link:
            twin.close_interval(START)
            frames = twin.take_outgoing()
            assert await link.publish(frames) == []
        got = await take(uplink, len(frames))
        await uplink.close()
        return got, frames

    got, frames = asyncio.run(scenario())
    assert sorted(d.payload for d in got) == sorted(f.payload for f in frames)


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    ("url", "ca", "refusal"),
    [
        ("mqtts://{host}:{port}", False, "certificate verify failed"),
        ("mqtts://127.0.0.1:{port}", True, "mismatch"),
        ("mqtt://{host}:{port}", False, "closed the connection before accepting"),
    ],
    ids=["without-the-ca", "wrong-host-name", "plain-text-to-the-tls-port"],
)
def test_the_headend_is_refused_without_a_verified_tls_connection(
    broker: SecureBroker, url: str, ca: bool, refusal: str
) -> None:
    address = BrokerAddress.parse(
        url.format(host=HOST, port=broker.port), ca_file=broker.ca_file if ca else None
    ).signed_in(HEADEND_USER, HEADEND_PASSWORD)

    async def connect() -> None:
        uplink = MqttUplink(address, topics.uplink_filter(ROOT), "h", asyncio.get_running_loop())
        await uplink.start(timeout_s=10)
        await uplink.close()

    with pytest.raises(BrokerDown, match=refusal):
        asyncio.run(connect())


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    ("url", "ca", "refusal"),
    [
        ("mqtts://{host}:{port}", False, "certificate verify failed"),
        ("mqtts://127.0.0.1:{port}", True, "mismatch"),
    ],
    ids=["without-the-ca", "wrong-host-name"],
)
def test_meters_are_refused_without_a_verified_tls_connection(
    broker: SecureBroker, url: str, ca: bool, refusal: str
) -> None:
    address = BrokerAddress.parse(url.format(host=HOST, port=broker.port), ca_file=broker.ca_file if ca else None)

    async def connect() -> None:
        async with asyncio.timeout(20), MeterConnections(address, SECRET.mqtt_password, ["KNCL0000001"], ROOT):
            pass

    with pytest.raises(aiomqtt.MqttError, match=refusal):
        asyncio.run(connect())


@pytest.mark.mosquitto
def test_a_headend_with_the_wrong_password_is_refused(broker: SecureBroker) -> None:
    address = BrokerAddress.parse(broker.url, ca_file=broker.ca_file).signed_in(HEADEND_USER, "not-its-password")

    async def connect() -> None:
        uplink = MqttUplink(address, topics.uplink_filter(ROOT), "h", asyncio.get_running_loop())
        await uplink.start()

    with pytest.raises(BrokerDown, match="refused the head-end"):
        asyncio.run(connect())


@pytest.mark.mosquitto
def test_a_meter_publishes_and_reads_only_its_own_topics(broker: SecureBroker) -> None:
    # Messages from one client reach another in the order sent: what arrives after the
    # allowed message shows what the refused one would have done had it got through.
    me, other = "KNCL0000001", "KNCL0000002"

    async def scenario() -> tuple[list[str], list[str]]:
        uplink = MqttUplink(headend_address(broker), topics.uplink_filter(ROOT), "h", asyncio.get_running_loop())
        await uplink.start()
        async with aiomqtt.Client(
            HOST,
            broker.port,
            identifier=me,
            username=me,
            password=SECRET.mqtt_password(me),
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=BrokerAddress.parse(broker.url, ca_file=broker.ca_file).tls_context(),
        ) as meter:
            await meter.subscribe(topics.downlink(ROOT, other), qos=1)
            await meter.subscribe(topics.downlink(ROOT, me), qos=1)
            await meter.publish(topics.uplink(ROOT, other, "reading"), b"forged", qos=1)
            await meter.publish(topics.uplink(ROOT, me, "reading"), b"own", qos=1)
            heard = [d.topic for d in await take(uplink, 1)]
            await uplink.publish(topics.downlink(ROOT, other), b"for the other")
            await uplink.publish(topics.downlink(ROOT, me), b"for me")
            async with asyncio.timeout(15):
                told = [str(m.topic) async for m in _first(meter.messages)]
        await uplink.close()
        return heard, told

    heard, told = asyncio.run(scenario())
    assert heard == [topics.uplink(ROOT, me, "reading")]
    assert told == [topics.downlink(ROOT, me)]


async def _first(messages: AsyncIterator[aiomqtt.Message]) -> AsyncIterator[aiomqtt.Message]:
    async for message in messages:
        yield message
        return


class Intruder:
    """A client with a meter's own password that connects under someone else's client id,
    asks for a clean session (which would throw away that client's session and what waits in
    it), and tries to read the meters' uplink: directly, and by joining the shared subscription
    group it can name (``headend``, which head-end workers joined before their group name came
    from the site's identity secret)."""

    def __init__(self, broker: SecureBroker, client_id: str) -> None:
        self.client = aiomqtt.Client(
            HOST,
            broker.port,
            identifier=client_id,
            username=INTRUDER,
            password=SECRET.mqtt_password(INTRUDER),
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=True,
            tls_context=BrokerAddress.parse(broker.url, ca_file=broker.ca_file).tls_context(),
        )

    async def __aenter__(self) -> Intruder:
        await self.client.__aenter__()
        await self.client.subscribe(topics.shared_uplink_filter(ROOT, "headend"), qos=1)
        await self.client.subscribe(topics.uplink_filter(ROOT), qos=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(None, None, None)

    def received(self) -> int:
        return len(self.client.messages)


@pytest.mark.mosquitto
def test_a_meters_password_takes_over_no_session_and_no_acknowledged_frame_is_lost(
    broker: SecureBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(SECRET))
    password_file = tmp_path / "broker.password"
    password_file.write_text(HEADEND_PASSWORD + "\n")
    cfg = settings.build(
        data_dir=tmp_path / "data",
        broker_url=broker.url,
        topic_root=ROOT,
        broker_username=HEADEND_USER,
        broker_password_file=password_file,
        broker_ca=broker.ca_file,
        new_site=True,
    )
    platform = bootstrap(cfg)
    city = build_city(METERS)
    commission_city(platform.store, platform.settings.tariff_code, city, START - timedelta(days=1))
    tariff = builtin_tariffs()["UP-LMV1-DU"]
    twin = FleetTwin(city, [], cfg.site_keys, tariff, start=START, root=ROOT, options=TwinOptions(drift_ppm=0))
    try:
        outcome = asyncio.run(_attacked_rounds(platform, broker, twin))
    finally:
        platform.close()

    assert outcome == {
        "readings acknowledged to meters": METERS * 4,
        "acknowledged readings not in the store": set(),
        "frames the broker refused to meters": 0,
        "messages the intruders read": [0, 0, 0, 0],
        "head-end connections lost": 0,
        "meter connections lost": 0,
    }


async def _attacked_rounds(platform: Platform, broker: SecureBroker, twin: FleetTwin) -> dict[str, object]:
    """Four rounds of readings, each published while an intruder holds a connection under a
    client id it has no right to: the head-end worker's own, the head-end's user name, a twin's,
    a meter's. Then what happened to the readings, the intruders and the connections."""
    cfg = platform.settings
    headend = await headend_for(platform, cfg.broker_address(), "1")
    assert isinstance(headend.uplink, MqttUplink)
    running = asyncio.create_task(headend.run())
    acknowledged: set[tuple[str, int]] = set()
    intruders: list[int] = []
    refused = 0
    try:
        async with MeterConnections(cfg.meters_broker_address(), twin.mqtt_password, twin.meter_ids, ROOT) as link:
            stolen_ids = [
                headend_client_id(cfg.site_keys, ROOT, "1"),
                HEADEND_USER,
                link.client_id(twin.meter_ids[0]),
                twin.meter_ids[1],
            ]
            for n, client_id in enumerate(stolen_ids):
                async with Intruder(broker, client_id) as intruder:
                    twin.close_interval(START + n * INTERVAL)
                    frames = twin.take_outgoing()
                    undelivered = await link.publish(frames)
                    refused += len(undelivered)
                    acknowledged |= readings_of(frames) - readings_of(undelivered)
                    await _stored(platform, len(acknowledged))
                    intruders.append(intruder.received())
            meter_losses = link.losses
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await headend.uplink.close()
    stored = {
        (m, int(r.interval_start.timestamp()))
        for m in twin.meter_ids
        for r in platform.queries.readings(m, START, START + timedelta(days=1))
    }
    return {
        "readings acknowledged to meters": len(acknowledged),
        "acknowledged readings not in the store": acknowledged - stored,
        "frames the broker refused to meters": refused,
        "messages the intruders read": intruders,
        "head-end connections lost": headend.uplink.disconnections,
        "meter connections lost": meter_losses,
    }


async def _stored(platform: Platform, count: int, timeout_s: float = 20) -> None:
    """Wait until the store holds `count` readings (or the time is up: the caller compares)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while platform.queries.count_readings() < count and loop.time() < deadline:
        await asyncio.sleep(0.05)
