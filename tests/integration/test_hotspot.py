"""Over real HTTP: `bijli meter` presses a twin meter's button and types a token, as a consumer would.

A hotspot recharge works while the meter has no network, and the redemption reaches the
server once the network is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import uvicorn
from typer.testing import CliRunner

from bijli.entrypoints.cli.meter import EXIT_REFUSED
from bijli.entrypoints.cli.meter import app as meter_app
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import ist_midnight
from bijli.meter.hotspot import hotspot_app
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import tokens, topics
from bijli.protocol.codec import open_frame
from bijli.protocol.frames import TokenFrame
from tests.conftest import free_port
from tests.support.keys import SITE

SECRET = SITE
START = ist_midnight(date(2026, 3, 1))
LMV1 = builtin_tariffs()["UP-LMV1-DU"]

runner = CliRunner()


class SimTime:
    """The simulation's clock, moved by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass(frozen=True, slots=True)
class Hotspots:
    twin: FleetTwin
    clock: SimTime
    url: str

    def token(self, meter_id: str, paise: int = 50_000) -> tokens.Token:
        issued = datetime.fromtimestamp(self.clock.t, UTC) - timedelta(minutes=5)
        return tokens.issue_token(SECRET.token_key(meter_id), meter_id, paise, issued)

    def balance(self, meter_id: str) -> int:
        return int(self.twin.balance[self.twin.index[meter_id]])


@pytest.fixture
def hotspots() -> Iterator[Hotspots]:
    """A twin of four meters, an interval old, its hotspots served by uvicorn on a loopback port."""
    twin = FleetTwin(build_city(4), [], SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    twin.close_interval(START)
    twin.take_outgoing()
    clock = SimTime(twin.now)
    port = free_port()
    config = uvicorn.Config(
        hotspot_app(twin, clock), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    # Server.run makes its own event loop in this thread; signal handlers stay the main thread's.
    thread = threading.Thread(target=server.run, name="hotspot-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the hotspot server did not start"
        time.sleep(0.02)
    try:
        yield Hotspots(twin, clock, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def meter_cli(args: list[str], url: str) -> tuple[int, str]:
    result = runner.invoke(meter_app, [*args, "--twin-url", url])
    return result.exit_code, result.output


def token_reports(sent: list[Outgoing], meter_id: str) -> list[tuple[int, int]]:
    """The (token id, amount) of every redemption the meter sent, checked against its key."""
    found = []
    for out in sent:
        if out.topic != topics.uplink("bijli", meter_id, "token"):
            continue
        frame = open_frame(SECRET.frame_key(meter_id), meter_id, out.payload)
        assert isinstance(frame, TokenFrame), frame
        found += [(r.token_id, r.amount_paise) for r in frame.redemptions]
    return found


def test_a_recharge_on_an_online_meter_is_reported_at_once(hotspots: Hotspots) -> None:
    meter = hotspots.twin.meter_ids[0]
    before = hotspots.balance(meter)
    issued = hotspots.token(meter)

    code, output = meter_cli(["press-hotspot", meter], hotspots.url)
    assert code == 0, output
    assert "open until" in output and "IST" in output

    code, output = meter_cli(["redeem", meter, *issued.grouped().split()], hotspots.url)
    assert code == 0, output
    assert "accepted" in output and "500.00" in output

    assert hotspots.balance(meter) == before + 50_000
    assert token_reports(hotspots.twin.take_outgoing(), meter) == [(issued.token_id, 50_000)]


def test_a_recharge_without_network_reaches_the_server_once_the_network_is_back(hotspots: Hotspots) -> None:
    twin, meter = hotspots.twin, hotspots.twin.meter_ids[1]
    before = hotspots.balance(meter)
    issued = hotspots.token(meter)
    cut = twin.now + 60
    twin.network("Jio", None, False, cut)
    twin.network("Airtel", None, False, cut)
    hotspots.clock.t = cut + 120
    twin.advance(hotspots.clock.t)
    assert not twin.online[twin.index[meter]]

    assert meter_cli(["press-hotspot", meter], hotspots.url)[0] == 0
    code, output = meter_cli(["redeem", meter, issued.digits], hotspots.url)
    assert code == 0, output

    assert hotspots.balance(meter) == before + 50_000
    assert token_reports(twin.take_outgoing(), meter) == []
    kept = twin.backlog[twin.index[meter]].redemptions
    assert [(r.token_id, r.amount_paise) for r in kept] == [(issued.token_id, 50_000)]

    back = hotspots.clock.t + 600
    twin.network("Airtel", None, True, back)
    twin.advance(back + 60)

    assert token_reports(twin.take_outgoing(), meter) == [(issued.token_id, 50_000)]
    assert twin.index[meter] not in twin.backlog


def test_a_refused_token_exits_3_with_the_meters_answer(hotspots: Hotspots) -> None:
    meter, other = hotspots.twin.meter_ids[:2]
    before = hotspots.balance(meter)
    meter_cli(["press-hotspot", meter], hotspots.url)

    code, output = meter_cli(["redeem", meter, hotspots.token(other).digits], hotspots.url)

    assert code == EXIT_REFUSED
    assert "authentication" in output and "not for this meter" in output
    assert hotspots.balance(meter) == before


def test_a_closed_hotspot_exits_1_and_says_to_press_the_button(hotspots: Hotspots) -> None:
    meter = hotspots.twin.meter_ids[0]

    code, output = meter_cli(["redeem", meter, hotspots.token(meter).digits], hotspots.url)

    assert code == 1 and "press-hotspot" in output


def test_an_unknown_meter_exits_1(hotspots: Hotspots) -> None:
    code, output = meter_cli(["press-hotspot", "NOSUCH0001"], hotspots.url)

    assert code == 1 and "no meter NOSUCH0001" in output


def test_the_twin_url_can_come_from_the_environment(hotspots: Hotspots) -> None:
    result = runner.invoke(
        meter_app, ["press-hotspot", hotspots.twin.meter_ids[0]], env={"BIJLI_TWIN_URL": hotspots.url}
    )

    assert result.exit_code == 0, result.output


def test_an_unreachable_twin_exits_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, output = meter_cli(["press-hotspot", "KNCL0000001"], url)

    assert code == 1 and "cannot reach the meter twin" in output
