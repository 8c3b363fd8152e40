"""A meter's hotspot: press the button, type a token, and the meter answers like its display would."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta

import pytest

from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.kernel.units import format_rupees
from bijli.meter.hotspot import LOCKOUT_S, hotspot_app
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import tokens
from tests.support.keys import SITE

with warnings.catch_warnings():
    # Starlette asks for `httpx2` and warns when it finds only `httpx`; which one the dev
    # dependencies name is not these tests' choice, so the warning is not an error here.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SECRET = SITE
START = ist_midnight(date(2026, 3, 1))
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
CLOSED_TEXT = "hotspot closed — press the button on the meter"


class SimTime:
    """The simulation's clock, moved by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@pytest.fixture
def twin() -> FleetTwin:
    twin = FleetTwin(build_city(4), [], SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0))
    for n in range(3):
        twin.close_interval(START + n * INTERVAL)
    return twin


@pytest.fixture
def clock(twin: FleetTwin) -> SimTime:
    return SimTime(twin.now)


@pytest.fixture
def client(twin: FleetTwin, clock: SimTime) -> TestClient:
    return TestClient(hotspot_app(twin, clock))


@pytest.fixture
def meter(twin: FleetTwin) -> str:
    return twin.meter_ids[0]


def token(meter_id: str, clock: SimTime, minutes_ago: int = 5, paise: int = 50_000) -> str:
    return tokens.issue_token(
        SECRET.token_key(meter_id), meter_id, paise, clock.moment() - timedelta(minutes=minutes_ago)
    ).digits


def enter(client: TestClient, meter_id: str, digits: str) -> tuple[int, dict[str, object]]:
    reply = client.post(f"/meters/{meter_id}/hotspot/token", json={"token": digits})
    return reply.status_code, reply.json()


def press(client: TestClient, meter_id: str) -> dict[str, object]:
    reply = client.post(f"/meters/{meter_id}/button")
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_a_closed_hotspot_takes_no_token(client: TestClient, twin: FleetTwin, clock: SimTime, meter: str) -> None:
    before = int(twin.balance[twin.index[meter]])

    status, body = enter(client, meter, token(meter, clock))

    assert status == 409
    assert body["status"] == "closed" and body["message"] == CLOSED_TEXT
    assert int(twin.balance[twin.index[meter]]) == before


def test_pressing_the_button_opens_the_hotspot_for_the_window(client: TestClient, clock: SimTime, meter: str) -> None:
    body = press(client, meter)

    assert body["meter_id"] == meter and body["window_s"] == 300
    opened_until = datetime.fromisoformat(str(body["open_until"]))
    assert opened_until == clock.moment().replace(microsecond=0) + timedelta(seconds=300)


def test_an_accepted_token_adds_exactly_its_amount(
    client: TestClient, twin: FleetTwin, clock: SimTime, meter: str
) -> None:
    before = int(twin.balance[twin.index[meter]])
    press(client, meter)

    status, body = enter(client, meter, tokens.group(token(meter, clock)))

    assert status == 200
    assert (body["code"], body["status"], body["amount"]) == (0, "accepted", "500.00")
    assert int(twin.balance[twin.index[meter]]) == before + 50_000
    assert body["balance"] == format_rupees(before + 50_000)
    assert "500.00" in str(body["message"]) and "500.00" in str(body["message_hi"])


def test_a_replayed_token_is_refused_as_used(client: TestClient, twin: FleetTwin, clock: SimTime, meter: str) -> None:
    digits = token(meter, clock)
    press(client, meter)
    enter(client, meter, digits)
    after_first = int(twin.balance[twin.index[meter]])

    status, body = enter(client, meter, digits)

    assert status == 200
    assert (body["code"], body["status"], body["amount"]) == (3, "used", None)
    assert int(twin.balance[twin.index[meter]]) == after_first


def test_a_token_for_another_meter_is_refused_as_authentication(
    client: TestClient, twin: FleetTwin, clock: SimTime, meter: str
) -> None:
    before = int(twin.balance[twin.index[meter]])
    press(client, meter)

    status, body = enter(client, meter, token(twin.meter_ids[1], clock))

    assert status == 200
    assert (body["code"], body["status"]) == (2, "authentication")
    assert int(twin.balance[twin.index[meter]]) == before


def test_five_wrong_tokens_lock_token_entry_for_ten_minutes(
    client: TestClient, twin: FleetTwin, clock: SimTime, meter: str
) -> None:
    good = token(meter, clock)
    before = int(twin.balance[twin.index[meter]])
    press(client, meter)
    answers = [enter(client, meter, wrong) for wrong in ["1234", token(twin.meter_ids[1], clock)] * 2 + ["9" * 20]]
    assert [(s, b["status"]) for s, b in answers] == [
        (200, "format"),
        (200, "authentication"),
        (200, "format"),
        (200, "authentication"),
        (200, "format"),
    ]
    locked_at = clock.t

    status, body = enter(client, meter, good)
    assert status == 429 and body["status"] == "locked"
    assert datetime.fromisoformat(str(body["until"])).timestamp() == int(locked_at + LOCKOUT_S)

    clock.t = locked_at + LOCKOUT_S - 60
    press(client, meter)
    assert enter(client, meter, good)[0] == 429
    assert int(twin.balance[twin.index[meter]]) == before

    clock.t = locked_at + LOCKOUT_S
    status, body = enter(client, meter, good)
    assert (status, body["status"]) == (200, "accepted")
    assert int(twin.balance[twin.index[meter]]) == before + 50_000


