"""What `bijli demo` runs: the embedded stack live, with a simulated city reporting into it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from rich.console import Console

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.embedded import HEADEND_USER, headend_password, start_broker
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.alerts.handlers import DELIVER_EVERY
from bijli.bootstrap import Platform
from bijli.entrypoints.demo import demo_logins
from bijli.entrypoints.serve import (
    cancel,
    deliver_every,
    headend_for,
    reconcile_every,
    supply_every,
    vee_every,
    web_server,
)
from bijli.fleet.simulate import run_simulation
from bijli.headend.dispatcher import Dispatcher
from bijli.kernel.clock import SystemClock
from bijli.payments.handlers import RECONCILE_EVERY

MQTT_HOST = "127.0.0.1"
PACE_TIMEOUT_S = 30.0
VEE_PERIOD_S = 300.0


async def run_live(platform: Platform, *, meters: int, mqtt_port: int, hotspot_port: int, console: Console) -> None:
    """Broker, head-end, web and fleet in one process, until interrupted (the caller disposes
    of the platform)."""
    cfg = platform.settings
    broker = await start_broker(cfg.site_keys, cfg.topic_root, MQTT_HOST, mqtt_port)
    address = BrokerAddress(MQTT_HOST, mqtt_port, HEADEND_USER, headend_password(cfg.site_keys), mqtt5=False)
    headend = await headend_for(platform, address, "demo")
    fleet_settings = dataclasses.replace(cfg, broker_url=f"mqtt://{MQTT_HOST}:{mqtt_port}?protocol=311")
    server = web_server(platform)

    async def caught_up(published: int) -> None:
        # amqtt stops waiting for a QoS 1 PUBACK after 5 s and never sends the message again,
        # and the head-end acknowledges only after commit: so the catch-up waits each round
        # until the head-end has the round, keeping amqtt's deliveries few and short.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PACE_TIMEOUT_S
        while headend.totals.received < published and loop.time() < deadline:
            await asyncio.sleep(0.02)

    url = f"http://{cfg.host}:{cfg.port}"
    assert isinstance(headend.uplink, MqttUplink)  # commands go out on the head-end's connection
    dispatcher = Dispatcher(platform.dispatch, headend.uplink, platform.ring, headend.root, SystemClock())
    tasks = [
        asyncio.create_task(headend.run()),
        asyncio.create_task(dispatcher.run()),
        asyncio.create_task(supply_every(platform)),
        asyncio.create_task(vee_every(platform, VEE_PERIOD_S)),
        asyncio.create_task(reconcile_every(platform, RECONCILE_EVERY.total_seconds())),
        asyncio.create_task(deliver_every(platform, DELIVER_EVERY.total_seconds())),
        asyncio.create_task(
            run_simulation(
                fleet_settings,
                platform,
                meters=meters,
                days=None,
                start=None,
                console=console,
                paced_by=caught_up,
                hotspot_port=hotspot_port,
            )
        ),
    ]
    for task in tasks:
        task.add_done_callback(_report_failure)
    console.print(f"[bold]bijli demo[/bold]: {meters} meters in Civil Lines and Mall Road, data in {cfg.data_dir}")
    logins = demo_logins(platform, SystemClock().now())
    console.print(f"  log in at:   {url}/login")
    console.print(f"    staff:     user name {logins.operator}, password {logins.password} (an operator)")
    console.print(f"    consumer:  mobile {logins.consumer_mobile}; the SMS with the code is printed here")
    console.print(f"  operations:  {url}/operations")
    console.print(f"  a consumer:  {url}/consumer/KNCL0000001")
    console.print(f"  recharge:    {url}/consumer/KNCL0000001/recharge  (development gateway; or `bijli pay`)")
    console.print(f"  API:         {url}/api/v1/meters   (OpenAPI: {url}/openapi.json)")
    console.print(
        f"  alerts:      SMS as JSON lines in {cfg.data_dir / 'alerts' / 'sms.jsonl'}; web feed on the consumer page"
    )
    console.print(f"  MQTT broker: mqtt://{MQTT_HOST}:{mqtt_port} (per-meter credentials)")
    console.print(f"  hotspots:    http://{MQTT_HOST}:{hotspot_port}/meters/KNCL0000001/hotspot")
    console.print("The fleet catches up on the last day, then reports live every 15 minutes. Ctrl-C stops.")
    try:
        await server.serve()
    finally:
        await cancel(tasks)
        await headend.uplink.close()
        await broker.shutdown()


def _report_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error("demo task stopped", exc_info=task.exception())
