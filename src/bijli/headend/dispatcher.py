"""The command dispatcher: every tick it expires, confirms, and sends what is due.

Everything it knows is in the store, so it can stop at any moment and any number of them can
run side by side (`CommandDispatch` says how they share the work).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import msgspec

from bijli.headend.commands import DEFAULT_POLICY, DispatchPolicy
from bijli.headend.model import KeyRing
from bijli.headend.outage import StoreOutage
from bijli.headend.ports import CommandDispatch, Downlink
from bijli.kernel.clock import Clock
from bijli.kernel.unit import Backoff, StoreUnavailable
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import KEY_CHANGE, CommandFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did."""

    expired: int
    confirmed: int
    sent: int
    held: int
    gave_up: int
    not_published: int


@dataclass(slots=True)
class DispatchTotals:
    """Running totals since the dispatcher started."""

    ticks: int = 0
    expired: int = 0
    confirmed: int = 0
    sent: int = 0
    gave_up: int = 0
    not_published: int = 0
    store_unavailable: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, r: TickReport) -> None:
        self.ticks += 1
        self.expired += r.expired
        self.confirmed += r.confirmed
        self.sent += r.sent
        self.gave_up += r.gave_up
        self.not_published += r.not_published


class Dispatcher:
    """Sends stored commands to meters and follows them until they settle."""

    def __init__(
        self,
        rounds: CommandDispatch,
        downlink: Downlink,
        ring: KeyRing,
        root: str,
        clock: Clock,
        policy: DispatchPolicy = DEFAULT_POLICY,
        backoff: Backoff | None = None,
    ) -> None:
        self.rounds = rounds
        self.downlink = downlink
        self.ring = ring
        self.root = root
        self.clock = clock
        self.policy = policy
        self.totals = DispatchTotals()
        self._outage = StoreOutage("command dispatch waits", backoff or Backoff(), log)

    async def run(self) -> None:
        """Tick until cancelled; a tick that fails is tried again next time, and while the store
        is unavailable the dispatcher waits it out with backoff (what it would send stays due)."""
        while True:
            try:
                self.totals.add(await self.tick())
            except StoreUnavailable as e:
                self.totals.store_unavailable += 1
                await self._outage.wait(e)
                continue
            except Exception as e:
                log.exception("command dispatch round failed; trying again")
                self.totals.errors.append(repr(e))
            else:
                self._outage.over()
            await asyncio.sleep(self.policy.tick_s)

    async def tick(self) -> TickReport:
        """One round: expire, confirm, then claim and publish what is due."""
        rounds, policy = self.rounds, self.policy
        expired = await asyncio.to_thread(rounds.expire_due, self.clock.now(), policy)
        confirmed = await asyncio.to_thread(rounds.confirm_observed, self.clock.now(), policy)
        claimed = await asyncio.to_thread(rounds.claim_due, self.clock.now(), policy)
        # Published together, in counter order (each publish is handed to the broker client
        # before the next starts). Already marked sent: one that does not go out now is sent
        # again after the timeout.
        results = await asyncio.gather(
            *(self._publish(f, claimed.key_versions.get(f.m, self.ring.site.current)) for f in claimed.frames),
            return_exceptions=True,
        )
        not_published = 0
        for frame, result in zip(claimed.frames, results, strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "command %s to %s not published (%r); sent again after the timeout",
                    frame.command_id,
                    frame.m,
                    result,
                )
                not_published += 1
        if claimed.frames:
            log.info("sent %d commands", len(claimed.frames) - not_published)
        return TickReport(
            expired=expired,
            confirmed=confirmed,
            sent=len(claimed.frames) - not_published,
            held=claimed.held,
            gave_up=claimed.gave_up,
            not_published=not_published,
        )

    async def _publish(self, frame: CommandFrame, version: int) -> None:
        """Seal a command with the frame key of the version its meter holds and publish it; a
        key change gets the new keys, wrapped under that key, as it goes out."""
        if frame.action == KEY_CHANGE:
            args = self.ring.key_change_args(frame.m, version, frame.args["version"])
            frame = msgspec.structs.replace(frame, args=args)
        payload = seal(self.ring.frame_key(frame.m, version), frame, version)
        await self.downlink.publish(topics.downlink(self.root, frame.m), payload, qos=1)