def test_an_old_receipt_typed_between_guesses_does_not_reset_the_count(
    client: TestClient, twin: FleetTwin, clock: SimTime, meter: str
) -> None:
    receipt = token(meter, clock, minutes_ago=20)
    press(client, meter)
    assert enter(client, meter, receipt)[1]["status"] == "accepted"

    for _ in range(4):
        enter(client, meter, "1" * 20)
    assert enter(client, meter, receipt)[1]["status"] == "used"
    enter(client, meter, "1" * 20)

    assert enter(client, meter, token(meter, clock))[0] == 429


def test_an_accepted_token_resets_the_count(client: TestClient, twin: FleetTwin, clock: SimTime, meter: str) -> None:
    press(client, meter)
    for _ in range(4):
        enter(client, meter, "1" * 20)
    assert enter(client, meter, token(meter, clock, minutes_ago=6))[1]["status"] == "accepted"
    for _ in range(4):
        enter(client, meter, "1" * 20)

    status, body = enter(client, meter, token(meter, clock, minutes_ago=5))

    assert (status, body["status"]) == (200, "accepted")


def test_the_hotspot_closes_when_its_window_is_over(client: TestClient, clock: SimTime, meter: str) -> None:
    opened_until = datetime.fromisoformat(str(press(client, meter)["open_until"])).timestamp()

    clock.t = opened_until + 1

    page = client.get(f"/meters/{meter}/hotspot")
    assert page.status_code == 403 and CLOSED_TEXT in page.text
    assert enter(client, meter, token(meter, clock))[0] == 409


def test_the_page_takes_a_typed_token_and_shows_the_answer(
    client: TestClient, twin: FleetTwin, clock: SimTime, meter: str
) -> None:
    closed = client.get(f"/meters/{meter}/hotspot")
    assert closed.status_code == 403 and CLOSED_TEXT in closed.text and "<form" not in closed.text
    press(client, meter)

    page = client.get(f"/meters/{meter}/hotspot")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert meter in page.text and 'name="token"' in page.text
    assert "<script" not in page.text and "<link" not in page.text and "http" not in page.text

    answered = client.post(f"/meters/{meter}/hotspot/token", data={"token": tokens.group(token(meter, clock))})
    assert answered.status_code == 200 and answered.headers["content-type"].startswith("text/html")
    assert "Token accepted: ₹500.00 added" in answered.text and "टोकन स्वीकार" in answered.text
    assert format_rupees(int(twin.balance[twin.index[meter]])) in answered.text

    again = client.post(f"/meters/{meter}/hotspot/token", data={"token": "0000 0000"})
    assert again.status_code == 200 and "That is not a token" in again.text


def test_a_locked_page_hides_the_form(client: TestClient, clock: SimTime, meter: str) -> None:
    press(client, meter)
    for _ in range(5):
        client.post(f"/meters/{meter}/hotspot/token", data={"token": "1" * 20})

    page = client.get(f"/meters/{meter}/hotspot")

    assert page.status_code == 429 and "locked until" in page.text and "<form" not in page.text


def test_an_unknown_meter_has_no_hotspot(client: TestClient, clock: SimTime) -> None:
    assert client.post("/meters/NOSUCH0001/button").status_code == 404
    assert client.get("/meters/NOSUCH0001/hotspot").status_code == 404
    assert enter(client, "NOSUCH0001", "1" * 20)[0] == 404


def test_a_request_without_a_token_is_refused_before_the_meter_sees_it(client: TestClient, meter: str) -> None:
    press(client, meter)

    assert client.post(f"/meters/{meter}/hotspot/token", json={"digits": "1"}).status_code == 422
    assert client.post(f"/meters/{meter}/hotspot/token", content=b"not json").status_code == 422


def test_health_answers(client: TestClient) -> None:
    reply = client.get("/health")

    assert reply.status_code == 200 and reply.json()["status"] == "ok" and reply.json()["meters"] == 4


def test_the_page_brings_its_own_devanagari_for_every_hindi_letter_it_can_show(client: TestClient, meter: str) -> None:
    """A phone without a Hindi font still reads the page: the hotspot serves the font itself."""
    from io import BytesIO
    from pathlib import Path

    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    import bijli.meter.hotspot as hotspot

    client.post(f"/meters/{meter}/button")
    page = client.get(f"/meters/{meter}/hotspot").text
    assert f'src:url("{hotspot.FONT_PATH}") format("woff")' in page and '"hotspot Devanagari"' in page
    font = client.get(hotspot.FONT_PATH)
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff"
    assert len(font.content) < 40_000
    covered = set(TTFont(BytesIO(font.content)).getBestCmap())
    source = Path(hotspot.__file__).read_text(encoding="utf-8")  # every text the page can show
    missing = sorted({c for c in source + page if "\u0900" <= c <= "\u097f" and ord(c) not in covered})
    assert not missing, f"run src/bijli/meter/fonts/make_subset.py: the font lacks {''.join(missing)}"
