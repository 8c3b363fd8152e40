"""Alert use cases: deliver what the outbox holds (claim, send, record), and list an
account's alerts with their delivery states.

Raising an alert is not a use case of its own: the area whose fact causes it calls
`uow.alerts.raise_alerts` inside its own unit of work (see `ports.Outbox`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from bijli.alerts.model import (
    SITE_RETRIES,
    AlertRecord,
    Due,
    Outcome,
    Result,
    Retries,
    after_failure,
    message_id,
)
from bijli.alerts.ports import AlertsUnit, Message, Sender, Senders, SendFailed
from bijli.alerts.texts import render
from bijli.kernel.unit import Transactions

DELIVER_EVERY: Final = timedelta(seconds=2)
"""How often `bijli serve` looks for deliveries due."""
BATCH: Final = 200
"""Deliveries one round claims, at most."""
PARALLEL: Final = 8
"""Messages a worker sends at a time (`bijli serve`, `bijli alerts deliver`)."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery round did: deliveries claimed, and how many of each outcome."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return self.outcomes[Outcome.SENT.value]

    @property
    def retried(self) -> int:
        return self.outcomes[Outcome.RETRY.value]

    @property
    def failed(self) -> int:
        return self.outcomes[Outcome.FAILED.value]


def message_for(due: Due) -> Message:
    """The message one claimed delivery sends (the same text and id on every try)."""
    text = render(due.kind, due.facts, due.language, due.account_no, due.raised_at)
    return Message(
        alert_id=due.alert_id,
        channel=due.channel,
        message_id=message_id(due.alert_id, due.channel),
        to=due.to or "",
        language=due.language,
        template_id=text.template_id,
        subject=text.subject,
        text=text.text,
    )


def deliver_due(
    store: Transactions[AlertsUnit],
    channels: Senders,
    now: datetime,
    limit: int = BATCH,
    clock: Callable[[], datetime] | None = None,
    retries: Retries = SITE_RETRIES,
    parallel: int = 1,
) -> DeliveryReport:
    """One round: claim up to `limit` due deliveries under a lease (committed), send each
    through its channel's provider, then record each outcome at once: `sent`, a retry with
    backoff, or `failed` for good. Only the channels in `channels` are claimed (the others wait
    for a worker that has them); one whose lease is about to end is left for the lease to end
    (then claimed again). `parallel` messages are sent at a time (providers answer slowly: a
    gateway's round trip, an SMTP conversation). `clock` reads the time as sending goes on
    (default: `now` throughout, a simulated clock)."""
    with store.transaction() as uow:
        claimed = uow.alerts.claim(now, limit, sorted(channels), retries.lease)
    if not claimed:
        return DeliveryReport()
    stop_at = now + retries.lease - retries.margin

    def deliver(due: Due) -> str | None:
        at = clock() if clock is not None else now
        sender = channels.get(due.channel)
        if sender is None or at >= stop_at:
            return None
        result = _send(due, sender, at, clock, retries)
        with store.transaction() as uow:  # at once: a crash now resends this one message at most
            uow.alerts.finish([result])
        return result.outcome.value

    if parallel <= 1:
        done = [deliver(due) for due in claimed]
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            done = list(pool.map(deliver, claimed))
    return DeliveryReport(claimed=len(claimed), outcomes=Counter(o for o in done if o is not None))


def _send(due: Due, sender: Sender, at: datetime, clock: Callable[[], datetime] | None, retries: Retries) -> Result:
    if due.to is None:
        return after_failure(due, f"no {due.channel.value} address any more", True, at, retries)
    try:
        ref = sender.send(message_for(due))
    except SendFailed as e:
        return after_failure(due, str(e) or type(e).__name__, e.final, at, retries)
    return Result(
        alert_id=due.alert_id,
        channel=due.channel,
        attempts=due.attempts,
        outcome=Outcome.SENT,
        at=clock() if clock is not None else at,
        provider_ref=ref[:128],
    )


class LiveFeed:
    """The web channel: the consumer page's live feed shows every alert whose web delivery is
    `sent`, so taking the message is all there is to it (keyed by alert id: once, by design)."""

    def send(self, message: Message) -> str:
        return message.message_id


def alerts_of(store: Transactions[AlertsUnit], account_no: str, limit: int, offset: int) -> list[AlertRecord]:
    """An account's alerts, newest first, with each channel's delivery."""
    with store.transaction() as uow:
        return uow.alerts.of_account(account_no, limit, offset)


def feed_of(store: Transactions[AlertsUnit], account_no: str, after_id: int, limit: int = 50) -> list[AlertRecord]:
    """An account's alerts on its web live feed after `after_id`, oldest first."""
    with store.transaction() as uow:
        return uow.alerts.feed(account_no, after_id, limit)
