"""A consumer pays through the development gateway and the credit reaches the meter: pushed
when the meter is online, typed at its hotspot when it is not; the API's balance and the
meter's agree, and a duplicated webhook and a replayed token change nothing (issue 12,
"Done when").

Production profile: `bijli serve` (head-end, dispatcher, reconciliation) on Mosquitto and
PostgreSQL; the meters are twins in this process, each on its own MQTT connection; payments
go through `bijli pay --url` to the served webhook.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import INTERVAL_S
from bijli.protocol.tokens import TokenStatus
from tests.conftest import api_token, run_bijli, wait_until
from tests.support.live_fleet import LiveFleet, live_platform, site_twin

CITY = build_city(4)
OFFLINE, ONLINE = CITY[0], CITY[1]  # Civil Lines loses both networks; Mall Road keeps them
assert (OFFLINE.area, ONLINE.area) == ("Civil Lines", "Mall Road")
WITHIN_ONE_INTERVAL_S = 150
"""The test takes well under this; its meters start at least this long before their interval ends."""


def _paise(rupees: str) -> int:
    return int(Decimal(rupees) * 100)


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_a_payment_reaches_the_meter_once_pushed_or_typed_and_the_balances_agree(
    pg_url: str, mosquitto: str, topic_root: str, data_dir: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    platform = live_platform(data_dir, CITY, pg_url, mosquitto, topic_root)
    store_args = ["--database-url", pg_url, "--data-dir", str(data_dir)]
    base = bijli_server([*store_args, "--broker-url", mosquitto, "--topic-root", topic_root])
    api = httpx.Client(base_url=f"{base}/api/v1", timeout=10, headers=api_token(store_args, role="admin"))

    # The meters charge their mirrors as each 15 minutes closes, the ledger once the head-end
    # has settled the readings: the exact comparisons below are made within one interval of the
    # meters' clocks. When less than WITHIN_ONE_INTERVAL_S is left of it, those clocks are set
    # back to leave that much, instead of waiting for the next (the head-end takes a meter's
    # clock behind its own, and a meter takes a token issued up to ten minutes ahead of it).
    behind = max(0.0, WITHIN_ONE_INTERVAL_S - (INTERVAL_S - time.time() % INTERVAL_S))

    def meters_now() -> float:
        return time.time() - behind

    now = meters_now()
    twin = site_twin(platform, CITY, topic_root, now)
    for operator in twin.options.operators:
        twin.network(operator, OFFLINE.area, False, now)
    fleet = LiveFleet(twin, mosquitto, topic_root, meters_now)

    def api_balance(meter_id: str) -> int:
        return _paise(api.get(f"/meters/{meter_id}/balance").json()["balance"])

    def meter_balance(meter_id: str) -> int:
        return fleet.do(lambda tw: tw.balance_paise(meter_id))

    def agree(meter_id: str) -> bool:
        return api_balance(meter_id) == meter_balance(meter_id)

    def pay(account_no: str, rupees: str, *more: str) -> dict[str, Any]:
        out = run_bijli(["pay", account_no, rupees, "--url", base, "--data-dir", str(data_dir), *more])
        answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return answer

    def push_of(meter_id: str) -> str:
        commands = api.get(f"/meters/{meter_id}/commands").json()["items"]
        return str(next(c["command_id"] for c in commands if c["action"] == "credit"))

    def status_of(command_id: str) -> str:
        return str(api.get(f"/commands/{command_id}").json()["status"])

    def history_of(command_id: str) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = api.get(f"/commands/{command_id}").json()["history"]
        return history

    def token_states() -> dict[str, str]:
        with platform.store.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT payment_id, status FROM tokens_issued")).all())  # type: ignore[arg-type]

    try:
        fleet.do(lambda tw: tw.broker(True, meters_now()))
        wait_until(lambda: api.get(f"/meters/{ONLINE.meter_id}").json()["online"], 30, "the online meter reports")
        assert agree(ONLINE.meter_id) and agree(OFFLINE.meter_id)

        # Online: the credit is pushed, and the meter takes it once.
        before = meter_balance(ONLINE.meter_id)
        paid = pay(ONLINE.account_no, "500")
        assert (paid["status"], paid["applied"]) == ("captured", True)
        (token,) = paid["tokens"]
        assert (token["meter_id"], token["amount_paise"]) == (ONLINE.meter_id, 50_000)
        pushed = push_of(ONLINE.meter_id)
        wait_until(lambda: status_of(pushed) == "confirmed", 60, "the meter's done for the pushed credit")
        assert any(h["detail"].endswith(f"token {token['token_id']} taken") for h in history_of(pushed))
        wait_until(lambda: agree(ONLINE.meter_id), 60, "the online meter's balance and the API's to agree")
        assert before < meter_balance(ONLINE.meter_id)
        wait_until(lambda: token_states().get(paid["payment_id"]) == "redeemed", 30, "the push's redemption matched")

        # The gateway sends the same webhook again: nothing changes.
        ledger_before = api_balance(ONLINE.meter_id)
        again = pay(ONLINE.account_no, "500", "--payment-id", paid["payment_id"])
        assert (again["applied"], [t["token_id"] for t in again["tokens"]]) == (False, [token["token_id"]])
        assert api_balance(ONLINE.meter_id) == ledger_before
        assert agree(ONLINE.meter_id)

        # Offline: the push waits; the consumer types the token at the hotspot.
        offline_before = meter_balance(OFFLINE.meter_id)
        typed = pay(OFFLINE.account_no, "200")
        (offline_token,) = typed["tokens"]
        assert api_balance(OFFLINE.meter_id) == offline_before + 20_000  # the ledger took it at the payment
        assert meter_balance(OFFLINE.meter_id) == offline_before  # the meter has not heard of it yet

        def at_hotspot(tw: FleetTwin) -> int:
            t = meters_now()
            tw.press_button(OFFLINE.meter_id, t)
            return int(tw.redeem(OFFLINE.meter_id, offline_token["token"], t + 1).status)

        assert fleet.do(at_hotspot) == TokenStatus.ACCEPTED
        assert meter_balance(OFFLINE.meter_id) == offline_before + 20_000
        assert agree(OFFLINE.meter_id)
        assert fleet.do(at_hotspot) == TokenStatus.USED  # typed again: refused, nothing changes
        assert meter_balance(OFFLINE.meter_id) == offline_before + 20_000

        # The network returns: the queued push reaches the meter, which has the token already.
        def networks_return(tw: FleetTwin) -> None:
            t = meters_now()
            for operator in tw.options.operators:
                tw.network(operator, OFFLINE.area, True, t)
            tw.advance(t + tw.options.timers.register_s)

        fleet.do(networks_return)
        wait_until(lambda: token_states().get(typed["payment_id"]) == "redeemed", 60, "the typed token reported")
        push = push_of(OFFLINE.meter_id)
        wait_until(lambda: status_of(push) == "confirmed", 60, "the queued push answered")
        assert any(h["detail"].endswith(f"token {offline_token['token_id']} already taken") for h in history_of(push))
        wait_until(lambda: agree(OFFLINE.meter_id) and agree(ONLINE.meter_id), 60, "both balances to agree")

        # Nothing was left unexplained: no redemption without its token, no drifting mirror.
        def open_items() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = api.get("/reconciliation").json()["items"]
            return items

        def status_counters() -> dict[str, tuple[int, int]]:  # (newest status, status compared)
            with platform.store.engine.connect() as conn:
                found = conn.execute(
                    sa.text(
                        "SELECT s.meter_id, s.status_fc, coalesce(c.status_fc, 0) FROM meter_state s "
                        "LEFT JOIN mirror_checks c USING (meter_id) WHERE s.meter_id IN (:a, :b)"
                    ),
                    {"a": OFFLINE.meter_id, "b": ONLINE.meter_id},
                ).all()
            return {m: (int(fc), int(checked)) for m, fc, checked in found}

        sent_before = {m: fc for m, (fc, _) in status_counters().items()}
        fleet.do(lambda tw: [tw.send_status(tw.index[m.meter_id], meters_now()) for m in (OFFLINE, ONLINE)])
        wait_until(
            lambda: all(fc > sent_before[m] and checked == fc for m, (fc, checked) in status_counters().items()),
            30,
            "a reconciliation round over the fresh status reports",
        )
        assert open_items() == []
    finally:
        fleet.close()
        api.close()
        platform.store.dispose()
