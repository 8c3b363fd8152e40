"""Alerts survive crashes: the delivery worker (`bijli alerts deliver`, a real process) killed
mid-run, and the SMTP server killed mid-run, lose no alert and double none at the consumer.

Each alert goes by SMS through an HTTP gateway the test runs (it sends a repeated client
reference once, as gateways do), by e-mail to an aiosmtpd server in a process of its own, and
to the web feed. A kill may leave the messages a worker had in flight (up to `PARALLEL` at a time) sent but
not yet recorded; they go again with the same id (client reference, Message-ID), which the
count below allows and reports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.alerts.handlers import PARALLEL
from bijli.alerts.model import Alert, AlertKind
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from tests.conftest import BIJLI
from tests.support.mailbox import Mailbox
from tests.support.sms_gateway import Gateway

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CONSUMERS = 40
ALERTS_EACH = 3
DEADLINE_S = 120


@pytest.fixture
def site(pg_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A PostgreSQL site with a small city; every other consumer has an e-mail address, and
    each consumer has alerts waiting in the outbox."""
    platform = bootstrap(settings.build(data_dir=tmp_path / "data", database_url=pg_url, new_site=True))
    city = build_city(CONSUMERS)
    commission_city(platform.store, platform.settings.tariff_code, city, NOW)
    with platform.store.transaction() as uow:
        for n, c in enumerate(city):
            if n % 2 == 0:
                uow.conn.execute(
                    sa.text("UPDATE consumers SET email = :e WHERE consumer_id = :c"),
                    {"e": f"c{n}@example.in", "c": c.account_no},
                )
        uow.alerts.raise_alerts(
            [
                Alert(
                    account_no=c.account_no,
                    kind=AlertKind.LOW_BALANCE,
                    fact_key=f"low_balance:{level}:{c.account_no}:r1",
                    facts={"level_pct": level, "balance_paise": 10_000 * level},
                    raised_at=NOW,
                )
                for c in city
                for level in (30, 10, 0)[:ALERTS_EACH]
            ],
            NOW,
        )
    yield platform
    platform.close()


@pytest.fixture
def gateway(gateway: Gateway) -> Gateway:
    """The SMS gateway, 10 ms a request: a worker is busy with one when it is killed."""
    gateway.delay_s = 0.01
    return gateway


@pytest.fixture
def worker(
    site: Platform, gateway: Gateway, mailbox: Mailbox, pg_url: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts `bijli alerts deliver` processes on the site (short lease and retries)."""
    key_file = tmp_path / "gateway.key"
    key_file.write_text(gateway.key + "\n")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(procs)}.log").open("wb") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                [
                    *BIJLI,
                    "alerts",
                    "deliver",
                    "--data-dir",
                    str(site.settings.data_dir),
                    "--database-url",
                    pg_url,
                    "--alert-sms",
                    "gateway",
                    "--sms-gateway-url",
                    gateway.url,
                    "--sms-gateway-key-file",
                    str(key_file),
                    "--dlt-entity-id",
                    "1101176500000000001",
                    "--smtp-url",
                    f"smtp://127.0.0.1:{mailbox.port}",
                    "--mail-from",
                    "alerts@kesco.example",
                    "--period",
                    "0.1",
                    "--lease",
                    "3",
                    "--first-retry",
                    "0.5",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


def expected(site: Platform) -> tuple[set[str], set[str], int]:
    """The SMS client references and e-mail Message-IDs every alert should reach, and how many alerts."""
    with site.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT alert_id, channel FROM alert_deliveries WHERE state <> 'skipped'")).all()
    sms = {f"bijli-alert-{a}-sms" for a, ch in rows if ch == "sms"}
    mail = {f"<bijli-alert-{a}-email@kesco.example>" for a, ch in rows if ch == "email"}
    return sms, mail, len({a for a, _ in rows})


def states(site: Platform) -> Counter[str]:
    with site.store.engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT state, count(*) FROM alert_deliveries GROUP BY state")).all()))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def all_final(site: Platform) -> bool:
    now = states(site)
    return now["pending"] == 0 and now["sending"] == 0


def test_killing_the_delivery_worker_loses_and_doubles_no_alert(
    site: Platform, gateway: Gateway, mailbox: Mailbox, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    sms, mail, alerts = expected(site)
    assert alerts == CONSUMERS * ALERTS_EACH and len(mail) == alerts // 2
    kills = 0
    for share in (0.2, 0.5):  # killed twice mid-run, each time restarted
        proc = worker()
        wait_for(lambda s=share: len(gateway.delivered) >= s * len(sms), f"{share:.0%} of the SMS")  # type: ignore[misc]
        kill(proc)
        kills += 1
    worker()
    worker()  # two workers share the queue to the end
    wait_for(lambda: all_final(site), "every delivery to reach a final state")

    assert states(site) == Counter({"sent": 3 * alerts - alerts // 2, "skipped": alerts // 2})
    assert set(gateway.delivered) == sms  # none lost; the gateway sends a repeated reference once
    sms_repeats = sum(n - 1 for n in Counter(r["client_ref"] for r in gateway.requests).values())
    received = Counter(m["message_id"] for m in mailbox.messages())
    assert set(received) == mail  # none lost
    mail_repeats = sum(n - 1 for n in received.values())
    # At most the messages a worker had in flight when it was killed (PARALLEL at a time).
    assert sms_repeats + mail_repeats <= kills * PARALLEL, (sms_repeats, mail_repeats)
    print(f"\nkilled the worker {kills} times: {sms_repeats} SMS and {mail_repeats} e-mail sent again, same ids")


def test_killing_the_smtp_server_loses_and_doubles_no_alert(
    site: Platform, gateway: Gateway, mailbox: Mailbox, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    sms, mail, alerts = expected(site)
    worker()
    wait_for(lambda: len(mailbox.messages()) >= len(mail) // 4, "a quarter of the e-mail")
    mailbox.kill()
    with site.store.engine.connect() as conn:  # the worker finds the relay gone and retries later
        wait_for(
            lambda: (
                conn.execute(
                    sa.text("SELECT count(*) FROM alert_deliveries WHERE channel = 'email' AND attempts > 1")
                ).scalar_one()
                > 0
                or all_final(site)
            ),
            "an e-mail to fail and wait for a retry",
        )
    mailbox.start()
    wait_for(lambda: all_final(site), "every delivery to reach a final state")

    assert states(site) == Counter({"sent": 3 * alerts - alerts // 2, "skipped": alerts // 2})
    received = Counter(m["message_id"] for m in mailbox.messages())
    assert set(received) == mail
    repeats = sum(n - 1 for n in received.values())
    assert repeats <= PARALLEL, received.most_common(3)  # at most those the server took as it died
    assert set(gateway.delivered) == sms
    print(f"\nkilled the SMTP server once: {repeats} e-mail sent again, same Message-ID")
