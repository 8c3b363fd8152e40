"""What `bijli serve` runs: web and API, and the head-end when a broker is given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol, cast, runtime_checkable

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.adapters.db.control import KEPT_S
from bijli.alerts.handlers import BATCH, DELIVER_EVERY, PARALLEL, deliver_due
from bijli.bootstrap import Platform
from bijli.headend.dispatcher import Dispatcher
from bijli.headend.handlers import ask_for_profile
from bijli.headend.ports import Downlink, Uplink
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SystemClock
from bijli.kernel.unit import StoreUnavailable
from bijli.mdm.handlers import run_vee
from bijli.network.handlers import balance_due, find_outages
from bijli.payments.handlers import RECONCILE_EVERY, reconcile
from bijli.prepaid.policy import uppcl
from bijli.protocol import topics
from bijli.protocol.keys import SiteKeys
from bijli.supply.handlers import decide_all_due
from bijli.vigilance.handlers import OPEN_EVERY, find_hooking, open_due_cases
from bijli.vigilance.rules import shipped_rules

log = logging.getLogger(__name__)
READY_LAG_S = 0.05
"""The ready round starts this long after each half minute begins (on the same clock as the windows' keys)."""


def web_server(platform: Platform) -> uvicorn.Server:
    """The web app on the settings' loopback address."""
    from bijli.web.app import create_app

    config = uvicorn.Config(
        create_app(platform, warm=True),  # before it listens: no page's first view waits for a template or font
        host=platform.settings.host,
        port=platform.settings.port,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=5,  # an open live feed (up to 25 s) does not hold up a stop
    )
    return uvicorn.Server(config)


def headend_client_id(site: SiteKeys, root: str, worker: str) -> str:
    """A head-end worker's MQTT client id: the same at every start (so a worker that restarts
    resumes its persistent session) and across key rotations, and not to be guessed without
    the site's identity secret (so no client can take that session over by connecting under
    its id, on a broker that does not bind client ids to user names)."""
    return f"bijli-{root}-headend-{worker}-{site.tag(f'headend-client-id/{root}/{worker}')}"


def headend_group(site: SiteKeys, root: str) -> str:
    """The shared subscription group of a site's head-end workers, not to be guessed without
    the site's identity secret. A broker whose ACL checks deliveries but not subscriptions (Mosquitto's
    acl_file) lets any client join a group it can name; the broker then hands that client its
    share of the uplink and drops it for want of read access, after acknowledging it to the
    meters."""
    return f"headend-{site.tag(f'headend-group/{root}')}"


async def headend_for(platform: Platform, address: BrokerAddress, worker: str = "1") -> HeadEnd:
    """A head-end worker ingesting from an MQTT broker (MQTT 5: the shared subscription group
    `headend_group`, which every worker of the site joins).

    Its MQTT client id is `headend_client_id`; a broker configured as docs/operations.md says
    replaces it with the worker's user name. Give each worker its own name (and user name).
    """
    root = platform.settings.topic_root
    secret = platform.settings.site_keys
    uplink = MqttUplink(
        address,
        topics.shared_uplink_filter(root, headend_group(secret, root)) if address.mqtt5 else topics.uplink_filter(root),
        headend_client_id(secret, root, worker),
        asyncio.get_running_loop(),
        event_lane=True,
    )
    await uplink.start()
    return HeadEnd(platform.store, uplink, platform.ring, root, SystemClock(), name=f"{socket.gethostname()}/{worker}")


EVENT_BATCH: Final = 500
EVENT_WAIT_S: Final = 0.02
"""The event lane's batches: small and quick (event frames are few; a tamper should not wait)."""


@runtime_checkable
class LanedUplink(Protocol):
    """An uplink that keeps the meters' event frames in a lane of their own."""

    def event_lane(self) -> Uplink: ...


def event_worker_for(platform: Platform, headend: HeadEnd) -> HeadEnd | None:
    """A head-end worker of its own for the meters' event frames, on the same connection as
    `headend` (its uplink's event lane: on Mosquitto the frames' queue of their own, on
    JetStream their own durable consumer): a tamper's frame is stored at once, in a small
    batch of its own, however many readings wait before it. None for an uplink without one."""
    uplink = headend.uplink
    if not isinstance(uplink, LanedUplink):
        return None
    return HeadEnd(
        platform.store,
        uplink.event_lane(),
        platform.ring,
        headend.root,
        SystemClock(),
        max_batch=EVENT_BATCH,
        max_wait_s=EVENT_WAIT_S,
        name=f"{headend.name[:57]}/events",  # ingest_batches.worker holds 64 characters
        settling=False,
    )


async def jetstream_headend_for(platform: Platform, address: NatsAddress, worker: str = "1") -> HeadEnd:
    """A head-end worker ingesting from NATS JetStream: every worker of the site fetches from
    the same durable pull consumer (named like `headend_group`), a work queue, and the meters'
    event frames from a second one of their own (for `event_worker_for`)."""
    from bijli.adapters.brokers.jetstream import JetStreamUplink  # the NATS client only where it is used

    root = platform.settings.topic_root
    uplink = JetStreamUplink(
        address,
        topics.uplink_filter(root),
        headend_group(platform.settings.site_keys, root),
        event_filter=topics.event_filter(root),
    )
    await uplink.start()
    return HeadEnd(platform.store, uplink, platform.ring, root, SystemClock(), name=f"{socket.gethostname()}/{worker}")


async def ready_every(keep_ready: Callable[[], None], period_s: float = KEPT_S) -> None:
    """The dashboard's and the control room's kept figures worked out again at the start of
    every `period_s` (the half minute they are kept, so each window's are there before a view
    asks; `bijli.web.ready`)."""
    while True:
        await asyncio.sleep(period_s - time.time() % period_s + READY_LAG_S)
        try:
            await asyncio.to_thread(keep_ready)
        except StoreUnavailable as e:  # views work out what they need meanwhile
            log.warning("store unavailable (%s); the kept figures are worked out by the views until it is back", e)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("working out the kept figures failed")


async def vee_every(platform: Platform, period_s: float) -> None:
    """Validation and estimation, every `period_s`, for as long as the head-end runs."""

    def backfill(meter_id: str, begin: datetime, end: datetime) -> None:
        ask_for_profile(platform.store, meter_id, begin, end, SystemClock().now())

    while True:
        await asyncio.sleep(period_s)
        try:
            await asyncio.to_thread(run_vee, platform.store, SystemClock().now(), request_backfill=backfill)
        except StoreUnavailable as e:  # the next pass looks at the same intervals again
            log.warning("store unavailable (%s); VEE pass skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed pass is logged and tried again next time
            log.exception("VEE pass failed")


async def reconcile_every(platform: Platform, period_s: float) -> None:
    """Reconciliation rounds (redemptions against the token register, credit mirrors against
    the ledger), every `period_s`, for as long as the head-end runs."""
    while True:
        await asyncio.sleep(period_s)
        try:
            await asyncio.to_thread(reconcile, platform.store, SystemClock().now())
        except StoreUnavailable as e:  # the next round looks at the same reports again
            log.warning("store unavailable (%s); reconciliation skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("reconciliation round failed")


BALANCE_ROUND_S = 60.0


async def balance_every(platform: Platform, period_s: float = BALANCE_ROUND_S) -> None:
    """The energy balance: every `period_s`, each day whose readings settled since its balance
    was worked out is worked out again (at most every few minutes a day: `balance_due`); a
    flagged transformer opens its hooking case (`find_hooking`)."""
    while True:
        await asyncio.sleep(period_s)
        try:
            done = await asyncio.to_thread(balance_due, platform.store, SystemClock().now())
            if done.days:
                log.info("balance: %d days, %d transformers, %d flagged", done.days, done.transformers, done.flagged)
            if done.flagged:
                opened = await asyncio.to_thread(find_hooking, platform.store, SystemClock().now())
                if opened:
                    log.info("hooking: %d cases opened", len(opened))
        except StoreUnavailable as e:  # the days stay due; the next round takes them
            log.warning("store unavailable (%s); balance round skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("balance round failed")


SUPPLY_EVERY_S = 5.0


async def supply_every(platform: Platform, period_s: float = SUPPLY_EVERY_S) -> None:
    """The supply service: every `period_s`, decide for every account that is due (warn,
    notice, permit, cut, reconnect), by the shipped policy file."""
    policy = uppcl()
    while True:
        try:
            done = await asyncio.to_thread(decide_all_due, platform.store, policy, SystemClock().now())
            if done.accounts:
                log.info(
                    "supply: %d accounts, %d alerts, %d disconnects, %d reconnects, %d permits",
                    done.accounts,
                    done.alerts,
                    done.disconnects,
                    done.reconnects,
                    done.permits,
                )
        except StoreUnavailable as e:  # the accounts stay due; the next round takes them
            log.warning("store unavailable (%s); supply round skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("supply round failed")
        await asyncio.sleep(period_s)


OUTAGES_EVERY_S = 5.0


async def outages_every(platform: Platform, period_s: float = OUTAGES_EVERY_S) -> None:
    """Outages found from the last gasps and the meters' links, every `period_s`."""
    while True:
        try:
            found = await asyncio.to_thread(find_outages, platform.store, SystemClock().now())
            if found.saved or found.dropped:
                log.info(
                    "outages: %d recorded or changed (%d power, %d operator going on)",
                    found.saved,
                    found.open_power,
                    found.open_operator,
                )
        except StoreUnavailable as e:  # the next round looks at the same facts again
            log.warning("store unavailable (%s); outage round skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("outage round failed")
        await asyncio.sleep(period_s)


async def cases_every(platform: Platform, period_s: float = OPEN_EVERY.total_seconds()) -> None:
    """The cases' round: every `period_s`, the meters' new events open cases by the shipped
    rules (`vigilance/rules.toml`) and tell their consumers; a tamper is a case within a
    second or two of its frame's arrival."""
    rules = shipped_rules()
    while True:
        try:
            done = await asyncio.to_thread(open_due_cases, platform.store, rules, SystemClock().now())
            if done.opened:
                log.info("cases: %d opened from %d events", len(done.opened), done.events)
        except StoreUnavailable as e:  # the cursor stays; the next round reads the same events
            log.warning("store unavailable (%s); cases round skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("cases round failed")
        await asyncio.sleep(period_s)


async def deliver_every(platform: Platform, period_s: float) -> None:
    """Alert delivery rounds, every `period_s` (at once again while a round finds a full
    batch), for as long as the platform serves."""
    while True:
        try:
            report = await asyncio.to_thread(
                deliver_due,
                platform.store,
                platform.alert_channels,
                SystemClock().now(),
                clock=SystemClock().now,
                parallel=PARALLEL,
            )
            if report.claimed >= BATCH:  # more waiting
                continue
        except StoreUnavailable as e:  # what was claimed is claimed again when its lease ends
            log.warning("store unavailable (%s); alert delivery skipped, next in %.0f s", e, period_s)
        except Exception:  # a failed round is logged and tried again next time
            log.exception("alert delivery round failed")
        await asyncio.sleep(period_s)


async def cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Stop background tasks and wait until they have stopped."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_serve(platform: Platform, console: Console, worker: str = "1", vee_period_s: float = 300.0) -> None:
    """Serve until interrupted (the caller disposes of the platform)."""
    tasks: list[asyncio.Task[Any]] = []
    headend = None
    if platform.settings.speaks_mqtt or platform.settings.speaks_nats:
        address: BrokerAddress | NatsAddress
        if platform.settings.speaks_nats:
            address = platform.settings.nats_address()
            headend = await jetstream_headend_for(platform, address, worker)
        else:
            address = platform.settings.broker_address()
            headend = await headend_for(platform, address, worker)
        tasks.append(asyncio.create_task(headend.run()))
        events = event_worker_for(platform, headend)
        if events is not None:
            tasks.append(asyncio.create_task(events.run()))
        tasks.append(asyncio.create_task(vee_every(platform, vee_period_s)))
        tasks.append(asyncio.create_task(reconcile_every(platform, RECONCILE_EVERY.total_seconds())))
        tasks.append(asyncio.create_task(balance_every(platform)))
        who = f" as {address.username}" if address.username else ""
        console.print(f"head-end ingesting from [bold]{address}[/bold]{who}")
        # Commands go out on the head-end's own broker connection.
        uplink = headend.uplink
        assert isinstance(uplink, MqttUplink) or platform.settings.speaks_nats
        dispatcher = Dispatcher(platform.dispatch, cast(Downlink, uplink), platform.ring, headend.root, SystemClock())
        tasks.append(asyncio.create_task(dispatcher.run()))
        tasks.append(asyncio.create_task(supply_every(platform)))
        tasks.append(asyncio.create_task(cases_every(platform)))
        tasks.append(asyncio.create_task(outages_every(platform)))
        console.print("command dispatcher, supply service, cases and outage finder running")
    tasks.append(asyncio.create_task(deliver_every(platform, DELIVER_EVERY.total_seconds())))
    console.print(f"alerts delivered by {', '.join(sorted(platform.alert_channels))}")
    server = web_server(platform)
    tasks.append(asyncio.create_task(ready_every(cast(FastAPI, server.config.app).state.keep_ready)))
    console.print(f"web and API on [bold]http://{platform.settings.host}:{platform.settings.port}/[/bold]")
    console.print("staff and consumers log in at /login; other systems send a token (bijli access token create)")
    try:
        await server.serve()
    finally:
        await cancel(tasks)
        if headend is not None:
            await headend.uplink.close()
