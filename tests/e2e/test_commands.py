"""A disconnect sent to an offline meter is carried out when it returns, and shows as
confirmed; the audit shows who asked and why (issue 4, "Done when").

Production profile: `bijli serve` (head-end and command dispatcher) on Mosquitto and
PostgreSQL; the meters are twins in this process, each on its own MQTT connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bijli.access.model import Role
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import epoch
from tests.conftest import wait_until
from tests.support.access import log_in_staff
from tests.support.live_fleet import LiveFleet, live_platform, site_twin

CITY = build_city(4)
OFFLINE, ONLINE = "KNCL0000001", "KNMR0000001"  # Civil Lines loses both networks; Mall Road keeps them
CIVIL_LINES = "Civil Lines"


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_a_disconnect_for_an_offline_meter_is_carried_out_when_it_returns_and_confirmed(
    pg_url: str, mosquitto: str, topic_root: str, data_dir: Path, bijli_server: Callable[[list[str]], str]
) -> None:
    platform = live_platform(data_dir, CITY, pg_url, mosquitto, topic_root)
    base = bijli_server(
        ["--database-url", pg_url, "--broker-url", mosquitto, "--topic-root", topic_root, "--data-dir", str(data_dir)]
    )
    api = httpx.Client(base_url=f"{base}/api/v1", timeout=10)
    log_in_staff(api, platform, "sharma", Role.OPERATOR, root=base)  # an operator, through /login

    now = time.time()
    twin = site_twin(platform, CITY, topic_root, now)
    for operator in twin.options.operators:  # Civil Lines has no network at all from the start
        twin.network(operator, CIVIL_LINES, False, now)
    fleet = LiveFleet(twin, mosquitto, topic_root)
    try:
        fleet.do(lambda tw: tw.broker(True, time.time()))  # the meters that can, connect and report
        wait_until(lambda: api.get(f"/meters/{ONLINE}").json()["online"], 30, f"{ONLINE} online")
        assert api.get(f"/meters/{OFFLINE}").json()["online"] is False

        asked = api.post(
            f"/meters/{OFFLINE}/commands",
            json={
                "action": "relay_disconnect",
                "reason": "arrears of Rs 4,210 after three notices",
                "idempotency_key": f"arrears-{OFFLINE}-2026-11",
            },
        )
        assert asked.status_code == 202, asked.text
        command_id = asked.json()["command_id"]

        def status(cid: str) -> str:
            return str(api.get(f"/commands/{cid}").json()["status"])

        # A command asked later, of a meter that is online, is carried out meanwhile: the
        # dispatcher has been round since, and still holds the disconnect back.
        probe = api.post(f"/meters/{ONLINE}/commands", json={"action": "read_now", "reason": "probe"})
        wait_until(lambda: status(probe.json()["command_id"]) == "acknowledged", 30, "the online meter's read")
        waiting = api.get(f"/commands/{command_id}").json()
        assert (waiting["status"], waiting["attempts"], waiting["sent_at"]) == ("queued", 0, None)
        assert fleet.lost_commands == []
        assert fleet.do(lambda tw: bool(tw.relay[tw.index[OFFLINE]]))

        def networks_return(tw: FleetTwin) -> None:
            t = time.time()
            for operator in tw.options.operators:
                tw.network(operator, CIVIL_LINES, True, t)
            tw.advance(t + tw.options.timers.register_s)  # registered: status and backlog go out

        fleet.do(networks_return)
        wait_until(lambda: status(command_id) == "confirmed", 60, "the disconnect confirmed")

        done = api.get(f"/commands/{command_id}").json()
        assert [h["status"] for h in done["history"]] == ["queued", "sent", "acknowledged", "confirmed"]
        # The audit trail names the operator who asked: who was signed in, not what a body said.
        assert done["history"][0]["detail"] == "requested by sharma: arrears of Rs 4,210 after three notices"
        assert (done["requested_by"], done["reason"]) == ("sharma", "arrears of Rs 4,210 after three notices")
        assert (done["attempts"], done["settled"], done["detail"]) == (1, True, "event 301 reported by the meter")
        moments = [done[k] for k in ("created_at", "sent_at", "acknowledged_at", "confirmed_at")]
        assert None not in moments and moments == sorted(moments)
        assert fleet.lost_commands == []
        assert not fleet.do(lambda tw: bool(tw.relay[tw.index[OFFLINE]]))

        with platform.store.engine.connect() as conn:
            switched = conn.execute(
                sa.text("SELECT occurred_at FROM events WHERE meter_id = :m AND code = 301"), {"m": OFFLINE}
            ).scalars()
            assert [epoch(at) >= epoch(datetime.fromisoformat(done["sent_at"])) for at in switched] == [True]

        # The meter says so itself when asked, and asking twice with the same key does nothing new.
        read = api.post(f"/meters/{OFFLINE}/commands", json={"action": "read_now", "reason": "check"})
        wait_until(lambda: status(read.json()["command_id"]) == "acknowledged", 30, "the returned meter's read")
        wait_until(lambda: api.get(f"/meters/{OFFLINE}").json()["relay"] == "disconnected", 30, "relay reported open")
        again = api.post(
            f"/meters/{OFFLINE}/commands",
            json={
                "action": "relay_disconnect",
                "reason": "arrears of Rs 4,210 after three notices",
                "idempotency_key": f"arrears-{OFFLINE}-2026-11",
            },
        )
        assert (again.status_code, again.json()["command_id"]) == (200, command_id)
    finally:
        fleet.close()
        api.close()
        platform.store.dispose()
